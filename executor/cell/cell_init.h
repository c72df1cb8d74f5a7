// PID 1 of the cell: the `cellblock-init` executable (executor/cell/init_main.cc), exec'd from a
// sealed memfd (executor/cell_image.h) right after clone, with the job's plan in a memfd. A
// fresh, single-threaded process with no memory of the supervisor's. Its steps, in order, are
// step 4 of docs/executor.md; run_cell_init() calls them one by one (cell_init.cc).
// SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent from outside the cell are forwarded
// to the command; from inside they are ignored (init cannot be killed by the job).
#pragma once

#include "executor/protocol/cell_plan_codec.h"

namespace cellblock {

[[noreturn]] void run_cell_init(const CellPlan& cell) noexcept;

}  // namespace cellblock
