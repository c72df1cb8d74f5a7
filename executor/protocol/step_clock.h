// Where a launch spends its time, step by step (`cellblock run --breakdown`, bench/). The cell's
// processes take CLOCK_MONOTONIC stamps, which are comparable across processes, and send them
// with their reports; the supervisor adds its own and turns them into durations.
#pragma once

#include <time.h>

#include <cstdint>

namespace cellblock {

// Stamps taken inside the cell.
enum CellStep : int {
  init_started,      // cellblock-init's main()
  rootfs_built,      // mounts and pivot_root done
  network_up,        // hostname set, loopback up
  command_forked,    // the init's fork of the command returned
  command_started,   // the command's process runs
  security_started,  // before capabilities/no_new_privs/seccomp
  security_done,     // the seccomp filter is loaded
  cell_ready_seen,   // a command forked early learned the file system is ready
  exec_called,       // right before execve
  command_exited,    // the init reaped the command
  all_reaped,        // everything else in the cell killed and reaped
  kCellSteps
};

struct CellTimings {
  uint64_t at[kCellSteps];  // ns, CLOCK_MONOTONIC; 0 = not taken (value-initialise: `CellTimings t{}`)
};

inline uint64_t monotonic_ns() noexcept {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// CPU time of the calling process since it was forked (user + system), for the cell's own share
// of the job's CPU time (cell_report.h).
inline uint64_t process_cpu_ns() noexcept {
  timespec ts;
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return 0;
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace cellblock
