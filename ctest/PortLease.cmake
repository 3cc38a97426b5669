# Distributed under the same terms as portlease.

#[=======================================================================[.rst:
PortLease
---------

.. versionadded:: 0.1

Give CTest tests leased, non-conflicting ports from ``portleased``.

Parallel test runs on one host (``ctest -j``, parallel CI jobs) that start
services on fixed ports collide.  With this module each test gets ports
that nobody else holds while it runs: by default a lease of its own, taken
when the test starts and released when it ends, however it ends.  Tests
that talk to one stack started for several of them share a *fixture*'s
lease instead.

Load it after ``find_package(portlease)``, which puts this module on
:variable:`CMAKE_MODULE_PATH`.  The module needs only the ``lease-run`` and
``lease-exec`` programs, not the C++ libraries:

.. code-block:: cmake

  find_package(portlease REQUIRED COMPONENTS ctest)
  include(PortLease)

Every command takes the ports the same way, exactly one of:

``PORTS <name>...``
  Named ports: ``redis`` is exported as ``REDIS_PORT`` (upper case, ``-``
  as ``_``).
``COUNT <n>``
  ``n`` unnamed ports: ``PORT_0``, ``PORT_1``, ...
``PROFILE <file>``
  A port profile (JSON or protobuf text) declaring ports, their variables
  and derived variables, such as ``ci/m2/ports.json`` (``REDIS_PORT``,
  ``REDIS_URL``, ...).

and these options:

``UDP``
  The ports must also be free for UDP.
``TTL <seconds>``
  For a test: the lease's time to live (renewed while the test runs;
  default: the server's).  For a fixture: the longest the lease is held
  (default 7200).
``WAIT <seconds>``
  When the pool is busy, queue for up to this long (default 300; ``0``
  fails at once).
``RENDER <template>:<output>...``
  Write each output from its template with ``${VAR}`` replaced by the
  lease's variables before the test starts.

Besides the port variables, a test sees ``PORTLEASE_LEASE_ID``,
``PORTLEASE_PORTS`` (all its ports, space-separated) and
``COMPOSE_PROJECT_NAME`` (unique to the lease), as under ``lease-run``.

Commands
^^^^^^^^

.. command:: portlease_add_test

  Add a test with a lease of its own::

    portlease_add_test(NAME <name> COMMAND <command> [<arg>...]
                       (PORTS <name>... | COUNT <n> | PROFILE <file>)
                       [UDP] [TTL <seconds>] [WAIT <seconds>]
                       [RENDER <template>:<output>...]
                       [WORKING_DIRECTORY <dir>])

  Like :command:`add_test`, with the command run by ``lease-run``: every
  run of the test leases fresh ports, exports them, runs the command and
  releases the lease when it exits.  If the test is killed (a
  :prop_test:`TIMEOUT`, Ctrl-C), the server reclaims the lease when
  ``lease-run``'s keep-alive stream breaks.  The command may name an
  executable target; its arguments reach it exactly as :command:`add_test`
  passes them (``;``, spaces, quotes, generator expressions).  No two tests
  running at once share a port, whatever ``ctest -j`` says.

.. command:: portlease_gtest_discover_tests

  :command:`gtest_discover_tests` with leased ports for every discovered
  test case::

    portlease_gtest_discover_tests(<target>
        (PORTS <name>... | COUNT <n> | PROFILE <file> |
         FIXTURE <fixture>... [SHARED] | RESOURCE_GROUP)
        [UDP] [TTL <seconds>] [WAIT <seconds>]
        [EXTRA_ARGS <arg>...] [WORKING_DIRECTORY <dir>]
        [TEST_PREFIX <prefix>] [TEST_SUFFIX <suffix>]
        [PROPERTIES <name> <value>...] [TEST_LIST <variable>]
        [DISCOVERY_TIMEOUT <seconds>])

  After each build of ``<target>`` its tests are listed
  (``--gtest_list_tests``) and one CTest test is added per test case, run
  as ``<target> --gtest_filter=<Suite>.<Case>``.  With ``PORTS``, ``COUNT``
  or ``PROFILE`` each case runs under ``lease-run`` with a lease of its own,
  as :command:`portlease_add_test`; with ``FIXTURE`` it runs with the
  fixtures' variables, as :command:`portlease_fixture_test`; with
  ``RESOURCE_GROUP`` it takes a block from CTest's resource allocation, as
  :command:`portlease_resource_test`.  Other tests of the target, added
  with :command:`add_test`, are not touched.  A directory may call it for
  several targets, and several times for one target (with different
  ``TEST_PREFIX``\ es).  Disabled cases (``DISABLED_``) are added with
  :prop_test:`DISABLED`; ``GTEST_SKIP()`` marks a test skipped.
  ``TEST_LIST`` names a variable that the CTest script sets to the list of
  tests, as :command:`gtest_discover_tests` does.  ``DISCOVERY_TIMEOUT``
  bounds the listing (default 30).

  In C++, ``portlease::LeaseEnvironment`` (``portlease/gtest_environment.h``,
  target ``portlease::gtest_env``) gives the ports: ``lease->Port("redis")``.

