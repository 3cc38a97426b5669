# find_package(PortLease): on a case-sensitive file system CMake looks for
# PortLeaseConfig.cmake or portlease-config.cmake (the directory name
# lib/cmake/portlease matches case-insensitively). This is the latter; the
# package is portleaseConfig.cmake, which reports under the name the caller
# used (CMAKE_FIND_PACKAGE_NAME).
include("${CMAKE_CURRENT_LIST_DIR}/portleaseConfig.cmake")
