// The command's process (PID 2 of the cell), forked by the cell's init. In order:
//   1. default signal dispositions and an empty mask (nothing of the supervisor's is inherited)
//   2. new session; stdin/stdout/stderr from the job
//   3. rlimits (while still privileged in the host's user namespace)
//   4. working directory, checked to be inside the cell (CVE-2024-21626 class)
//   5. optionally a user namespace: clear supplementary groups, unshare it, wait for the init to
//      write the maps (setgroups denied first)
//   6. every descriptor >= 3 marked close-on-exec (CVE-2024-21626 again: no host fd leaks in)
//   7. the security policy: capabilities and user, no_new_privs, seccomp last
//   8. execve, trying each PATH candidate; on failure a setup_error report, exit 127
#pragma once

#include "executor/protocol/cell_fds.h"
#include "executor/protocol/launch_plan.h"

namespace cellblock {

// Async-signal-safe; never returns.
// `cell_ready` >= 0: the command was forked early, before the init built the file system, so
// that its own set-up (the seccomp load above all) runs beside the init's; it applies the policy
// first, then waits for a byte on `cell_ready` before taking its working directory. -1: the cell
// is complete (the user-namespace path, whose handshake needs the finished cell).
[[noreturn]] void exec_payload(const LaunchPlan& plan, const CellFds& fds, const UsernsSync& userns,
                               int cell_ready) noexcept;

}  // namespace cellblock
