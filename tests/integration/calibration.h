// How fast this machine is right now, measured in the same test run, for tests that must give a
// job the time its work needs. Machines of one kind differ (bare fork/exec took 0.55 ms on one
// and 1.74 ms on another) and CI may share the CPUs with other work, so a limit that is only
// there to let work finish is derived from these figures instead of written down. They are never
// a pass/fail threshold themselves: "fast enough" and "linear" are proved by ratios inside one
// test, and speed targets live in bench/ (docs/testing.md).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "tests/integration/cell_test_util.h"

namespace cellblock::test {

namespace detail {

// One process created and reaped on the host, in ms: fork, _exit, waitpid, the median of several
// batches so that one preempted batch does not decide it.
inline double measure_fork_ms() {
  constexpr int kBatches = 5, kPerBatch = 40;
  std::vector<double> per_fork;
  for (int b = 0; b < kBatches; ++b) {
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < kPerBatch; ++i) {
      pid_t pid = ::fork();
      if (pid == 0) ::_exit(0);
      if (pid > 0) ::waitpid(pid, nullptr, 0);
    }
    per_fork.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() /
                       kPerBatch);
  }
  std::nth_element(per_fork.begin(), per_fork.begin() + kBatches / 2, per_fork.end());
  return per_fork[kBatches / 2];
}

}  // namespace detail

// Measured once per test process, at first use; printed so a failure's log shows the machine.
inline double fork_ms() {
  static const double ms = [] {
    double m = detail::measure_fork_ms();
    std::printf("[ calibrate] one fork+exit+wait on this host: %.3f ms\n", m);
    return m;
  }();
  return ms;
}

// One whole trivial job (`true` in a cell) as the executor reports its wall time, in ms: the
// median of five, measured once per test process at first use.
inline double job_ms() {
  static const double ms = [] {
    std::vector<double> walls;
    for (int i = 0; i < 5; ++i) walls.push_back(run(sh("true")).stats.wall_time_ms);
    std::nth_element(walls.begin(), walls.begin() + 2, walls.end());
    std::printf("[ calibrate] one trivial job through the executor: %.3f ms\n", walls[2]);
    return walls[2];
  }();
  return ms;
}

// How long past the moment something should happen (a limit reached, a signal sent) a test
// allows for the supervisor to act on it and the cell to end: ten trivial jobs' worth of time
// here and now, and never less than `floor_ms`. Only an upper bound for "promptly"; a test that
// needs a lower bound uses the limit itself.
inline double promptly_ms(double floor_ms = 100) { return std::max(floor_ms, 10 * job_ms()); }

// A wall-clock budget for a job that creates `processes` processes before the test's point is
// reached: `base_ms` plus `headroom` times what that many forks take on the host now. A process
// in a cell costs about what a bare fork does (measured: 10,000 zombies in a cell took 1.0 ms
// each where the host's fork took 0.75-0.95 ms), and the machine may get busier after the
// measurement. A limit that only lets work finish costs nothing when the work ends early, so it
// takes ten times; a limit the test waits out (a job that holds what it made until it is killed)
// takes less.
inline uint64_t wall_ms_for_processes(uint64_t base_ms, uint64_t processes, double headroom = 10) {
  return base_ms + static_cast<uint64_t>(headroom * fork_ms() * static_cast<double>(processes));
}

}  // namespace cellblock::test
