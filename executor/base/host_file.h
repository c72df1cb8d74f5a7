// Reading and writing whole host files through descriptors that are O_CLOEXEC from the moment
// they exist (docs/architecture.md, "Rules"): std::ifstream/ofstream open without it, and a
// supervisor that forks while another thread holds such a stream would leak it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "executor/base/unique_fd.h"

namespace cellblock {

// The whole file. Throws SysError naming the call and the path.
std::string read_host_file(const std::string& path);
// Everything readable from fd until end-of-file (e.g. stdin). Throws SysError.
std::string read_all(int fd, const std::string& what);
// The same, but none (after reading at most max + 64 KiB) when there is more than `max` bytes.
std::optional<std::string> read_at_most(int fd, uint64_t max, const std::string& what);

// A file written line by line, e.g. `cellblock batch --out`. Creates or truncates it.
class HostOutputFile {
 public:
  explicit HostOutputFile(const std::string& path);  // throws SysError
  void write(std::string_view data);                  // throws SysError
  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
  std::string path_;
};

// Writes all of `data` to fd (retrying short writes and EINTR). Throws SysError.
void write_all(int fd, std::string_view data, const std::string& what);

}  // namespace cellblock