.. command:: portlease_add_fixture

  Declare a fixture: one lease for a group of tests::

    portlease_add_fixture(NAME <name>
                          (PORTS <name>... | COUNT <n> | PROFILE <file>)
                          [UDP] [TTL <seconds>] [WAIT <seconds>]
                          [RENDER <template>:<output>...]
                          [REUSE_OUTER])

  Adds two tests:

  ``<name>_lease_setup``
    :prop_test:`FIXTURES_SETUP` ``<name>``.  Runs ``lease-run --detach``:
    leases the ports, renders the ``RENDER`` templates, writes the lease's
    variables to ``${CMAKE_CURRENT_BINARY_DIR}/portlease/<name>.env`` and
    returns, leaving a detached holder process that keeps the lease alive
    while the ``ctest`` process that started it runs.

  ``<name>_lease_cleanup``
    :prop_test:`FIXTURES_CLEANUP` ``<name>``.  Ends the holder, which
    releases the lease, and removes the env file.

  CTest skips cleanup tests after ``--stop-on-failure`` and when it is
  interrupted.  The lease does not leak then: the holder watches the
  ``ctest`` process (its pid and its start time in ``/proc``, so a reused
  pid does not count) and releases the lease within a fraction of a second
  after ``ctest`` exits, or after ``TTL`` seconds in any case.  If the
  holder itself is killed, the server reclaims the lease.

  A fixture always takes a lease of its own, also under an outer
  ``lease-run -- ctest``.  ``REUSE_OUTER`` makes its setup use the outer
  ``lease-run``'s lease instead, when the environment has
  ``PORTLEASE_LEASE_ID`` and every port variable of the fixture (and lease
  as usual otherwise); the cleanup then releases nothing.  Setting
  ``PORTLEASE_CTEST_REUSE=<name>`` in ``ctest``'s environment does the same
  for the fixture ``<name>`` at test time (``1`` when the project has one
  fixture).  Only one fixture may reuse the outer lease: ``REUSE_OUTER`` on
  two fixtures is an error.  ``NO_REUSE`` is accepted and changes nothing
  (it was the way to turn reuse off when reuse was the default).

  Sets ``PORTLEASE_<name>_ENV_FILE`` in the calling scope to the env file's
  path.

.. command:: portlease_fixture_test

  Add a test that uses the lease of one or more fixtures::

    portlease_fixture_test(NAME <test> FIXTURE <fixture>...
                           [SHARED | SETUP | CLEANUP]
                           COMMAND <command> [<arg>...]
                           [WORKING_DIRECTORY <dir>])

  Like :command:`add_test`, with the command run as ``lease-exec --env-file
  <fixture env file>... -- <command>...`` and
  :prop_test:`FIXTURES_REQUIRED` on every fixture.  The test gets every
  fixture's variables; ``PORTLEASE_LEASE_ID``, ``COMPOSE_PROJECT_NAME`` and
  ``PORTLEASE_ENV_FILE`` are the first fixture's, ``PORTLEASE_PORTS`` lists
  all ports.  Two fixtures that export the same variable are an error
  naming both.

  How tests of one fixture share its ports:

  (default)
    The test binds the fixture's ports.  Such tests of one fixture never
    run at the same time (:prop_test:`RESOURCE_LOCK`
    ``portlease_fixture_<fixture>``).
  ``SHARED``
    The test only connects to the ports (a stack started by a ``SETUP``
    test); ``SHARED`` tests run in parallel.
  ``SETUP``
    The test starts a stack on the fixture's ports and returns, leaving it
    running: it runs after the lease setup and before every other test of
    the fixture (:prop_test:`FIXTURES_SETUP`).
  ``CLEANUP``
    The test stops that stack: it runs after the other tests of the
    fixture and before the lease is released (:prop_test:`FIXTURES_CLEANUP`).

  A fixture has either tests that bind its ports, or a stack (``SETUP``)
  and ``SHARED`` tests: mixing the two would let a test bind a port the
  stack holds, so it is an error.  With several fixtures, the rule holds
  for each of them.

.. command:: portlease_use_fixture

  Make existing tests use one fixture's lease without wrapping them::

    portlease_use_fixture(TESTS <test>... FIXTURE <fixture> [SHARED])

  Adds :prop_test:`FIXTURES_REQUIRED`, the lock described above (unless
  ``SHARED``) and ``PORTLEASE_ENV_FILE=<env file>`` to their environment.
  Their commands read the env file themselves, for example through
  ``portlease::LeaseEnvironment``.  One fixture per test: for several, use
  :command:`portlease_fixture_test`.

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

Variables
^^^^^^^^^

``PORTLEASE_LEASE_RUN_EXECUTABLE``, ``PORTLEASE_LEASE_EXEC_EXECUTABLE``
  The ``lease-run`` and ``lease-exec`` programs.  The package configuration
  sets them to the ones installed with it; otherwise they are searched on
  ``PATH``.

