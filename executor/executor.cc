#include "executor/executor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cstring>
#include <filesystem>

#include "executor/block_device.h"
#include "executor/cell_launch.h"
#include "executor/cell_supervisor.h"
#include "executor/launch_plan.h"
#include "executor/sys_error.h"

namespace cellblock {
namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

CgroupLimits cgroup_limits(const Limits& limits) {
  CgroupLimits c;
  c.memory_bytes = limits.memory_bytes;
  c.cpus = limits.cpus;
  c.pids = limits.pids;
  for (size_t i = 0; i < limits.io.size(); ++i) {
    try {
      c.io.push_back(resolve_io_limit(limits.io[i]));
    } catch (const std::invalid_argument& e) {
      throw SetupError("limits.io[" + std::to_string(i) + "].device: " + e.what());
    }
  }
  return c;
}

void fill_stats(Stats& stats, const CgroupStats& c) {
  stats.cpu_time_ms = static_cast<double>(c.cpu_usage_ns) / 1e6;
  stats.cpu_user_ms = static_cast<double>(c.cpu_user_ns) / 1e6;
  stats.cpu_system_ms = static_cast<double>(c.cpu_system_ns) / 1e6;
  stats.memory_peak_bytes = c.memory_peak_bytes;
  stats.oom_kills = c.oom_kills;
  stats.pids_peak = c.pids_peak;
  stats.io_read_bytes = c.io_read_bytes;
  stats.io_write_bytes = c.io_write_bytes;
}

// Reports, limits and the OOM counter become one verdict. A limit we enforced wins; then a
// failed setup step; then the kernel's OOM kills; then how the command itself ended.
void decide(Result& r, const SupervisedCell& cell, uint64_t oom_kills) {
  if (cell.payload_wait_status) {
    int st = *cell.payload_wait_status;
    if (WIFEXITED(st)) r.exit_code = WEXITSTATUS(st);
    if (WIFSIGNALED(st)) r.signal = WTERMSIG(st);
  }
  if (cell.stopped_for) {
    r.status = *cell.stopped_for;
    if (!r.exit_code && !r.signal) r.signal = SIGKILL;
    return;
  }
  if (cell.setup_error) {
    r.status = Status::setup_error;
    r.exit_code.reset();
    r.signal.reset();
    r.error = std::string(cell.setup_error->what) + ": " + std::strerror(cell.setup_error->err);
    return;
  }
  if (oom_kills > 0) {
    r.status = Status::memory_limit;
    if (!r.exit_code && !r.signal) r.signal = SIGKILL;
    return;
  }
  if (cell.payload_wait_status) {
    r.status = r.signal ? Status::signaled : Status::exited;
    return;
  }
  r.status = Status::internal_error;
  const siginfo_t& i = cell.init_exit;
  r.error = "the cell's init ended without a report (" +
            (i.si_code == CLD_EXITED ? "exit " + std::to_string(i.si_status)
                                     : "signal " + std::to_string(i.si_status)) + ")";
}

}  // namespace

Executor::Executor(ExecutorConfig config) : config_(std::move(config)) {
  // A cell that dies between clone and "go" must not kill the supervisor with SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  host_.stage_dir = config_.state_dir + "/stage";
  host_.userns_base = config_.userns_base;
  host_.userns_size = config_.userns_size;
  std::filesystem::create_directories(host_.stage_dir);
  ::chmod(host_.stage_dir.c_str(), 0700);
  dev_null_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!dev_null_) throw_sys("open /dev/null");
  cgroups_ = make_cgroup_driver(config_.cgroup);
  for (const CrashCleanup& cleanup : clean_up_after_crashes(config_.state_dir, *cgroups_))
    for (const std::string& line : describe(cleanup)) spdlog::warn("{}", line);
  state_ = std::make_unique<SupervisorState>(config_.state_dir, cgroups_->supervisor_dirs());
}

Executor::~Executor() = default;

int Executor::cgroup_version() const { return cgroups_->version(); }

Result Executor::run(const JobSpec& job, const StopToken* stop) {
  Result result;
  result.id = job.id;
  result.stats.cgroup_version = cgroup_version();
  const Clock::time_point started = Clock::now();
  try {
    run_checked(job, stop, result);
  } catch (const SetupError& e) {
    result.status = Status::setup_error;
    result.error = e.what();
  } catch (const std::exception& e) {
    result.status = Status::internal_error;
    result.error = e.what();
  }
  if (result.stats.wall_time_ms == 0) result.stats.wall_time_ms = ms_between(started, Clock::now());
  return result;
}

void Executor::run_checked(const JobSpec& job, const StopToken* stop, Result& result) {
  // 1. plan
  if (!job.security) throw SetupError("policy " + cellblock::quoted(job.policy) + ": not loaded (no security policy, no cell)");
  const LaunchPlan plan = make_launch_plan(job, host_);
  const CgroupLimits limits = cgroup_limits(job.limits);
  // 2. cgroup, and the job's state file for a cleanup after a crash (supervisor_state.h)
  const std::string number = std::to_string(next_job_.fetch_add(1));
  std::unique_ptr<JobCgroup> cgroup = cgroups_->create(number, limits);
  SupervisorState::JobFile state = state_->job_starting("job-" + number, job.id, cgroup->paths());
  // 3. launch
  const Clock::time_point started = Clock::now();
  LaunchedCell cell = launch_cell(plan, job.stdin_data, dev_null_.get(), cgroup.get());
  // The init is in the supervisor's process group; a Ctrl-C on the terminal signals that whole
  // group, and the init would forward the SIGINT to the command at once instead of leaving the
  // decision to the supervisor (cellblock batch: a grace period). Its own group keeps the
  // terminal's signals out; the command itself is in its own session already (payload.cc).
  ::setpgid(cell.pid, cell.pid);
  state.cell_started(cell.pid);
  // 4. supervise
  SupervisedCell supervised = supervise_cell(cell, job.limits, cgroup.get(), stop, started);
  // 5. collect: every process of the cell is gone once its init has exited; the cgroup's own
  //    kill makes sure of it before the directory is removed.
  result.stats.wall_time_ms = ms_between(started, supervised.ended);
  CgroupStats stats = cgroup->stats();
  fill_stats(result.stats, stats);
  cgroup->remove();
  state.remove();
  // 6. verdict
  result.stdout_truncated = supervised.out.truncated();
  result.stderr_truncated = supervised.err.truncated();
  result.stdout_data = supervised.out.take();
  result.stderr_data = supervised.err.take();
  decide(result, supervised, stats.oom_kills);
}

}  // namespace cellblock
