#include "jobs/images/openat2_util.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

#include "executor/base/host_file.h"
#include "executor/base/sys_error.h"

namespace cellblock::images {

int openat2_fd(int dirfd, const std::string& path, int flags, uint64_t resolve, mode_t mode) {
  struct open_how how {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.mode = (flags & O_CREAT) ? mode : 0;
  how.resolve = resolve;
  for (;;) {
    long fd = ::syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how);
    if (fd < 0 && errno == EAGAIN) continue;  // RESOLVE_IN_ROOT retries when a rename raced it
    return static_cast<int>(fd);
  }
}

UniqueFd open_in(int dirfd, const std::string& path, int flags, uint64_t resolve, const std::string& what) {
  int fd = openat2_fd(dirfd, path, flags, resolve);
  if (fd < 0) throw_sys("openat2(" + cellblock::quoted(what) + ")");
  return UniqueFd(fd);
}

std::string read_beneath(int dirfd, const std::string& path, size_t max_bytes, const std::string& what) {
  UniqueFd fd = open_in(dirfd, path, O_RDONLY | O_NOCTTY, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, what);
  std::string data;
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_sys("read(" + cellblock::quoted(what) + ")");
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() > max_bytes)
      throw std::invalid_argument(what + ": larger than " + std::to_string(max_bytes) + " bytes");
  }
  return data;
}

}  // namespace cellblock::images
