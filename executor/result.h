// How one job ended, as plain C++. jobs/ turns it into JSON.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "executor/cgroup/cgroup_counters.h"
#include "executor/hooks.h"

namespace cellblock {

enum class Status {
  exited,           // the command exited on its own; exit_code is set
  signaled,         // the command was killed by a signal it did not get from us; signal is set
  wall_time_limit,
  cpu_time_limit,
  memory_limit,     // the kernel OOM-killed something in the cell
  output_limit,     // stdout or stderr passed output_bytes
  setup_error,      // the cell could not be built or the command not started; error says why
  internal_error,   // cellblock itself failed; error says why
  cancelled,        // stopped on request (queue cancel, shutdown)
  // Set by the queue (jobs/), never by the executor:
  queue_timeout,    // waited longer than queue_timeout_ms without starting
  invalid_job,      // the job could not be parsed or validated; error says where and why
};

std::string_view to_string(Status s) noexcept;
std::optional<Status> status_from_string(std::string_view s) noexcept;

// The cgroup's counters as it read them (memory_peak_bytes, oom_kills, pids_peak,
// io_read_bytes, io_write_bytes), and the times.
struct Stats : CgroupCounters {
  double wall_time_ms = 0;
  double cpu_time_ms = 0;
  double cpu_user_ms = 0;
  double cpu_system_ms = 0;
  double setup_cpu_ms = 0;  // the cell's own work (set-up, measured in the cell; its exit), left out of cpu_time_ms
  int cgroup_version = 0;
};

// One launch step and how long it took, in the order they happen (JobSpec::breakdown).
struct StepTime {
  std::string step;
  double ms;
};

// A file read from a job's working directory after it ran (WorkDir::read_file). The job
// controlled that tree, so anything but a regular file within the cap is refused, with why.
struct FileRead {
  enum Outcome { ok, missing, not_regular, too_large, failed } outcome = failed;
  std::string content;  // when ok
  std::string message;  // otherwise: what happened, for the client
};

// One JobSpec::collect entry as it turned out.
struct CollectedFile {
  std::string path;
  FileRead read;
  // Kept by the service (CollectFile::keep): the file store's id and the size; read.content is
  // then empty.
  std::string file_id;
  uint64_t file_bytes = 0;
};

struct ServiceResult;

struct Result {
  std::string id;
  Status status = Status::internal_error;
  std::optional<int> exit_code;
  std::optional<int> signal;
  std::optional<std::string> error;
  std::string stdout_data;
  std::string stderr_data;
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  std::vector<CollectedFile> collected;  // JobSpec::collect, in its order
  Stats stats;
  std::vector<StepTime> breakdown;  // empty unless the job asked for it
  // A pod's services (JobSpec::services), in its order: each one's own status, stats and logs
  // (capped by its own output_bytes). One stopped because the job's command ended is `cancelled`.
  std::vector<ServiceResult> services;
  // The operator's hooks that ran for this job (hooks.h), prestart then poststop, in order.
  std::vector<HookRun> hooks;
};

struct ServiceResult {
  std::string name;
  Result result;
};

}  // namespace cellblock
