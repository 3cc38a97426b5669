# PORTLEASE_STATIC_DEPS: link gRPC, Protobuf and Abseil, what gRPC pulls in
# (OpenSSL, c-ares, zlib, re2, upb, address_sorting) and yaml-cpp from
# Debian's static archives (.a, shipped in the same -dev packages) instead
# of their shared libraries, and the programs with the C++ runtime
# statically. A lease-run or portlease process then starts without the
# dynamic loader resolving some 60 shared libraries and their symbols:
# that was most of a process's start-up cost when a CI matrix starts 64
# jobs at once (tests/bench/README.md, burst.py). SQLite and glibc stay
# shared.
#
# The per-job programs (lease-run, portlease, lease-exec, and the
# benchmark's floor and binder) link through portlease_client_program_link
# (empty when off): the C++ runtime (libstdc++, libgcc) statically too, and
# -no-pie, which spares the loader some 35,000 relative relocations per
# start. They then load no shared library but glibc's. portleased, the
# long-running network server, stays PIE with the shared C++ runtime
# (cpp-httplib, a shared library, needs it).
#
# Off under the sanitizers and for the fuzz targets (their runtimes
# interpose on the shared libraries), and where an archive is missing.
if(PORTLEASE_SANITIZE OR PORTLEASE_FUZZ)
  set(_portlease_static_default OFF)
else()
  set(_portlease_static_default ON)
endif()
option(PORTLEASE_STATIC_DEPS
  "Link gRPC, Protobuf and Abseil from their static archives"
  ${_portlease_static_default})

# Points the imported target `target` at the static archive next to its
# shared library, for every configuration it was imported for. Returns in
# `out` FALSE when some location has no archive (nothing is changed then).
function(_portlease_use_archive target out)
  set(${out} FALSE PARENT_SCOPE)
  get_target_property(configs ${target} IMPORTED_CONFIGURATIONS)
  set(properties IMPORTED_LOCATION)
  if(configs)
    foreach(config IN LISTS configs)
      string(TOUPPER "${config}" config)
      list(APPEND properties IMPORTED_LOCATION_${config})
    endforeach()
  endif()
  set(changes "")
  foreach(property IN LISTS properties)
    get_target_property(location ${target} ${property})
    if(NOT location)
      continue()
    endif()
    if(location MATCHES "\\.a$")
      continue()
    endif()
    if(NOT location MATCHES "^(.*)\\.so(\\.[0-9.]+)?$")
      return()
    endif()
    set(archive "${CMAKE_MATCH_1}.a")
    if(NOT EXISTS "${archive}")
      return()
    endif()
    list(APPEND changes ${property} "${archive}")
  endforeach()
  if(changes)
    set_target_properties(${target} PROPERTIES ${changes} IMPORTED_NO_SONAME TRUE)
  endif()
  set(${out} TRUE PARENT_SCOPE)
endfunction()

if(PORTLEASE_STATIC_DEPS)
  get_directory_property(_portlease_imported IMPORTED_TARGETS)
  set(_portlease_static_targets "")
  set(_portlease_shared_targets "")
  foreach(target IN LISTS _portlease_imported)
    if(NOT target MATCHES "^(absl::|gRPC::|protobuf::libprotobuf$|OpenSSL::(SSL|Crypto)$|c-ares::cares$|ZLIB::ZLIB$|yaml-cpp$)")
      continue()
    endif()
    get_target_property(type ${target} TYPE)
    if(type STREQUAL "INTERFACE_LIBRARY" OR type STREQUAL "EXECUTABLE")
      continue()
    endif()
    _portlease_use_archive(${target} ok)
    if(ok)
      list(APPEND _portlease_static_targets ${target})
    else()
      list(APPEND _portlease_shared_targets ${target})
    endif()
  endforeach()
  # re2::re2 is gRPC's pkg-config shim: an interface target whose link
  # flags name -lre2.
  if(TARGET re2::re2)
    get_target_property(_portlease_re2 re2::re2 INTERFACE_LINK_LIBRARIES)
    find_library(PORTLEASE_RE2_ARCHIVE NAMES libre2.a)
    if("-lre2" IN_LIST _portlease_re2 AND PORTLEASE_RE2_ARCHIVE)
      list(TRANSFORM _portlease_re2 REPLACE "^-lre2$" "${PORTLEASE_RE2_ARCHIVE}")
      set_target_properties(re2::re2 PROPERTIES
        INTERFACE_LINK_LIBRARIES "${_portlease_re2}")
      list(APPEND _portlease_static_targets re2::re2)
    else()
      list(APPEND _portlease_shared_targets re2::re2)
    endif()
  endif()
  list(LENGTH _portlease_static_targets _portlease_count)
  message(STATUS "PORTLEASE_STATIC_DEPS: ${_portlease_count} libraries from static archives")
  if(_portlease_shared_targets)
    message(STATUS "PORTLEASE_STATIC_DEPS: no archive, stays shared: ${_portlease_shared_targets}")
  endif()
endif()

add_library(portlease_client_program_link INTERFACE)
if(PORTLEASE_STATIC_DEPS)
  target_link_options(portlease_client_program_link INTERFACE
    -no-pie -static-libstdc++ -static-libgcc)
endif()
