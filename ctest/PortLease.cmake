# Distributed under the same terms as portlease.

#[=======================================================================[.rst:
PortLease
---------

.. versionadded:: 0.1

Give CTest tests leased, non-conflicting ports from ``portleased``.

Parallel test runs on one host (``ctest -j``, parallel CI jobs) that start
services on fixed ports collide.  This module declares CTest *fixtures* whose
setup test leases a block of ports and whose cleanup test releases it; the
tests that require a fixture run with the lease's variables (``REDIS_PORT``,
``PORTLEASE_LEASE_ID``, ...) in their environment.

Load it after ``find_package(portlease)``, which puts this module on
:variable:`CMAKE_MODULE_PATH`:

.. code-block:: cmake

  find_package(portlease REQUIRED)
  include(PortLease)

Commands
^^^^^^^^

.. command:: portlease_add_fixture

  Declare a fixture that holds one lease::

    portlease_add_fixture(NAME <name>
                          (PROFILE <file> | PORTS <port>... | COUNT <n>)
                          [TTL <seconds>]
                          [WAIT <seconds>]
                          [RENDER <template>:<output>...]
                          [NO_REUSE])

  Adds two tests:

  ``<name>_lease_setup``
    :prop_test:`FIXTURES_SETUP` ``<name>``.  Runs ``lease-run --detach``: leases
    the ports (a profile such as ``ci/m2/ports.json``, port names, or a count),
    renders the ``RENDER`` templates, writes the lease's variables to
    ``${CMAKE_CURRENT_BINARY_DIR}/portlease/<name>.env`` and returns, leaving
    a detached *holder* process that keeps the lease alive (Hold stream and
    renewals) while the ``ctest`` process that started it runs.

  ``<name>_lease_cleanup``
    :prop_test:`FIXTURES_CLEANUP` ``<name>``.  Runs
    ``lease-run --release-env-file``: ends the holder, which releases the
    lease, and removes the env file.

  CTest skips cleanup tests after ``--stop-on-failure`` and when it is
  interrupted.  The lease does not leak then: the holder watches the ``ctest``
  process (its pid and its start time in ``/proc``, so a reused pid does not
  count) and releases the lease within a fraction of a second after ``ctest``
  exits, or after ``TTL`` seconds in any case (default 7200).  If the holder
  itself is killed, the server reclaims the lease within its Hold grace.

  ``WAIT`` queues for up to that many seconds when the pool is busy (default:
  fail at once).

  Unless ``NO_REUSE`` is given, a setup test that finds ``PORTLEASE_LEASE_ID``
  and every port variable of the fixture already in its environment, as under
  ``lease-run --profile m2.json -- ctest -j8``, writes those to the env file
  instead of leasing, and the cleanup test does not release that lease.

  Sets ``PORTLEASE_<name>_ENV_FILE`` in the calling scope to the env file's
  path.

.. command:: portlease_fixture_test

  Add a test that requires a fixture and runs with its variables::

    portlease_fixture_test(NAME <test> FIXTURE <name>
                           COMMAND <command> [<arg>...]
                           [WORKING_DIRECTORY <dir>])

  Like :command:`add_test`, with the command run as
  ``lease-exec --env-file <env file> -- <command>...`` and the test properties
  :prop_test:`FIXTURES_REQUIRED` ``<name>`` and
  ``ENVIRONMENT PORTLEASE_ENV_FILE=<env file>``.  The command may name an
  executable target.

.. command:: portlease_use_fixture

  Make existing tests require a fixture::

    portlease_use_fixture(TESTS <test>... FIXTURE <name>)

  Adds :prop_test:`FIXTURES_REQUIRED` ``<name>`` and
  ``PORTLEASE_ENV_FILE=<env file>`` to their environment.  Their commands are
  not wrapped: they read the env file themselves, for example through
  ``portlease::LeaseEnvironment`` (``portlease/gtest_environment.h``), or are
  wrapped by the caller in ``lease-exec``.

