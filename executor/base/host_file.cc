#include "executor/base/host_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "executor/base/sys_error.h"

namespace cellblock {

std::optional<std::string> read_at_most(int fd, uint64_t max, const std::string& what) {
  std::string data;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      if (data.size() + static_cast<uint64_t>(n) > max) return std::nullopt;
      data.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return data;
    if (errno != EINTR) throw_sys("read(" + what + ")");
  }
}

std::string read_all(int fd, const std::string& what) { return *read_at_most(fd, UINT64_MAX, what); }

std::string read_host_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw_sys("open(" + quoted(path) + ")");
  return read_all(fd.get(), quoted(path));
}

void write_all(int fd, std::string_view data, const std::string& what) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_sys("write(" + what + ")");
    done += static_cast<size_t>(n);
  }
}

HostOutputFile::HostOutputFile(const std::string& path)
    : fd_(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)), path_(path) {
  if (!fd_) throw_sys("open(" + quoted(path) + ", O_WRONLY|O_CREAT|O_TRUNC)");
}

void HostOutputFile::write(std::string_view data) { write_all(fd_.get(), data, quoted(path_)); }

}  // namespace cellblock
