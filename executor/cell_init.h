// PID 1 of the cell. It is a clone() of the supervisor that never calls execve, so everything it
// runs is async-signal-safe (no malloc, no locks, no exceptions, no logging). In order:
//   1. join the job's cgroup (v1; v2 was placed there by clone)
//   2. keep only the cell's descriptors (the clone copied every fd the supervisor had)
//   3. die with the supervisor (PR_SET_PDEATHSIG), and exit if it is already gone
//   4. new cgroup namespace rooted at the job's cgroup
//   5. file system (rootfs.h), hostname, loopback
//   6. not dumpable: the command cannot open /proc/1/mem or /proc/1/exe (CVE-2019-5736 class)
//   7. fork the command (payload.h), then reap every process that ends up here
//   8. when the command exits: SIGKILL everything left, reap it, report the command's status
// SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent from outside the cell are forwarded
// to the command; from inside they are ignored (init cannot be killed by the job).
#pragma once

#include "executor/cell_fds.h"
#include "executor/launch_plan.h"

namespace cellblock {

struct InitOptions {
  // v1: the job cgroup's `tasks` file in each hierarchy; the init joins by writing "0" to each,
  // which the kernel does without the global threadgroup lock (and its RCU grace period) that
  // moving another process takes. v2 places the child at clone (CLONE_INTO_CGROUP) instead.
  static constexpr int kMaxJoinFds = 8;
  int cgroup_join_fds[kMaxJoinFds];
  int cgroup_join_count = 0;
  bool unshare_cgroup_ns = true; // false when clone() already made the cgroup namespace
  // Where the supervisor's argv and environment strings are (/proc/self/stat), to wipe them.
  unsigned long arg_start = 0, arg_end = 0, env_start = 0, env_end = 0;
};

// Reads the supervisor's argv/environment address range once (supervisor side).
void find_supervisor_strings(InitOptions& options);

[[noreturn]] void run_cell_init(const LaunchPlan& plan, const CellFds& fds, const InitOptions& options) noexcept;

}  // namespace cellblock