The server is found at test time as ``lease-run`` finds it:
``PORTLEASE_ADDR``, the system socket, or a private per-user ``portleased``
started on first use.

Example
^^^^^^^

.. code-block:: cmake

  find_package(portlease REQUIRED)
  include(PortLease)

  # A lease per test.
  portlease_add_test(NAME m2_smoke PROFILE ${CMAKE_SOURCE_DIR}/ci/m2/ports.json
                     COMMAND ${CMAKE_SOURCE_DIR}/tests/m2/m2_stack.sh)
  add_executable(redis_test redis_test.cc)
  target_link_libraries(redis_test PRIVATE portlease::gtest_env)
  portlease_gtest_discover_tests(redis_test PORTS redis)

  # One stack, several tests talking to it.
  portlease_add_fixture(NAME m2 PROFILE ${CMAKE_SOURCE_DIR}/ci/m2/ports.json)
  portlease_fixture_test(NAME m2_up FIXTURE m2 SETUP COMMAND m2-up)
  portlease_fixture_test(NAME m2_health FIXTURE m2 SHARED
                         COMMAND sh -c "curl -fsS \"$HEALTH_URL\"")
  portlease_fixture_test(NAME m2_down FIXTURE m2 CLEANUP COMMAND m2-down)
#]=======================================================================]

include_guard(GLOBAL)

if(NOT PORTLEASE_LEASE_RUN_EXECUTABLE)
  find_program(PORTLEASE_LEASE_RUN_EXECUTABLE lease-run)
endif()
if(NOT PORTLEASE_LEASE_EXEC_EXECUTABLE)
  find_program(PORTLEASE_LEASE_EXEC_EXECUTABLE lease-exec)
endif()
# Read at call time, from any directory: a function's
# CMAKE_CURRENT_LIST_DIR is the caller's.
set_property(GLOBAL PROPERTY _PORTLEASE_MODULE_DIR "${CMAKE_CURRENT_LIST_DIR}")

function(_portlease_require_programs caller)
  foreach(var PORTLEASE_LEASE_RUN_EXECUTABLE PORTLEASE_LEASE_EXEC_EXECUTABLE)
    if(NOT ${var})
      message(FATAL_ERROR "${caller}: ${var} is not set and the program was "
        "not found (install portlease, or set ${var})")
    endif()
  endforeach()
endfunction()

# The lease-run flags for PORTS/COUNT/PROFILE/UDP/TTL/WAIT/RENDER parsed
# with prefix P, into out_var; the variables the lease exports (as far as
# they can be known now) into vars_var. `kind` is "test" or "fixture":
# TTL is a lease ttl for a test and a hold limit for a fixture.
macro(_portlease_request_options)
  set(_portlease_flags UDP)
  set(_portlease_one PROFILE COUNT TTL WAIT)
  set(_portlease_multi PORTS RENDER)
endmacro()

function(_portlease_request caller P kind out_var vars_var)
  set(request "")
  set(vars "")
  set(kinds 0)
  if(${P}_PROFILE)
    get_filename_component(profile "${${P}_PROFILE}" ABSOLUTE)
    list(APPEND request --profile "${profile}")
    math(EXPR kinds "${kinds} + 1")
    _portlease_profile_variables("${profile}" vars)
  endif()
  if(${P}_PORTS)
    foreach(port IN LISTS ${P}_PORTS)
      if(NOT port MATCHES "^[a-z][a-z0-9_-]*$")
        message(FATAL_ERROR "${caller}: port name '${port}': want lower-case "
          "letters, digits, '_' and '-', starting with a letter")
      endif()
      string(TOUPPER "${port}_PORT" var)
      string(REPLACE "-" "_" var "${var}")
      list(APPEND vars ${var})
    endforeach()
    list(JOIN ${P}_PORTS "," ports)
    list(APPEND request --ports "${ports}")
    math(EXPR kinds "${kinds} + 1")
  endif()
  if(DEFINED ${P}_COUNT)
    if(NOT ${P}_COUNT MATCHES "^[1-9][0-9]*$")
      message(FATAL_ERROR "${caller}: COUNT ${${P}_COUNT}: want a positive number")
    endif()
    math(EXPR last "${${P}_COUNT} - 1")
    foreach(i RANGE ${last})
      list(APPEND vars PORT_${i})
    endforeach()
    list(APPEND request --count "${${P}_COUNT}")
    math(EXPR kinds "${kinds} + 1")
  endif()
  if(NOT kinds EQUAL 1)
    message(FATAL_ERROR "${caller}: give exactly one of PORTS, COUNT, PROFILE")
  endif()
  if(${P}_UDP)
    list(APPEND request --udp)
  endif()
  foreach(option TTL WAIT)
    if(DEFINED ${P}_${option} AND NOT ${P}_${option} MATCHES "^[0-9]+$")
      message(FATAL_ERROR "${caller}: ${option} ${${P}_${option}}: want a "
        "number of seconds")
    endif()
  endforeach()
  if(DEFINED ${P}_TTL AND kind STREQUAL "test")
    list(APPEND request --ttl "${${P}_TTL}s")
  endif()
  set(wait 300)
  if(DEFINED ${P}_WAIT)
    set(wait ${${P}_WAIT})
  endif()
  if(wait GREATER 0)
    list(APPEND request --wait "${wait}s")
  endif()
  foreach(render IN LISTS ${P}_RENDER)
    if(NOT render MATCHES "^[^:]+:[^:]+$")
      message(FATAL_ERROR "${caller}: RENDER ${render}: want <template>:<output>")
    endif()
    list(APPEND request --render "${render}")
  endforeach()
  set(${out_var} "${request}" PARENT_SCOPE)
  set(${vars_var} "${vars}" PARENT_SCOPE)
