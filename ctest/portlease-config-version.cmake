# The version check of find_package(PortLease <version>): CMake reads the
# version file named after the config file it found (portlease-config.cmake).
include("${CMAKE_CURRENT_LIST_DIR}/portleaseConfigVersion.cmake")
