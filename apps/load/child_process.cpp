#include "child_process.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

namespace harness {

child_process spawn_child(const std::vector<std::string>& args, int report_fd, bool stdin_pipe) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
  int in[2] = {-1, -1};
  if (stdin_pipe && ::pipe2(in, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
  std::vector<char*> argv;
  for (const auto& a : args)
    argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid < 0)
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Only async-signal-safe calls until exec: the parent has threads.
    if (fds[1] == report_fd)
      ::fcntl(fds[1], F_SETFD, 0);
    else if (::dup2(fds[1], report_fd) < 0)
      ::_exit(127);
    if (stdin_pipe && ::dup2(in[0], 0) < 0)
      ::_exit(127);
    ::execv("/proc/self/exe", argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  if (stdin_pipe)
    ::close(in[0]);
  return {pid, fds[0], in[1]};
}

std::string describe_status(int status) {
  if (WIFSIGNALED(status))
    return std::string("killed by signal ") + std::to_string(WTERMSIG(status));
  if (WIFEXITED(status))
    return "exited with code " + std::to_string(WEXITSTATUS(status));
  return "status " + std::to_string(status);
}

} // namespace harness
