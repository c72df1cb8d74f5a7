// PID 1 of the cell: the `cellblock-init` executable (executor/init/main.cc), exec'd from a
// sealed memfd (cell_image.h) right after clone, with the job's plan in a memfd. A fresh,
// single-threaded process with no memory of the supervisor's. In order:
//   1. keep only the cell's descriptors
//   2. die with the supervisor (PR_SET_PDEATHSIG), and exit if it is already gone
//   3. new cgroup namespace rooted at the job's cgroup (v1; on v2 clone3 made it)
//   4. file system (rootfs.h), hostname, loopback
//   5. not dumpable: the command cannot open /proc/1/mem or /proc/1/exe
//   6. fork the command (payload.h), then reap every process that ends up here
//   7. when the command exits: SIGKILL everything left, reap it, report the command's status
// SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent from outside the cell are forwarded
// to the command; from inside they are ignored (init cannot be killed by the job).
#pragma once

#include "executor/protocol/cell_plan_codec.h"

namespace cellblock {

[[noreturn]] void run_cell_init(const CellPlan& cell) noexcept;

}  // namespace cellblock
