// The allocator a program in apps/ runs on, for its report. The load harness
// and bench_rocksdb link jemalloc (apps/CMakeLists.txt, `link_jemalloc`), as
// RocksDB recommends; the sanitizer builds run on their own allocator.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

// jemalloc's control interface; null unless jemalloc is in the process.
extern "C" int mallctl(const char* name, void* old, std::size_t* old_len, void* value,
                       std::size_t len) __attribute__((weak));

namespace apps {

/// "jemalloc <version>" when jemalloc is linked or preloaded, else "glibc malloc".
inline std::string allocator_name() {
  if (mallctl == nullptr)
    return "glibc malloc";
  const char* version = nullptr;
  std::size_t len = sizeof version;
  if (mallctl("version", &version, &len, nullptr, 0) == 0 && version != nullptr)
    return "jemalloc " + std::string(version).substr(0, std::string_view(version).find('-'));
  return "jemalloc";
}

} // namespace apps
