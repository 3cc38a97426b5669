# Installing and packaging portlease, included at the end of the top-level
# CMakeLists.txt:
#   - man pages portleased(8), lease-run(1), portlease(1) and lease-exec(1),
#     made at build time from each binary's --help (ci/man/help-to-man.awk);
#   - the systemd unit ci/systemd/portleased.service;
#   - the Debian package: `cpack -G DEB` in the build directory, tested by
#     ci/package-test.sh.
# The binaries, library, headers and CMake files have their install rules
# next to their targets.

set(PORTLEASE_SYSTEMD_UNIT_DIR "lib/systemd/system" CACHE STRING
    "Where the systemd unit is installed, relative to the prefix")
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

# The Debian package.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME portlease)
set(CPACK_PACKAGE_VENDOR portlease)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "port leases for CI jobs sharing a host")
set(CPACK_PACKAGE_CONTACT "${PORTLEASE_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${PORTLEASE_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# The runtime libraries come from dpkg-shlibdeps (package dpkg-dev);
# adduser is for the postinst.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS adduser)
# The extended description, after CPACK_PACKAGE_DESCRIPTION_SUMMARY; CPack
# indents the lines.
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
"portleased hands out non-conflicting blocks of TCP/UDP ports (leases) to
parallel CI jobs on one host, checks that each port is really free, keeps
its state in SQLite and takes back the leases of jobs that die. lease-run
runs a command with leased ports in its environment; portlease acquires,
lists and releases leases and tells who holds a port. Also included: the
C++ client library, its headers and CMake package, the CTest fixture module,
and a systemd unit running portleased as the portlease user.")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/ci/packaging/postinst
    ${PROJECT_SOURCE_DIR}/ci/packaging/prerm
    ${PROJECT_SOURCE_DIR}/ci/packaging/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
