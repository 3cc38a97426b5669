# Installing and packaging portlease, included at the end of the top-level
# CMakeLists.txt:
#   - man pages portleased(8), lease-run(1), portlease(1) and lease-exec(1),
#     made at build time from each binary's --help (ci/man/help-to-man.awk);
#   - the systemd unit ci/systemd/portleased.service;
#   - the Debian packages portlease and portlease-dev: `cpack -G DEB` in the
#     build directory, tested by ci/package-test.sh.
# The binaries, library, headers and CMake files have their install rules
# next to their targets; ctest/CMakeLists.txt says which install component
# (package) each belongs to.

set(PORTLEASE_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
    "Where the systemd unit is installed, relative to the prefix")
set(PORTLEASE_TMPFILES_DIR "lib/tmpfiles.d" CACHE STRING
    "Where the tmpfiles.d entry is installed, relative to the prefix")
set(PORTLEASE_PACKAGE_MAINTAINER
    "portlease maintainers <portlease-maintainers@example.org>" CACHE STRING
    "Maintainer field of the Debian package")

# Man pages.
find_program(PORTLEASE_AWK NAMES awk mawk gawk REQUIRED)
find_program(PORTLEASE_GZIP gzip REQUIRED)
set(portlease_man_dir ${PROJECT_BINARY_DIR}/man)
set(portlease_man_pages)
set(portlease_man_sources portleased:8 lease-run:1 portlease:1)
if(TARGET lease-exec)
  list(APPEND portlease_man_sources lease-exec:1)
endif()
foreach(page IN LISTS portlease_man_sources)
  string(REPLACE ":" ";" page "${page}")
  list(GET page 0 program)
  list(GET page 1 section)
  set(out ${portlease_man_dir}/${program}.${section}.gz)
  add_custom_command(
    OUTPUT ${out} ${portlease_man_dir}/${program}.${section}
    COMMAND ${CMAKE_COMMAND}
      -DPROGRAM=$<TARGET_FILE:${program}> -DNAME=${program}
      -DSECTION=${section} "-DSOURCE=portlease ${PROJECT_VERSION}"
      -DAWK=${PORTLEASE_AWK} -DGZIP=${PORTLEASE_GZIP}
      -DSCRIPT=${PROJECT_SOURCE_DIR}/ci/man/help-to-man.awk
      -DOUTPUT=${out}
      -P ${PROJECT_SOURCE_DIR}/ci/packaging/MakeManPage.cmake
    DEPENDS ${program} ${PROJECT_SOURCE_DIR}/ci/man/help-to-man.awk
            ${PROJECT_SOURCE_DIR}/ci/packaging/MakeManPage.cmake
    COMMENT "Man page ${program}(${section})"
    VERBATIM)
  list(APPEND portlease_man_pages ${out})
  install(FILES ${out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()
add_custom_target(portlease_man_pages ALL DEPENDS ${portlease_man_pages})

# The systemd unit. It names /usr/bin/portleased, where the package puts it.
install(FILES ${PROJECT_SOURCE_DIR}/ci/systemd/portleased.service
        DESTINATION ${PORTLEASE_SYSTEMD_UNIT_DIR})
# The host-wide claims directory the unit binds into its private /tmp
# (portleased --claims-dir), made at boot by systemd-tmpfiles.
install(FILES ${PROJECT_SOURCE_DIR}/ci/systemd/portlease-tmpfiles.conf
        DESTINATION ${PORTLEASE_TMPFILES_DIR} RENAME portlease.conf)

# The Debian packages, one per install component (ctest/CMakeLists.txt):
#   portlease      (runtime) the programs, man pages, systemd unit, and the
#                  CMake package with the CTest module, which works without
#                  the -dev package: find_package(portlease COMPONENTS ctest)
#   portlease-dev  (dev) the static client libraries, headers, exported CMake
#                  targets, portlease.pc and the .proto files
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME portlease)
set(CPACK_PACKAGE_VENDOR portlease)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${PORTLEASE_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${PORTLEASE_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME portlease)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION devel)
# The runtime libraries come from dpkg-shlibdeps (package dpkg-dev);
# adduser is for the postinst.
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS adduser)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/ci/packaging/postinst
    ${PROJECT_SOURCE_DIR}/ci/packaging/prerm
    ${PROJECT_SOURCE_DIR}/ci/packaging/postrm)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# The first line is the summary; CPack indents the others.
set(CPACK_DEBIAN_RUNTIME_DESCRIPTION
"port leases for CI jobs sharing a host
portleased hands out non-conflicting blocks of TCP/UDP ports (leases) to
parallel CI jobs on one host, checks that each port is really free, keeps
its state in SQLite and takes back the leases of jobs that die. lease-run
runs a command with leased ports in its environment; portlease acquires,
lists and releases leases and tells who holds a port. Also included: the
CMake package with the PortLease CTest fixture module (no compiler needed),
and a systemd unit running portleased as the portlease user. The C++ client
library is in portlease-dev.")

set(CPACK_DEBIAN_DEV_PACKAGE_NAME portlease-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
# Static libraries: nothing for dpkg-shlibdeps. What find_package(portlease
# COMPONENTS client) loads: gRPC's CMake config needs grpc_cpp_plugin
# (protobuf-compiler-grpc) to exist, and the installed headers include the
# generated gRPC, protobuf and Abseil headers. GoogleTest is only for
# portlease::gtest_env, so a recommendation: a consumer without it still gets
# the other targets.
set(CPACK_DEBIAN_DEV_PACKAGE_SHLIBDEPS OFF)
string(JOIN ", " CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "portlease (= ${CPACK_PACKAGE_VERSION})"
    libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev libabsl-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_RECOMMENDS libgtest-dev)
set(CPACK_DEBIAN_DEV_DESCRIPTION
"port leases for CI jobs sharing a host - C++ client library
The static C++ client library of portleased (portlease::client,
portlease::lease_env, portlease::gtest_env for GoogleTest), its headers, the
exported CMake targets (find_package(portlease COMPONENTS client)), the
pkg-config file portlease.pc and the portlease.v1 .proto files for clients
in other languages.")
include(CPack)