endfunction()

# The variables a JSON profile exports (a text-format profile: none known
# now; lease-exec still refuses a clash at test time).
function(_portlease_profile_variables profile out_var)
  set(vars "")
  if(NOT EXISTS "${profile}")
    message(FATAL_ERROR "PortLease: profile ${profile} does not exist")
  endif()
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${profile}")
  file(READ "${profile}" text)
  string(JSON nports ERROR_VARIABLE not_json LENGTH "${text}" ports)
  if(not_json)
    set(${out_var} "" PARENT_SCOPE)
    return()
  endif()
  if(nports GREATER 0)
    math(EXPR last "${nports} - 1")
    foreach(i RANGE ${last})
      string(JSON var ERROR_VARIABLE none GET "${text}" ports ${i} env)
      if(none OR var STREQUAL "")
        string(JSON name GET "${text}" ports ${i} name)
        string(TOUPPER "${name}_PORT" var)
        string(REPLACE "-" "_" var "${var}")
      endif()
      list(APPEND vars ${var})
    endforeach()
  endif()
  string(JSON nvars ERROR_VARIABLE none LENGTH "${text}" vars)
  if(NOT none AND nvars GREATER 0)
    math(EXPR last "${nvars} - 1")
    foreach(i RANGE ${last})
      string(JSON var GET "${text}" vars ${i} name)
      list(APPEND vars ${var})
    endforeach()
  endif()
  set(${out_var} "${vars}" PARENT_SCOPE)
endfunction()

# Splits a command given to one of our functions into its program (an
# executable target becomes its file) and the rest, without list
# operations, which would split arguments containing ';'.
function(_portlease_split_command command program_var rest_var)
  list(GET command 0 program)
  string(LENGTH "${program}" length)
  string(LENGTH "${command}" total)
  if(total GREATER length)
    math(EXPR length "${length} + 1")
  endif()
  string(SUBSTRING "${command}" ${length} -1 rest)
  if(TARGET "${program}")
    get_target_property(type "${program}" TYPE)
    if(type STREQUAL "EXECUTABLE")
      set(program "$<TARGET_FILE:${program}>")
    endif()
  endif()
  set(${program_var} "${program}" PARENT_SCOPE)
  set(${rest_var} "${rest}" PARENT_SCOPE)
endfunction()

function(portlease_add_test)
  _portlease_request_options()
  cmake_parse_arguments(PARSE_ARGV 0 T "${_portlease_flags}"
    "NAME;WORKING_DIRECTORY;${_portlease_one}" "COMMAND;${_portlease_multi}")
  set(caller "portlease_add_test(${T_NAME})")
  if(NOT T_NAME OR NOT T_COMMAND OR T_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "portlease_add_test: usage: portlease_add_test(NAME "
      "<name> COMMAND <command>... (PORTS <name>... | COUNT <n> | PROFILE "
      "<file>) [UDP] [TTL <s>] [WAIT <s>] [RENDER <in>:<out>...] "
      "[WORKING_DIRECTORY <dir>])"
      "${T_UNPARSED_ARGUMENTS}")
  endif()
  _portlease_require_programs("${caller}")
  _portlease_request("${caller}" T test request vars)
  _portlease_split_command("${T_COMMAND}" program rest)
  set(wd "")
  if(T_WORKING_DIRECTORY)
    set(wd WORKING_DIRECTORY "${T_WORKING_DIRECTORY}")
  endif()
  add_test(NAME ${T_NAME}
    COMMAND "${PORTLEASE_LEASE_RUN_EXECUTABLE}" ${request} -- "${program}" ${rest}
    ${wd})
endfunction()

# Fixtures ------------------------------------------------------------------

function(_portlease_fixture_property fixture property out_var)
  get_property(known GLOBAL PROPERTY _PORTLEASE_FIXTURE_${fixture}_ENV_FILE)
  if(NOT known)
    message(FATAL_ERROR "PortLease: no fixture named '${fixture}' (declare it "
      "with portlease_add_fixture first)")
  endif()
  get_property(value GLOBAL PROPERTY _PORTLEASE_FIXTURE_${fixture}_${property})
  set(${out_var} "${value}" PARENT_SCOPE)