.. command:: portlease_gtest_discover_tests

  :command:`gtest_discover_tests` for a GoogleTest program whose tests use a
  fixture's lease, or a block of their own::

    portlease_gtest_discover_tests(<target>
                                   (FIXTURE <name> | RESOURCE_GROUP)
                                   [PROPERTIES <name> <value>...]
                                   [<gtest_discover_tests options>...])

  Sets the target's :prop_tgt:`CROSSCOMPILING_EMULATOR` to ``lease-exec``, so
  that each discovered test runs through it.  At discovery time no lease
  exists yet; ``lease-exec`` passes ``--gtest_list_tests`` runs straight
  through.  With ``FIXTURE``, each test gets :prop_test:`FIXTURES_REQUIRED`
  and ``PORTLEASE_ENV_FILE``; with ``RESOURCE_GROUP`` it gets
  :prop_test:`RESOURCE_GROUPS` ``portlease:1`` (see below).

  Do not use it on a target that needs another emulator.  CMake 3.28 and
  newer apply the emulator to :command:`add_test` only when cross compiling
  (policy ``CMP0158``); :command:`gtest_discover_tests` still uses it.

.. command:: portlease_resource_test

  Add a test that gets a port block of its own from CTest's resource
  allocation::

    portlease_resource_test(NAME <test> COMMAND <command> [<arg>...]
                            [WORKING_DIRECTORY <dir>])

  The test has :prop_test:`RESOURCE_GROUPS` ``portlease:1`` and runs as
  ``lease-exec --from-resource-group -- <command>...``.  Run such tests with
  blocks leased up front::

    lease-run --profile ports.json --ctest-resource-spec res.json --blocks 8 \
      -- ctest -j8 --resource-spec-file res.json

  ``lease-run`` leases 8 blocks and writes ``res.json``; CTest hands each
  running test one block (``CTEST_RESOURCE_GROUP_0_PORTLEASE``), and
  ``lease-exec`` maps it back to the block's named port variables.  No test
  waits on a fixture and no two running tests share a port.

Variables
^^^^^^^^^

``PORTLEASE_LEASE_RUN_EXECUTABLE``, ``PORTLEASE_LEASE_EXEC_EXECUTABLE``
  The ``lease-run`` and ``lease-exec`` programs.  The package configuration
  sets them to the installed ones; otherwise they are searched on ``PATH``.

The server is found at test time as ``lease-run`` finds it:
``PORTLEASE_ADDR``, the system socket, or a private per-user ``portleased``
started on first use.

Example
^^^^^^^

.. code-block:: cmake

  find_package(portlease REQUIRED)
  include(PortLease)

  portlease_add_fixture(NAME m2 PROFILE ${CMAKE_SOURCE_DIR}/ci/m2/ports.json)
  portlease_fixture_test(NAME m2_stack FIXTURE m2
                         COMMAND ${CMAKE_SOURCE_DIR}/tests/m2_smoke.sh)

  add_executable(redis_test redis_test.cc)
  target_link_libraries(redis_test PRIVATE portlease::gtest_env GTest::gtest)
  portlease_gtest_discover_tests(redis_test FIXTURE m2)
#]=======================================================================]

include_guard(GLOBAL)

if(NOT PORTLEASE_LEASE_RUN_EXECUTABLE)
  find_program(PORTLEASE_LEASE_RUN_EXECUTABLE lease-run)
endif()
if(NOT PORTLEASE_LEASE_EXEC_EXECUTABLE)
  find_program(PORTLEASE_LEASE_EXEC_EXECUTABLE lease-exec)
endif()

function(_portlease_require_programs)
  foreach(var PORTLEASE_LEASE_RUN_EXECUTABLE PORTLEASE_LEASE_EXEC_EXECUTABLE)
    if(NOT ${var})
      message(FATAL_ERROR "PortLease: ${var} is not set and the program was "
        "not found on PATH (install portlease, or set ${var})")
    endif()
  endforeach()
