// Watching a running cell from the supervisor: captures stdout and stderr under their cap,
// enforces the wall-clock and CPU-time limits, honours a stop request, and collects the cell's
// reports until its init has exited. Kills the whole cell (SIGKILL to its init, which takes the
// pid namespace with it) as soon as any limit is hit.
#pragma once

#include <signal.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "executor/capped_output.h"
#include "executor/launch.h"
#include "executor/protocol/cell_report.h"
#include "executor/job_spec.h"
#include "executor/output_listener.h"
#include "executor/result.h"

namespace cellblock {

class JobCgroup;
class StopToken;

struct SupervisedCell {
  std::optional<Status> stopped_for;        // the limit (or cancel) we killed the cell for
  std::optional<CellReport> setup_error;    // a step of building the cell failed
  std::optional<int> command_wait_status;   // the command ended; raw waitpid() status
  CellTimings steps{};                      // stamps from the cell (breakdown only)
  uint64_t setup_cpu_ns = 0;                // the init's and the command's set-up CPU time
  // The cgroup's CPU counter when the init reported the command's end, after it had killed and
  // reaped every other process: all the job's CPU time is in it, and what the counter gains
  // later is the init's exit (the cell's namespaces and mounts torn down), not the job's.
  std::optional<uint64_t> cpu_at_command_exit_ns;
  siginfo_t init_exit{};                    // how the init itself ended
  CappedOutput out{0}, err{0};
  std::chrono::steady_clock::time_point ended;
  // The prestart gate's answer when it refused (the job is a setup_error with this text), and
  // how long the gate held the cell: that time is not the job's (its wall-time limit is moved
  // on by it, and Result's wall_time_ms leaves it out).
  std::optional<std::string> prestart_error;
  std::chrono::steady_clock::duration held{};
};

// Runs the prestart hooks when the cell says its namespaces exist (CellReport::namespaces_ready):
// nothing to let the command start, or why the job must end as setup_error.
using PrestartGate = std::function<std::optional<std::string>()>;

// One cell's supervision as a state machine, so that one thread can watch many cells
// (cell_watcher.h) as well as one (supervise_cell below). It owns no descriptor: it names the
// ones to wait on, and is told which are ready and what time it is.
//
// `output` (may be null) gets each piece of stdout and stderr as it is read (output_listener.h).
// `prestart` (may be empty) is asked once, when the cell reports namespaces_ready, on the thread
// that calls step(); its go is written to cell.go_write.
class Supervision {
 public:
  enum Slot { kPidfd, kStdout, kStderr, kReport, kStop, kSlots };
  using Clock = std::chrono::steady_clock;

  Supervision(LaunchedCell& cell, const Limits& limits, JobCgroup* cgroup, const StopToken* stop,
              OutputListener* output, Clock::time_point started, PrestartGate prestart = {});

  // The descriptor to wait on (for POLLIN) in each slot, -1 for none.
  int fd(Slot slot) const { return fds_[slot]; }
  // When step() must run again even if nothing is ready.
  Clock::time_point next_wake() const;
  // Handles the ready slots (`ready[slot]`), then the clocks at `now`. Throws SysError on a
  // failed read or waitid: the cell is then killed by its caller's cleanup (the cgroup's).
  void step(const bool (&ready)[kSlots], Clock::time_point now);
  // The init has exited and the pipes are drained (or their grace period has passed).
  bool done(Clock::time_point now) const;
  // The job's outcome is known before its cell is gone: the command has exited, the init has
  // killed and reaped every other process and said so, and stdout and stderr are at their end.
  // What is left, the init's own exit (which tears down the cell's mounts and namespaces) and
  // the cgroup's removal, changes nothing in the result, so a caller may hand the result on
  // first (Executor::run_async). Never after a kill: a limit, a cancel or a setup error waits
  // for the init as before.
  bool answerable() const;
  // The caller has taken the outcome (answerable() was true): from now on no limit is enforced
  // and the stop token and the output listener are not used again (they may go); the
  // supervision only waits for the init's exit. The job's wall time ends `now`.
  void answered(Clock::time_point now);
  SupervisedCell& result() { return s_; }

 private:
  void kill_cell(Status why);

  LaunchedCell& cell_;
  JobCgroup* cgroup_;
  OutputListener* output_;
  PrestartGate prestart_;
  SupervisedCell s_;
  int fds_[kSlots];
  Clock::time_point deadline_;
  uint64_t cpu_limit_ns_;
  Clock::time_point next_cpu_;
  bool sample_pids_;
  Clock::time_point next_sample_;
  bool init_exited_ = false;
  bool killed_ = false;
  bool answered_ = false;
  // After the init has exited every process of the cell is gone, so the pipes reach
  // end-of-file at once; the grace period only guards against a bug holding a write end.
  Clock::time_point drain_until_ = Clock::time_point::max();
};

// Supervises one cell on this thread until it is done (ppoll over its descriptors).
SupervisedCell supervise_cell(LaunchedCell& cell, const Limits& limits, JobCgroup* cgroup,
                              const StopToken* stop, OutputListener* output,
                              std::chrono::steady_clock::time_point started, const PrestartGate& prestart = {});

}  // namespace cellblock
