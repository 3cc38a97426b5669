# Distributed under the same terms as portlease.
#
# Run after each build of a target given to portlease_gtest_discover_tests()
# (PortLease.cmake): lists the GoogleTest program's test cases and writes a
# CTest script adding one test per case, each run through the launcher the
# call chose (lease-run with a request of its own, or lease-exec).
#
#   cmake -D PORTLEASE_EXECUTABLE=<program> -D PORTLEASE_PARAMS=<file>
#         -D PORTLEASE_TESTS_FILE=<output> -P PortLeaseGTestAddTests.cmake
#
# PORTLEASE_PARAMS sets PORTLEASE_launcher, PORTLEASE_properties,
# PORTLEASE_extra_args (lists), PORTLEASE_WORKING_DIRECTORY,
# PORTLEASE_TEST_PREFIX, PORTLEASE_TEST_SUFFIX, PORTLEASE_TEST_LIST,
# PORTLEASE_DISCOVERY_TIMEOUT and PORTLEASE_target.
cmake_minimum_required(VERSION 3.22)

foreach(var PORTLEASE_EXECUTABLE PORTLEASE_PARAMS PORTLEASE_TESTS_FILE)
  if(NOT ${var})
    message(FATAL_ERROR "PortLeaseGTestAddTests: ${var} is not set")
  endif()
endforeach()
include("${PORTLEASE_PARAMS}")

# A bracket argument holding `value` exactly.
function(_bracket value out_var)
  string(REPLACE "]==]" "]==]]==][==[" value "${value}")
  set(${out_var} "[==[${value}]==]" PARENT_SCOPE)
endfunction()

execute_process(
  COMMAND "${PORTLEASE_EXECUTABLE}" --gtest_list_tests
  WORKING_DIRECTORY "${PORTLEASE_WORKING_DIRECTORY}"
  TIMEOUT ${PORTLEASE_DISCOVERY_TIMEOUT}
  OUTPUT_VARIABLE output
  ERROR_VARIABLE errors
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  # Fail the build: a program that cannot list its tests has none to run.
  file(REMOVE "${PORTLEASE_TESTS_FILE}")
  message(FATAL_ERROR "portlease_gtest_discover_tests(${PORTLEASE_target}): "
    "${PORTLEASE_EXECUTABLE} --gtest_list_tests failed (${result}):\n"
    "${output}${errors}")
endif()

set(script "")
set(names "")
set(launcher "")
foreach(arg IN LISTS PORTLEASE_launcher)
  _bracket("${arg}" arg)
  string(APPEND launcher " ${arg}")
endforeach()
set(extra "")
foreach(arg IN LISTS PORTLEASE_extra_args)
  _bracket("${arg}" arg)
  string(APPEND extra " ${arg}")
endforeach()
set(properties "")
foreach(value IN LISTS PORTLEASE_properties)
  _bracket("${value}" value)
  string(APPEND properties " ${value}")
endforeach()
_bracket("${PORTLEASE_EXECUTABLE}" program)
_bracket("${PORTLEASE_WORKING_DIRECTORY}" directory)

# --gtest_list_tests prints "Suite." lines and indented "Case" lines, each
# maybe followed by "  # GetParam() = ..." or "  # TypeParam = ...".
string(REPLACE ";" "\\;" output "${output}")
string(REPLACE "\n" ";" lines "${output}")
set(suite "")
foreach(line IN LISTS lines)
  string(REGEX REPLACE " *#.*$" "" line "${line}")
  if(line STREQUAL "")
    continue()
  endif()
  if(line MATCHES "^[^ ]")
    # A suite, or other output of the program (not ending in '.').
    if(line MATCHES "^([^ ]+)\\.$")
      set(suite "${CMAKE_MATCH_1}")
    else()
      set(suite "")
    endif()
    continue()
  endif()
  if(suite STREQUAL "")
    continue()
  endif()
  string(STRIP "${line}" case)
  set(full "${suite}.${case}")
  set(name "${PORTLEASE_TEST_PREFIX}${full}${PORTLEASE_TEST_SUFFIX}")
  set(disabled FALSE)
  set(run_disabled "")
  if(suite MATCHES "(^|/)DISABLED_" OR case MATCHES "^DISABLED_")
    set(disabled TRUE)
    set(run_disabled " --gtest_also_run_disabled_tests")
  endif()
  _bracket("${name}" quoted)
  _bracket("--gtest_filter=${full}" filter)
  string(APPEND script
    "add_test(${quoted}${launcher} ${program} ${filter}${run_disabled}${extra})\n"
    "set_tests_properties(${quoted} PROPERTIES WORKING_DIRECTORY ${directory}"
    " SKIP_REGULAR_EXPRESSION [==[\\[  SKIPPED \\]]==]")
  if(disabled)
    string(APPEND script " DISABLED TRUE")
  endif()
  if(properties)
    string(APPEND script "${properties}")
  endif()
  string(APPEND script ")\n")
  list(APPEND names "${name}")
endforeach()

if(names STREQUAL "")
  message(WARNING "portlease_gtest_discover_tests(${PORTLEASE_target}): "
    "${PORTLEASE_EXECUTABLE} lists no tests")
endif()
set(list_text "")
foreach(name IN LISTS names)
  string(REPLACE ";" "\\;" name "${name}")
  string(APPEND list_text "${name};")
endforeach()
_bracket("${list_text}" list_text)
string(APPEND script "set(${PORTLEASE_TEST_LIST} ${list_text})\n")
file(WRITE "${PORTLEASE_TESTS_FILE}" "${script}")