endfunction()

function(_portlease_env_file name out_var)
  get_property(file GLOBAL PROPERTY _PORTLEASE_FIXTURE_${name}_ENV_FILE)
  if(NOT file)
    message(FATAL_ERROR "PortLease: no fixture named '${name}' (declare it "
      "with portlease_add_fixture first)")
  endif()
  set(${out_var} "${file}" PARENT_SCOPE)
endfunction()

function(portlease_add_fixture)
  cmake_parse_arguments(PARSE_ARGV 0 F "NO_REUSE" "NAME;PROFILE;COUNT;TTL;WAIT"
    "PORTS;RENDER")
  if(F_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "portlease_add_fixture: unknown arguments: ${F_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT F_NAME)
    message(FATAL_ERROR "portlease_add_fixture: NAME is required")
  endif()
  set(request "")
  set(kinds 0)
  if(F_PROFILE)
    get_filename_component(profile "${F_PROFILE}" ABSOLUTE)
    list(APPEND request --profile "${profile}")
    math(EXPR kinds "${kinds} + 1")
  endif()
  if(F_PORTS)
    list(JOIN F_PORTS "," ports)
    list(APPEND request --ports "${ports}")
    math(EXPR kinds "${kinds} + 1")
  endif()
  if(F_COUNT)
    list(APPEND request --count "${F_COUNT}")
    math(EXPR kinds "${kinds} + 1")
  endif()
  if(NOT kinds EQUAL 1)
    message(FATAL_ERROR "portlease_add_fixture(${F_NAME}): give exactly one of PROFILE, PORTS, COUNT")
  endif()
  _portlease_require_programs()
  if(NOT F_TTL)
    set(F_TTL 7200)
  endif()
  set(timeout 120)
  if(F_WAIT)
    list(APPEND request --wait "${F_WAIT}s")
    math(EXPR timeout "${timeout} + ${F_WAIT}")
  endif()
  foreach(render IN LISTS F_RENDER)
    list(APPEND request --render "${render}")
  endforeach()
  if(NOT F_NO_REUSE)
    list(APPEND request --reuse-environment)
  endif()

  set(dir "${CMAKE_CURRENT_BINARY_DIR}/portlease")
  file(MAKE_DIRECTORY "${dir}")
  set(env_file "${dir}/${F_NAME}.env")
  set_property(GLOBAL PROPERTY _PORTLEASE_FIXTURE_${F_NAME}_ENV_FILE "${env_file}")

  add_test(NAME ${F_NAME}_lease_setup
    COMMAND "${PORTLEASE_LEASE_RUN_EXECUTABLE}" ${request}
            --env-file "${env_file}" --detach --watch-ctest
            --max-hold "${F_TTL}s")
  set_tests_properties(${F_NAME}_lease_setup PROPERTIES
    FIXTURES_SETUP ${F_NAME} TIMEOUT ${timeout} LABELS portlease)
  add_test(NAME ${F_NAME}_lease_cleanup
    COMMAND "${PORTLEASE_LEASE_RUN_EXECUTABLE}" --release-env-file "${env_file}")
  set_tests_properties(${F_NAME}_lease_cleanup PROPERTIES
    FIXTURES_CLEANUP ${F_NAME} TIMEOUT 60 LABELS portlease)
  set(PORTLEASE_${F_NAME}_ENV_FILE "${env_file}" PARENT_SCOPE)
endfunction()

function(portlease_use_fixture)
  cmake_parse_arguments(PARSE_ARGV 0 U "" "FIXTURE" "TESTS")
  if(NOT U_FIXTURE OR NOT U_TESTS OR U_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "usage: portlease_use_fixture(TESTS <test>... FIXTURE <name>)")
  endif()
  _portlease_env_file(${U_FIXTURE} env_file)
  foreach(test IN LISTS U_TESTS)
    set_property(TEST ${test} APPEND PROPERTY FIXTURES_REQUIRED ${U_FIXTURE})
    set_property(TEST ${test} APPEND PROPERTY ENVIRONMENT
      "PORTLEASE_ENV_FILE=${env_file}")
  endforeach()
endfunction()

function(portlease_fixture_test)
  cmake_parse_arguments(PARSE_ARGV 0 T "" "NAME;FIXTURE;WORKING_DIRECTORY" "COMMAND")
  if(NOT T_NAME OR NOT T_FIXTURE OR NOT T_COMMAND OR T_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "usage: portlease_fixture_test(NAME <test> FIXTURE <name> COMMAND <command>... [WORKING_DIRECTORY <dir>])")
  endif()
  _portlease_require_programs()
  _portlease_env_file(${T_FIXTURE} env_file)
  list(POP_FRONT T_COMMAND program)
  if(TARGET ${program})
    set(program "$<TARGET_FILE:${program}>")
  endif()
  set(wd "")
  if(T_WORKING_DIRECTORY)
    set(wd WORKING_DIRECTORY "${T_WORKING_DIRECTORY}")
  endif()
  add_test(NAME ${T_NAME}
    COMMAND "${PORTLEASE_LEASE_EXEC_EXECUTABLE}" --env-file "${env_file}" --
            "${program}" ${T_COMMAND}
    ${wd})
  portlease_use_fixture(TESTS ${T_NAME} FIXTURE ${T_FIXTURE})
endfunction()

function(portlease_resource_test)
  cmake_parse_arguments(PARSE_ARGV 0 T "" "NAME;WORKING_DIRECTORY" "COMMAND")
  if(NOT T_NAME OR NOT T_COMMAND OR T_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "usage: portlease_resource_test(NAME <test> COMMAND <command>... [WORKING_DIRECTORY <dir>])")
  endif()
  _portlease_require_programs()
  list(POP_FRONT T_COMMAND program)
  if(TARGET ${program})
    set(program "$<TARGET_FILE:${program}>")
  endif()
  set(wd "")
  if(T_WORKING_DIRECTORY)
    set(wd WORKING_DIRECTORY "${T_WORKING_DIRECTORY}")
  endif()
  add_test(NAME ${T_NAME}
    COMMAND "${PORTLEASE_LEASE_EXEC_EXECUTABLE}" --from-resource-group --
            "${program}" ${T_COMMAND}
    ${wd})
  set_tests_properties(${T_NAME} PROPERTIES RESOURCE_GROUPS "portlease:1")
endfunction()

function(portlease_gtest_discover_tests target)
  cmake_parse_arguments(PARSE_ARGV 1 G "RESOURCE_GROUP" "FIXTURE" "PROPERTIES")
  if(G_FIXTURE AND G_RESOURCE_GROUP OR NOT (G_FIXTURE OR G_RESOURCE_GROUP))
    message(FATAL_ERROR "portlease_gtest_discover_tests(${target}): give one of FIXTURE <name>, RESOURCE_GROUP")
  endif()
  _portlease_require_programs()
  if(NOT COMMAND gtest_discover_tests)
    include(GoogleTest)
  endif()
  set_property(TARGET ${target} PROPERTY
    CROSSCOMPILING_EMULATOR "${PORTLEASE_LEASE_EXEC_EXECUTABLE}")
  set(properties ${G_PROPERTIES})
  if(G_FIXTURE)
    _portlease_env_file(${G_FIXTURE} env_file)
    list(APPEND properties FIXTURES_REQUIRED ${G_FIXTURE}
      ENVIRONMENT "PORTLEASE_ENV_FILE=${env_file}")
  else()
    list(APPEND properties RESOURCE_GROUPS "portlease:1")
  endif()
  gtest_discover_tests(${target} ${G_UNPARSED_ARGUMENTS} PROPERTIES ${properties})
endfunction()
