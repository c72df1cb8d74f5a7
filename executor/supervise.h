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

// `output` (may be null) gets each piece of stdout and stderr as it is read (output_listener.h).
// `prestart` (may be empty) is asked once, when the cell reports namespaces_ready; its go is
// written to cell.go_write.
SupervisedCell supervise_cell(LaunchedCell& cell, const Limits& limits, JobCgroup* cgroup,
                              const StopToken* stop, OutputListener* output,
                              std::chrono::steady_clock::time_point started, const PrestartGate& prestart = {});

}  // namespace cellblock