endfunction()

function(portlease_add_fixture)
  _portlease_request_options()
  cmake_parse_arguments(PARSE_ARGV 0 F "${_portlease_flags};REUSE_OUTER;NO_REUSE"
    "NAME;${_portlease_one}" "${_portlease_multi}")
  set(caller "portlease_add_fixture(${F_NAME})")
  if(NOT F_NAME OR F_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "portlease_add_fixture: usage: portlease_add_fixture("
      "NAME <name> (PORTS <name>... | COUNT <n> | PROFILE <file>) [UDP] "
      "[TTL <s>] [WAIT <s>] [RENDER <in>:<out>...] [REUSE_OUTER]) "
      "${F_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT F_NAME MATCHES "^[A-Za-z0-9_.+-]+$")
    message(FATAL_ERROR "${caller}: a fixture name is letters, digits and "
      "_ . + -")
  endif()
  get_property(taken GLOBAL PROPERTY _PORTLEASE_FIXTURE_${F_NAME}_ENV_FILE)
  if(taken)
    message(FATAL_ERROR "${caller}: a fixture of this name exists already")
  endif()
  _portlease_require_programs("${caller}")
  _portlease_request("${caller}" F fixture request vars)
  set(hold 7200)
  if(DEFINED F_TTL)
    set(hold ${F_TTL})
  endif()
  set(timeout 120)
  if(DEFINED F_WAIT)
    math(EXPR timeout "${timeout} + ${F_WAIT}")
  else()
    math(EXPR timeout "${timeout} + 300")
  endif()
  if(F_REUSE_OUTER)
    get_property(reuser GLOBAL PROPERTY _PORTLEASE_REUSE_OUTER)
    if(reuser)
      message(FATAL_ERROR "${caller}: REUSE_OUTER is on fixture '${reuser}' "
        "already; only one fixture may reuse the outer lease")
    endif()
    set_property(GLOBAL PROPERTY _PORTLEASE_REUSE_OUTER ${F_NAME})
    list(APPEND request --reuse-environment)
  endif()

  # Every fixture of the build, for PORTLEASE_CTEST_REUSE=1. Rewritten at
  # each declaration: complete once configuring ends.
  set_property(GLOBAL APPEND PROPERTY _PORTLEASE_FIXTURES ${F_NAME})
  get_property(all GLOBAL PROPERTY _PORTLEASE_FIXTURES)
  list(JOIN all "\n" all)
  set(fixtures_file "${CMAKE_BINARY_DIR}/portlease/fixtures")
  file(WRITE "${fixtures_file}" "${all}\n")

  set(dir "${CMAKE_CURRENT_BINARY_DIR}/portlease")
  file(MAKE_DIRECTORY "${dir}")
  set(env_file "${dir}/${F_NAME}.env")
  set_property(GLOBAL PROPERTY _PORTLEASE_FIXTURE_${F_NAME}_ENV_FILE "${env_file}")
  set_property(GLOBAL PROPERTY _PORTLEASE_FIXTURE_${F_NAME}_VARIABLES "${vars}")
  set_property(GLOBAL PROPERTY _PORTLEASE_FIXTURE_${F_NAME}_DIRECTORY
    "${CMAKE_CURRENT_SOURCE_DIR}")

  add_test(NAME ${F_NAME}_lease_setup
    COMMAND "${PORTLEASE_LEASE_RUN_EXECUTABLE}" ${request}
            --env-file "${env_file}" --detach --watch-ctest
            --max-hold "${hold}s" --ctest-fixture "${F_NAME}"
            --ctest-fixtures "${fixtures_file}")
  set_tests_properties(${F_NAME}_lease_setup PROPERTIES
    FIXTURES_SETUP ${F_NAME} TIMEOUT ${timeout} LABELS portlease)
  add_test(NAME ${F_NAME}_lease_cleanup
    COMMAND "${PORTLEASE_LEASE_RUN_EXECUTABLE}" --release-env-file "${env_file}")
  set_tests_properties(${F_NAME}_lease_cleanup PROPERTIES
    FIXTURES_CLEANUP ${F_NAME} TIMEOUT 60 LABELS portlease)
  set(PORTLEASE_${F_NAME}_ENV_FILE "${env_file}" PARENT_SCOPE)
endfunction()

# Records how `test` uses `fixture` (bind, shared, setup, cleanup) and
# refuses a fixture whose stack would share ports with binding tests.
function(_portlease_record_use caller fixture test role)
  set_property(GLOBAL APPEND PROPERTY _PORTLEASE_FIXTURE_${fixture}_${role} ${test})
  _portlease_fixture_property(${fixture} bind binders)
  _portlease_fixture_property(${fixture} setup setups)
  _portlease_fixture_property(${fixture} shared sharers)
  if(binders AND (setups OR sharers))
    list(GET binders 0 binder)
    if(setups)
      list(GET setups 0 other)
      set(what "starts a stack on them (SETUP)")
    else()
      list(GET sharers 0 other)
      set(what "connects to a stack on them (SHARED)")
    endif()
    message(FATAL_ERROR "${caller}: on fixture '${fixture}', test '${binder}' "
      "binds its ports while '${other}' ${what}; give the binding test a "
      "lease of its own (portlease_add_test) or mark it SHARED")
  endif()
endfunction()

# Refuses fixtures that export the same variable.
function(_portlease_check_clashes caller fixtures)
  set(seen "")
  foreach(fixture IN LISTS fixtures)
    _portlease_fixture_property(${fixture} VARIABLES vars)
    # Every lease has these; lease-exec keeps the first fixture's.
    list(REMOVE_ITEM vars PORTLEASE_LEASE_ID PORTLEASE_PORTS
      COMPOSE_PROJECT_NAME PORTLEASE_ENV_FILE PORTLEASE_HOLDER_PID
      PORTLEASE_HOLDER_START_TIME)
    foreach(var IN LISTS vars)
      get_property(owner GLOBAL PROPERTY _PORTLEASE_CLASH_${var})
      if(var IN_LIST seen AND NOT owner STREQUAL fixture)
        message(FATAL_ERROR "${caller}: fixtures '${owner}' and '${fixture}' "
          "both export ${var}; a test can use both only when their variables "
          "differ (rename a port, or use one fixture)")
      endif()
      list(APPEND seen ${var})
      set_property(GLOBAL PROPERTY _PORTLEASE_CLASH_${var} ${fixture})
    endforeach()
  endforeach()
  foreach(var IN LISTS seen)
    set_property(GLOBAL PROPERTY _PORTLEASE_CLASH_${var})
  endforeach()
endfunction()

# The test properties for tests using `fixtures` in `role`, into out_var:
# name/value pairs, list values with their ';' escaped.
function(_portlease_fixture_properties caller test fixtures role out_var)
  list(GET fixtures 0 first)
  _portlease_fixture_property(${first} ENV_FILE env_file)
  foreach(fixture IN LISTS fixtures)
    _portlease_record_use("${caller}" ${fixture} ${test} ${role})
  endforeach()
  set(properties ENVIRONMENT "PORTLEASE_ENV_FILE=${env_file}")
  if(role STREQUAL "setup" OR role STREQUAL "cleanup")
    list(LENGTH fixtures n)
    if(NOT n EQUAL 1)
      message(FATAL_ERROR "${caller}: a SETUP or CLEANUP test belongs to one "
        "fixture")
    endif()
    _portlease_fixture_property(${first} DIRECTORY dir)
    if(NOT dir STREQUAL CMAKE_CURRENT_SOURCE_DIR)
      message(FATAL_ERROR "${caller}: declare the SETUP and CLEANUP tests of "
        "fixture '${first}' in the directory that declares the fixture "
        "(${dir})")
    endif()
  endif()
  if(role STREQUAL "setup")
    # A second setup of the fixture, run after the lease's.
    list(APPEND properties FIXTURES_SETUP ${first} DEPENDS ${first}_lease_setup)
  elseif(role STREQUAL "cleanup")
    # A second cleanup, run before the lease's.
    list(APPEND properties FIXTURES_CLEANUP ${first})
    set_property(TEST ${first}_lease_cleanup APPEND PROPERTY DEPENDS ${test})
  else()
    string(REPLACE ";" "\\;" required "${fixtures}")
    list(APPEND properties FIXTURES_REQUIRED "${required}")
  endif()
  if(role STREQUAL "bind")
    set(locks "")
    foreach(fixture IN LISTS fixtures)
      list(APPEND locks portlease_fixture_${fixture})
    endforeach()
    string(REPLACE ";" "\\;" locks "${locks}")
    list(APPEND properties RESOURCE_LOCK "${locks}")
  endif()
  set(${out_var} "${properties}" PARENT_SCOPE)
endfunction()

function(_portlease_role caller P out_var)
  set(role bind)
  set(n 0)
  foreach(option SHARED SETUP CLEANUP)
    if(${P}_${option})
      string(TOLOWER ${option} role)
      math(EXPR n "${n} + 1")
    endif()
  endforeach()
  if(n GREATER 1)
    message(FATAL_ERROR "${caller}: give at most one of SHARED, SETUP, CLEANUP")
  endif()
  set(${out_var} ${role} PARENT_SCOPE)
endfunction()

function(portlease_fixture_test)
  cmake_parse_arguments(PARSE_ARGV 0 T "SHARED;SETUP;CLEANUP"
    "NAME;WORKING_DIRECTORY" "COMMAND;FIXTURE;FIXTURES")
  set(caller "portlease_fixture_test(${T_NAME})")
  list(APPEND T_FIXTURE ${T_FIXTURES})
  if(NOT T_NAME OR NOT T_FIXTURE OR NOT T_COMMAND OR T_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "portlease_fixture_test: usage: portlease_fixture_test("
      "NAME <test> FIXTURE <name>... [SHARED|SETUP|CLEANUP] COMMAND "
      "<command>... [WORKING_DIRECTORY <dir>]) ${T_UNPARSED_ARGUMENTS}")
  endif()
  _portlease_require_programs("${caller}")
  _portlease_role("${caller}" T role)
  _portlease_check_clashes("${caller}" "${T_FIXTURE}")
  set(env_files "")
  foreach(fixture IN LISTS T_FIXTURE)
    _portlease_fixture_property(${fixture} ENV_FILE env_file)
    list(APPEND env_files --env-file "${env_file}")
  endforeach()
  _portlease_split_command("${T_COMMAND}" program rest)
  set(wd "")
  if(T_WORKING_DIRECTORY)
    set(wd WORKING_DIRECTORY "${T_WORKING_DIRECTORY}")
  endif()
  add_test(NAME ${T_NAME}
    COMMAND "${PORTLEASE_LEASE_EXEC_EXECUTABLE}" ${env_files} -- "${program}" ${rest}
    ${wd})
  _portlease_fixture_properties("${caller}" ${T_NAME} "${T_FIXTURE}" ${role} properties)
  set_tests_properties(${T_NAME} PROPERTIES ${properties})
endfunction()

function(portlease_use_fixture)
  cmake_parse_arguments(PARSE_ARGV 0 U "SHARED" "FIXTURE" "TESTS")
  if(NOT U_FIXTURE OR NOT U_TESTS OR U_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "portlease_use_fixture: usage: portlease_use_fixture("
      "TESTS <test>... FIXTURE <name> [SHARED]) ${U_UNPARSED_ARGUMENTS}")
  endif()
  set(role bind)
  if(U_SHARED)
    set(role shared)
  endif()
  foreach(test IN LISTS U_TESTS)
    set(caller "portlease_use_fixture(${test})")
    get_property(used GLOBAL PROPERTY _PORTLEASE_TEST_${test}_FIXTURE)
    if(used)
      message(FATAL_ERROR "${caller}: the test uses fixture '${used}' already; "
        "a test reading PORTLEASE_ENV_FILE gets one fixture (for several, "
        "declare it with portlease_fixture_test)")
    endif()
    set_property(GLOBAL PROPERTY _PORTLEASE_TEST_${test}_FIXTURE ${U_FIXTURE})
    _portlease_fixture_properties("${caller}" ${test} ${U_FIXTURE} ${role} properties)
    list(LENGTH properties n)
    math(EXPR last "${n} - 1")
    foreach(i RANGE 0 ${last} 2)
      math(EXPR j "${i} + 1")
      list(GET properties ${i} name)
      list(GET properties ${j} value)
      set_property(TEST ${test} APPEND PROPERTY ${name} "${value}")
    endforeach()
  endforeach()
endfunction()

function(portlease_resource_test)
  cmake_parse_arguments(PARSE_ARGV 0 T "" "NAME;WORKING_DIRECTORY" "COMMAND")
  if(NOT T_NAME OR NOT T_COMMAND OR T_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "portlease_resource_test: usage: "
      "portlease_resource_test(NAME <test> COMMAND <command>... "
      "[WORKING_DIRECTORY <dir>]) ${T_UNPARSED_ARGUMENTS}")
  endif()
  _portlease_require_programs("portlease_resource_test(${T_NAME})")
  _portlease_split_command("${T_COMMAND}" program rest)
  set(wd "")
  if(T_WORKING_DIRECTORY)
    set(wd WORKING_DIRECTORY "${T_WORKING_DIRECTORY}")
  endif()
  add_test(NAME ${T_NAME}
    COMMAND "${PORTLEASE_LEASE_EXEC_EXECUTABLE}" --from-resource-group --
            "${program}" ${rest}
    ${wd})
  set_tests_properties(${T_NAME} PROPERTIES RESOURCE_GROUPS "portlease:1")
endfunction()

# GoogleTest discovery --------------------------------------------------------

# Writes `set(<name> <value>)` for a list into `out_var`, each element a
# bracket argument so that ';', quotes and '$' survive.
function(_portlease_encode_list name list out_var)
  set(text "set(${name}")
  foreach(element IN LISTS list)
    string(REPLACE "]==]" "]==]]==][==[" element "${element}")
    string(APPEND text "\n  [==[${element}]==]")
  endforeach()
  set(${out_var} "${text})\n" PARENT_SCOPE)
endfunction()

function(portlease_gtest_discover_tests target)
  _portlease_request_options()
  cmake_parse_arguments(PARSE_ARGV 1 G
    "${_portlease_flags};SHARED;RESOURCE_GROUP"
    "${_portlease_one};WORKING_DIRECTORY;TEST_PREFIX;TEST_SUFFIX;TEST_LIST;DISCOVERY_TIMEOUT"
    "${_portlease_multi};FIXTURE;FIXTURES;EXTRA_ARGS;PROPERTIES")
  set(caller "portlease_gtest_discover_tests(${target})")
  list(APPEND G_FIXTURE ${G_FIXTURES})
  if(G_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "${caller}: unknown arguments: ${G_UNPARSED_ARGUMENTS}")
  endif()
  if(NOT TARGET ${target})
    message(FATAL_ERROR "${caller}: no target named '${target}'")
  endif()
  _portlease_require_programs("${caller}")

  set(launcher "")
  set(properties "")
  if(G_FIXTURE AND G_RESOURCE_GROUP)
    message(FATAL_ERROR "${caller}: FIXTURE and RESOURCE_GROUP exclude each other")
  endif()
  if(G_FIXTURE OR G_RESOURCE_GROUP)
    foreach(option PORTS COUNT PROFILE UDP TTL WAIT RENDER)
      if(G_${option})
        message(FATAL_ERROR "${caller}: ${option} is for tests with a lease of "
          "their own; with FIXTURE the fixture has the ports")
      endif()
    endforeach()
  endif()
  if(G_SHARED AND NOT G_FIXTURE)
    message(FATAL_ERROR "${caller}: SHARED is an option of FIXTURE")
  endif()
  if(G_FIXTURE)
    _portlease_check_clashes("${caller}" "${G_FIXTURE}")
    list(APPEND launcher "${PORTLEASE_LEASE_EXEC_EXECUTABLE}")
    foreach(fixture IN LISTS G_FIXTURE)
      _portlease_fixture_property(${fixture} ENV_FILE env_file)
      list(APPEND launcher --env-file "${env_file}")
    endforeach()
    list(APPEND launcher --)
    set(role bind)
    if(G_SHARED)
      set(role shared)
    endif()
    _portlease_fixture_properties("${caller}" "${target} (discovered)"
      "${G_FIXTURE}" ${role} properties)
  elseif(G_RESOURCE_GROUP)
    list(APPEND launcher "${PORTLEASE_LEASE_EXEC_EXECUTABLE}"
      --from-resource-group --)
    list(APPEND properties RESOURCE_GROUPS "portlease:1")
  else()
    _portlease_request("${caller}" G test request vars)
    list(APPEND launcher "${PORTLEASE_LEASE_RUN_EXECUTABLE}" ${request} --)
  endif()
  list(APPEND properties ${G_PROPERTIES})
  if(NOT G_WORKING_DIRECTORY)
    set(G_WORKING_DIRECTORY "${CMAKE_CURRENT_BINARY_DIR}")
  endif()
  if(NOT G_TEST_LIST)
    set(G_TEST_LIST ${target}_TESTS)
  endif()
  if(NOT G_DISCOVERY_TIMEOUT)
    set(G_DISCOVERY_TIMEOUT 30)
  endif()

  # One parameter file, tests file and include file per call.
  get_property(count TARGET ${target} PROPERTY _PORTLEASE_DISCOVER_COUNT)
  if(NOT count)
    set(count 0)
  endif()
  math(EXPR count "${count} + 1")
  set_property(TARGET ${target} PROPERTY _PORTLEASE_DISCOVER_COUNT ${count})
  set(base "${CMAKE_CURRENT_BINARY_DIR}/portlease/${target}.${count}")
  set(params_file "${base}.params.cmake")
  set(tests_file "${base}.tests.cmake")
  set(include_file "${base}.include.cmake")

  set(params "")
  foreach(var launcher properties)
    _portlease_encode_list(PORTLEASE_${var} "${${var}}" text)
    string(APPEND params "${text}")
  endforeach()
  _portlease_encode_list(PORTLEASE_extra_args "${G_EXTRA_ARGS}" text)
  string(APPEND params "${text}")
  foreach(var WORKING_DIRECTORY TEST_PREFIX TEST_SUFFIX TEST_LIST DISCOVERY_TIMEOUT)
    string(APPEND params "set(PORTLEASE_${var} [==[${G_${var}}]==])\n")
  endforeach()
  string(APPEND params "set(PORTLEASE_target [==[${target}]==])\n")
  file(WRITE "${params_file}" "${params}")

  get_property(module_dir GLOBAL PROPERTY _PORTLEASE_MODULE_DIR)
  add_custom_command(TARGET ${target} POST_BUILD
    BYPRODUCTS "${tests_file}"
    COMMAND "${CMAKE_COMMAND}"
            -D "PORTLEASE_EXECUTABLE=$<TARGET_FILE:${target}>"
            -D "PORTLEASE_PARAMS=${params_file}"
            -D "PORTLEASE_TESTS_FILE=${tests_file}"
            -P "${module_dir}/PortLeaseGTestAddTests.cmake"
    VERBATIM)
  file(WRITE "${include_file}"
"if(EXISTS \"${tests_file}\")
  include(\"${tests_file}\")
else()
  add_test([==[${target}_NOT_BUILT_${count}]==] [==[${target}_NOT_BUILT_${count}]==])
endif()
")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${include_file}")
endfunction()
