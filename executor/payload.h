// The command's process (PID 2 of the cell), forked by the cell's init. In order:
//   1. default signal dispositions and an empty mask (nothing of the supervisor's is inherited)
//   2. new session; stdin/stdout/stderr from the job
//   3. working directory, checked to be inside the cell (CVE-2024-21626 class)
//   4. rlimits
//   5. every descriptor >= 3 marked close-on-exec (CVE-2024-21626 again: no host fd leaks in)
//   6. execve, trying each PATH candidate; on failure a setup_error report, exit 127
#pragma once

#include "executor/cell_fds.h"
#include "executor/launch_plan.h"

namespace cellblock {

// Async-signal-safe; never returns.
[[noreturn]] void exec_payload(const LaunchPlan& plan, const CellFds& fds) noexcept;

}  // namespace cellblock
