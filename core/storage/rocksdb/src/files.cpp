#include "files.hpp"

#include <sourcery/errors.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sourcery::storage::rocksdb_detail {

namespace {

[[noreturn]] void fail_io(const std::string& what, const std::filesystem::path& p) {
  throw storage_unavailable(what + " " + p.string() + ": " + std::strerror(errno));
}

} // namespace

void write_synced(const std::filesystem::path& p, const std::string& bytes) {
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    fail_io("cannot create", p);
  std::size_t done = 0;
  while (done < bytes.size()) {
    auto n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      ::close(fd);
      fail_io("cannot write", p);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    fail_io("cannot fsync", p);
  }
  ::close(fd);
}

void sync_folder(const std::filesystem::path& folder) {
  int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    fail_io("cannot open folder", folder);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0)
    fail_io("cannot fsync folder", folder);
}

} // namespace sourcery::storage::rocksdb_detail
