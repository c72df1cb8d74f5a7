#include "executor/protocol/cell_report.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace cellblock {

void send_report(int fd, const CellReport& report) noexcept {
  ssize_t n;
  do n = ::write(fd, &report, sizeof report); while (n < 0 && errno == EINTR);
}

void send_setup_error(int fd, const char* what, int err) noexcept {
  CellReport r{};
  r.kind = CellReport::setup_error;
  r.err = err;
  size_t i = 0;
  for (; what && what[i] && i + 1 < sizeof r.what; ++i) r.what[i] = what[i];
  r.what[i] = '\0';
  send_report(fd, r);
}

}  // namespace cellblock
