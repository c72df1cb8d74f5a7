// The command's process (PID 2 of the cell), forked by the cell's init: it sets itself up and
// execs the job's command. Its steps, in order, are step 4.7 of docs/executor.md.
#pragma once

#include "executor/cell/handshake.h"
#include "executor/protocol/cell_fds.h"
#include "executor/protocol/launch_plan.h"

namespace cellblock {

// Async-signal-safe; never returns.
// `cell_ready` given: the command was forked early, before the init built the file system, so
// that its own set-up (the seccomp load above all) runs beside the init's; it applies the policy
// first, then waits for cell_ready before taking its working directory. Null: the cell is
// complete (the user-namespace path, whose handshake, `userns`, needs the finished cell).
[[noreturn]] void exec_command(const LaunchPlan& plan, const CellFds& fds, UsernsHandshake* userns,
                               Handshake* cell_ready) noexcept;

}  // namespace cellblock
