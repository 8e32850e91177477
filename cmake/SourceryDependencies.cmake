# Finds Sourcery's dependencies (Debian packages) and defines the imported
# targets sourcery_deps::*. Used by the build (CMakeLists.txt) and by the
# installed sourceryConfig.cmake, which includes it with SOURCERY_COMPONENTS
# set to the engines a consumer asked for. Inside find_package(sourcery),
# a dependency that is missing makes sourcery not found, with a message
# saying which Debian package provides it (find_dependency's behaviour).

if(NOT DEFINED SOURCERY_COMPONENTS)
  set(SOURCERY_COMPONENTS rocksdb postgres)
endif()

# _sourcery_missing(what package): stop, naming the package to install.
macro(_sourcery_missing what package)
  if(CMAKE_FIND_PACKAGE_NAME STREQUAL "sourcery")
    set(sourcery_FOUND FALSE)
    set(sourcery_NOT_FOUND_MESSAGE "${what} not found: apt-get install ${package}")
    return()
  endif()
  message(FATAL_ERROR "${what} not found: apt-get install ${package}")
endmacro()

# _sourcery_imported(name header library package): sourcery_deps::<name>
# from a header and a library found on the system (the packages below ship
# no CMake package configuration).
macro(_sourcery_imported name header library package)
  if(NOT TARGET sourcery_deps::${name})
    string(TOUPPER "${name}" _upper)
    find_path(SOURCERY_${_upper}_INCLUDE_DIR ${header})
    find_library(SOURCERY_${_upper}_LIBRARY ${library})
    if(NOT SOURCERY_${_upper}_INCLUDE_DIR OR NOT SOURCERY_${_upper}_LIBRARY)
      _sourcery_missing("${header} / lib${library}" ${package})
    endif()
    add_library(sourcery_deps::${name} UNKNOWN IMPORTED)
    set_target_properties(sourcery_deps::${name} PROPERTIES
      IMPORTED_LOCATION "${SOURCERY_${_upper}_LIBRARY}"
      INTERFACE_INCLUDE_DIRECTORIES "${SOURCERY_${_upper}_INCLUDE_DIR}"
      INTERFACE_LINK_LIBRARIES Threads::Threads)
  endif()
endmacro()

# _sourcery_find(package-to-install find_package-arguments...): through
# find_dependency inside find_package(sourcery), else find_package REQUIRED.
macro(_sourcery_find package)
  if(CMAKE_FIND_PACKAGE_NAME STREQUAL "sourcery")
    find_dependency(${ARGN}) # on failure: sourcery_FOUND false, return()
  else()
    find_package(${ARGN} QUIET)
    if(NOT ${ARGV1}_FOUND)
      _sourcery_missing("${ARGV1}" ${package})
    endif()
  endif()
endmacro()

include(CMakeFindDependencyMacro)
_sourcery_find(libc6-dev Threads)
_sourcery_find(libboost-json1.81-dev Boost 1.81...<1.82 CONFIG COMPONENTS json)

# The ThreadSanitizer build sets SOURCERY_CAF_CORE_LIBRARY to its own libcaf_core.
_sourcery_imported(caf_core caf/all.hpp caf_core libcaf-dev)
_sourcery_imported(sodium sodium.h sodium libsodium-dev)

if("rocksdb" IN_LIST SOURCERY_COMPONENTS)
  _sourcery_imported(rocksdb rocksdb/db.h rocksdb librocksdb-dev)
endif()
if("postgres" IN_LIST SOURCERY_COMPONENTS)
  _sourcery_find(libpq-dev PostgreSQL)
endif()
