// cellblock-init: PID 1 of every cell. The supervisor execs it from a sealed memfd (so
// /proc/1/exe in a cell is never a host file the job could reach, CVE-2019-5736) and passes
// the plan as a memfd: `cellblock-init PLAN_FD`.
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "executor/cell/cell_init.h"
#include "executor/protocol/cell_report.h"

namespace {

// The plan is all there is to go on: without it there is not even a report descriptor.
std::string read_plan(int fd) {
  std::string data;
  char buf[65536];
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof buf, static_cast<off_t>(data.size()));
    if (n > 0) {
      data.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0 || errno != EINTR) break;
  }
  ::close(fd);
  return data;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  ::prctl(PR_SET_NAME, "cellblock-init", 0, 0, 0);  // exec from a memfd names it "memfd:..."
  cellblock::CellPlan cell;
  try {
    cell = cellblock::decode_cell_plan(read_plan(std::atoi(argv[1])));
  } catch (const std::exception&) {
    return 3;  // the supervisor sees an init that ended without a report: internal_error
  }
  cellblock::run_cell_init(cell);
}
