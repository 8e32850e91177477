# Finds Sourcery's dependencies (Debian packages) and defines imported targets.
# Used by the build and by the installed sourceryConfig.cmake.
find_package(Boost 1.81...<1.82 CONFIG REQUIRED COMPONENTS json)
find_package(Threads REQUIRED)

if(NOT TARGET sourcery_deps::caf_core)
  # Debian's libcaf-dev (0.17.6) ships no CMake package config.
  find_path(CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
  find_library(CAF_CORE_LIBRARY caf_core REQUIRED)
  add_library(sourcery_deps::caf_core UNKNOWN IMPORTED)
  set_target_properties(sourcery_deps::caf_core PROPERTIES
    IMPORTED_LOCATION "${CAF_CORE_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES Threads::Threads)
endif()

if(NOT TARGET sourcery_deps::sodium)
  find_path(SODIUM_INCLUDE_DIR sodium.h REQUIRED)
  find_library(SODIUM_LIBRARY sodium REQUIRED)
  add_library(sourcery_deps::sodium UNKNOWN IMPORTED)
  set_target_properties(sourcery_deps::sodium PROPERTIES
    IMPORTED_LOCATION "${SODIUM_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${SODIUM_INCLUDE_DIR}")
endif()
