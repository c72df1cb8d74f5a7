#include "executor/executor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "executor/block_device.h"
#include "executor/crash_cleanup.h"
#include "executor/cell_image.h"
#include "executor/cell_watcher.h"
#include "executor/launch.h"
#include "executor/net/nft.h"
#include "executor/pod.h"
#include "executor/supervise.h"
#include "executor/work_dir.h"
#include "executor/plan.h"
#include "executor/protocol/step_clock.h"
#include "executor/base/sys_error.h"

namespace cellblock {
namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Each cell of a pod enters the pod's network namespace through a descriptor of its own.
UniqueFd dup_fd(const UniqueFd& fd) {
  UniqueFd copy(::fcntl(fd.get(), F_DUPFD_CLOEXEC, 3));
  if (!copy) throw_sys("dup the pod's network namespace");
  return copy;
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

// The cgroup counts the cell's own work with the job's: the init's mounts, forks and reaping and
// the command's set-up before exec, about 2-3 ms, and then the init's exit, which tears down the
// cell's mounts and namespaces (0.5-1 ms). The first two measure themselves (cell_report.h); the
// exit is what the counter gained after the init reported the command's end
// (`cpu_at_command_exit_ns`). All of it is taken out, from system time first (it is mostly
// system time), so that a judge sees what the program used. A cell killed by a limit sends no
// init figure: then only the command's set-up is taken out.
void fill_stats(Stats& stats, const CgroupStats& c, const SupervisedCell& supervised) {
  const uint64_t teardown = supervised.cpu_at_command_exit_ns && *supervised.cpu_at_command_exit_ns < c.cpu_usage_ns
                                ? c.cpu_usage_ns - *supervised.cpu_at_command_exit_ns
                                : 0;
  const uint64_t setup = std::min(supervised.setup_cpu_ns + teardown, c.cpu_usage_ns);
  const uint64_t from_system = std::min(setup, c.cpu_system_ns);
  const uint64_t from_user = std::min(setup - from_system, c.cpu_user_ns);
  stats.cpu_time_ms = static_cast<double>(c.cpu_usage_ns - setup) / 1e6;
  stats.cpu_user_ms = static_cast<double>(c.cpu_user_ns - from_user) / 1e6;
  stats.cpu_system_ms = static_cast<double>(c.cpu_system_ns - from_system) / 1e6;
  stats.setup_cpu_ms = static_cast<double>(setup) / 1e6;
  static_cast<CgroupCounters&>(stats) = c;
}

// A bridged cell sees the configured resolvers at /etc/resolv.conf: the bridge's file bound
// read-only over it, in the cell's own mount namespace (the rootfs is never written).
JobSpec with_resolv_conf(const JobSpec& job, const Bridge& bridge) {
  JobSpec out = job;
  out.mounts.push_back(BindMount{bridge.resolv_conf(), "/etc/resolv.conf", /*readonly=*/true});
  return out;
}

// Reports, limits and the OOM counter become one verdict. A limit we enforced wins; then a
// failed setup step; then the kernel's OOM kills; then how the command itself ended.
void decide(Result& r, const SupervisedCell& cell, uint64_t oom_kills) {
  if (cell.prestart_error) {  // the command never started
    r.status = Status::setup_error;
    r.error = *cell.prestart_error;
    return;
  }
  if (cell.command_wait_status) {
    int st = *cell.command_wait_status;
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
  if (cell.command_wait_status) {
    r.status = r.signal ? Status::signaled : Status::exited;
    return;
  }
  r.status = Status::internal_error;
  const siginfo_t& i = cell.init_exit;
  r.error = "the cell's init ended without a report (" +
            (i.si_code == CLD_EXITED ? "exit " + std::to_string(i.si_status)
                                     : "signal " + std::to_string(i.si_status)) + ")";
}

// The launch as a timeline: stamps from the supervisor and the cell sorted by time, each entry
// the time from the previous event to this one. Parts of the cell run side by side (the
// command's set-up beside the init's mounts), so this is the critical path, not a sum of steps.
std::vector<StepTime> breakdown_of(std::vector<std::pair<const char*, uint64_t>> stamps) {
  std::erase_if(stamps, [](const auto& s) { return s.second == 0; });  // steps that did not happen
  std::stable_sort(stamps.begin(), stamps.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  std::vector<StepTime> steps;
  for (size_t i = 1; i < stamps.size(); ++i)
    steps.push_back({stamps[i].first, static_cast<double>(stamps[i].second - stamps[i - 1].second) / 1e6});
  if (stamps.size() > 1)
    steps.push_back({"total", static_cast<double>(stamps.back().second - stamps.front().second) / 1e6});
  return steps;
}

}  // namespace

Executor::Executor(ExecutorConfig config) : config_(std::move(config)) {
  // A cell that dies between clone and "go" must not kill the supervisor with SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  host_.stage_dir = config_.state_dir + "/stage";
  work_root_ = config_.state_dir + "/work";
  host_.userns_base = config_.userns_base;
  host_.userns_size = config_.userns_size;
  std::filesystem::create_directories(host_.stage_dir);
  ::chmod(host_.stage_dir.c_str(), 0700);
  dev_null_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!dev_null_) throw_sys("open /dev/null");
  init_image_ = make_cell_image(config_.state_dir);
  netns_pool_ = std::make_unique<NetnsPool>(config_.netns_pool);
  if (config_.open_nftables_early) {
    try {
      nft_prepare();  // bridged jobs' rules: the socket opened while descriptor numbers are low
    } catch (const std::exception& e) {
      // Only bridged jobs need it, and they get this reason again as their setup error.
      spdlog::debug("bridged jobs will fail: {}", e.what());
    }
  }
  cgroups_ = make_cgroup_driver(config_.cgroup);
  for (const CrashCleanup& cleanup : clean_up_after_crashes(config_.state_dir, *cgroups_))
    for (const std::string& line : describe(cleanup)) spdlog::warn("{}", line);
  state_ = SupervisorState::shared(config_.state_dir, cgroups_->supervisor_dirs());
  // Working directories are named "<pid>-<n>": several supervisors (a `cellblock run` beside a
  // `cellblock serve`) share the state directory, so only those of dead processes are removed.
  WorkDir::remove_leftovers(work_root_, [](const std::string& name) {
    const int pid = std::atoi(name.c_str());
    return pid > 0 && (::kill(pid, 0) == 0 || errno == EPERM);
  });
}

Executor::~Executor() = default;

Bridge& Executor::bridge() {
  std::lock_guard lock(bridge_mutex_);
  if (!bridge_) {
    try {
      bridge_ = std::make_unique<Bridge>(config_.bridge, config_.state_dir, own_supervisor_dir_name());
    } catch (const NetworkError& e) {
      throw SetupError(std::string("network: ") + e.what());
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string("network: making the bridge: ") + e.what());
    }
  }
  return *bridge_;
}

std::unique_ptr<BridgeLease> Executor::attach_to_bridge(const JobSpec& job, UniqueFd& netns,
                                                     SupervisorState::JobFile& state) {
  Bridge& b = bridge();
  std::unique_ptr<BridgeLease> lease;
  try {
    lease = b.attach(std::move(netns), job.egress, job.egress_allow);
  } catch (const NetworkError& e) {
    throw SetupError(std::string("network: ") + e.what());
  }
  state.network_attached(b.addressing().name, ipv4_to_string(lease->address()), lease->veth());
  netns = lease->take_netns();
  return lease;
}

Executor::PodBridge Executor::attach_pod_to_bridge(const JobSpec& job, const PodNamespaces& ns) {
  PodBridge pod;
  pod.state = state_->job_starting("pod-" + std::to_string(next_job_.fetch_add(1)), job.id, {});
  UniqueFd netns = dup_fd(ns.net);
  pod.lease = attach_to_bridge(job, netns, pod.state);
  return pod;
}

int Executor::cgroup_version() const { return cgroups_->version(); }

Result Executor::run(const JobSpec& job, const StopToken* stop, OutputListener* output) {
  return job.services.empty() ? run_cell(job, stop, output, nullptr) : run_pod(job, stop, output);
}

namespace {

// A fresh result for `job`, before anything is known of it.
Result empty_result(const JobSpec& job, int cgroup_version) {
  Result result;
  result.id = job.id;
  result.stats.cgroup_version = cgroup_version;
  return result;
}

// Runs `steps`; a failure becomes the result's status and error (Executor::run never throws
// for a job). The wall time is from `started` when the steps did not set it.
template <class Steps>
void guarded(Result& result, Clock::time_point started, Steps steps) {
  try {
    steps();
  } catch (const SetupError& e) {
    result.status = Status::setup_error;
    result.error = e.what();
  } catch (const std::exception& e) {
    result.status = Status::internal_error;
    result.error = e.what();
  }
  if (result.stats.wall_time_ms == 0) result.stats.wall_time_ms = ms_between(started, Clock::now());
}

}  // namespace

Result Executor::run_cell(const JobSpec& job, const StopToken* stop, OutputListener* output, const PodNamespaces* pod,
                          CellRole role) {
  Result result = empty_result(job, cgroup_version());
  guarded(result, Clock::now(), [&] { run_checked(job, stop, output, result, pod, role); });
  return result;
}

bool Executor::runs_async(const JobSpec& job) const {
  // A pod waits on its services and the operator's hooks run host programs: either would hold
  // the watcher's thread. Files in are written before the launch, on the caller's thread; files
  // out are read by the watcher, at most each file's max_bytes.
  return job.services.empty() && config_.hooks.empty();
}

void Executor::run_async(const JobSpec& job, const StopToken* stop, OutputListener* output,
                         std::function<void(Result)> done, std::function<void()> released) {
  // Each path calls done, then released: the answer first, the slot after.
  auto release = [released = std::move(released)] {
    if (released) released();
  };
  if (!runs_async(job)) {
    done(run(job, stop, output));
    return release();
  }
  const Clock::time_point started = Clock::now();
  auto result = std::make_shared<Result>(empty_result(job, cgroup_version()));
  std::shared_ptr<Running> running;
  std::unique_ptr<Supervision> supervision;
  CellWatcher* cells = nullptr;
  // Nothing may escape to the caller's thread (a queue's launcher): no descriptor for the stop
  // token or the watcher (EMFILE in a busy supervisor) is the job's internal_error, like a
  // failed pipe in begin().
  guarded(*result, started, [&] {
    running = begin(job, nullptr, CellRole::job);
    supervision = std::make_unique<Supervision>(running->cell, job.limits, running->cgroup.get(), stop, output,
                                                running->started);
    cells = &watcher();
  });
  if (!cells) {
    if (running) running->reset();  // the cgroup's removal kills the cell if it was launched
    done(std::move(*result));
    return release();
  }
  auto hand_on = std::make_shared<std::function<void(Result)>>(std::move(done));
  auto answered = std::make_shared<bool>(false);  // both callbacks run on the watcher's thread
  std::string job_id = job.id;                     // for the log: the job may be gone after the answer
  // Not guarded(): once watch() has returned, `result` is the watcher's, which may be filling it
  // in already. Only a throwing watch(), which took nothing over, leaves it to this thread.
  try {
    cells->watch(
        std::move(supervision),
        [this, running, result, started, hand_on, answered, job_id, release](SupervisedCell* supervised,
                                                                             std::exception_ptr error) {
          if (*answered) {
            // The result has gone already: what is left is given back. A failure here is the
            // host's, not the job's: logged, and the cleanup after a crash or the next start
            // takes what could not be removed.
            try {
              if (error) std::rethrow_exception(error);
              release_after_answer(*running);
            } catch (const std::exception& e) {
              spdlog::error("after job {}'s result: {}", cellblock::quoted(job_id), e.what());
            }
            running->reset();
            return release();
          }
          guarded(*result, started, [&] {
            if (error) std::rethrow_exception(error);
            finish(*running, *supervised, *result);
          });
          // What finish() has not given back yet (after a failure: the cgroup, whose removal kills
          // what is left of the cell, the state file, the lease) goes before the result is handed on.
          running->reset();
          (*hand_on)(std::move(*result));
          release();
        },
        [this, running, result, started, hand_on, answered](SupervisedCell& supervised) {
          *answered = true;
          guarded(*result, started, [&] { answer(*running, supervised, *result); });
          (*hand_on)(std::move(*result));
        });
  } catch (const std::exception& e) {  // no thread to watch the cell
    result->status = Status::internal_error;
    result->error = e.what();
    result->stats.wall_time_ms = ms_between(started, Clock::now());
    running->reset();
    (*hand_on)(std::move(*result));
    release();
  }
}

CellWatcher& Executor::watcher() {
  std::call_once(watcher_made_, [this] { watcher_ = std::make_unique<CellWatcher>(); });
  return *watcher_;
}

// A job with files in or out gets a private tmpfs at /w (work_dir.h), as large as its writable
// layer: its files are written there before the command starts (begin) and collected from there
// after (finish), under the tmpfs's root whatever the job left behind. The directory is gone
// before the result.
std::unique_ptr<WorkDir> Executor::make_work_dir(const JobSpec& job) {
  const std::string path = work_root_ + "/" + std::to_string(::getpid()) + "-" + std::to_string(next_work_.fetch_add(1));
  std::unique_ptr<WorkDir> work;
  try {
    std::filesystem::create_directories(work_root_);
    work = std::make_unique<WorkDir>(path, job.limits.writable_bytes);
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("the working directory ") + kCellWorkDir + ": " + e.what());
  }
  const std::string prefix = std::string(kCellWorkDir) + "/";
  for (const InputFile& f : job.files) {
    // The job format admits only paths under /w (jobs/format/cell_path.h); anything else here
    // is a caller's bug, refused rather than written somewhere unexpected.
    if (!f.path.starts_with(prefix)) throw SetupError("files." + f.path + ": not under " + kCellWorkDir);
    try {
      work->write_file(f.path.substr(prefix.size()), f.content);
    } catch (const std::exception& e) {
      throw SetupError("files." + f.path + ": " + e.what());
    }
  }
  return work;
}

namespace {

void collect_files(const JobSpec& job, const WorkDir& work, Result& result) {
  const std::string prefix = std::string(kCellWorkDir) + "/";
  for (const CollectFile& c : job.collect) {
    CollectedFile& out = result.collected.emplace_back();
    out.path = c.path;
    if (c.path.starts_with(prefix)) out.read = work.read_file(c.path.substr(prefix.size()), c.max_bytes);
    else out.read.message = std::string("not under ") + kCellWorkDir;
  }
}

}  // namespace

// Steps 1 to 4: everything until the cell's init runs. Throws SetupError for the job's own
// faults, anything else for the host's.
std::shared_ptr<Executor::Running> Executor::begin(const JobSpec& job, const PodNamespaces* pod, CellRole role) {
  auto r = std::make_shared<Running>(job);
  r->t_start = monotonic_ns();
  // 0. files in and out: the job's /w (make_work_dir), bound where the plan mounts it
  std::optional<JobSpec> with_work;
  if (!job.files.empty() || !job.collect.empty()) {
    r->work = make_work_dir(job);
    with_work = job;
    with_work->mounts.push_back(BindMount{r->work->path(), kCellWorkDir, /*readonly=*/false});
  }
  const JobSpec& planned = with_work ? *with_work : job;
  // 1. plan (plan.h)
  if (!job.security) throw SetupError("policy " + cellblock::quoted(job.policy) + ": not loaded (no security policy, no cell)");
  if (job.network != NetworkMode::bridge && (job.egress || !job.egress_allow.empty()))
    throw SetupError("egress: only for \"network\": \"bridge\" (this job's network is \"none\")");
  Bridge* bridge = job.network == NetworkMode::bridge ? &this->bridge() : nullptr;
  std::optional<JobSpec> bridged;
  if (bridge) bridged = with_resolv_conf(planned, *bridge);
  const LaunchPlan plan = make_launch_plan(bridged ? *bridged : planned, host_);
  const CgroupLimits limits = cgroup_limits(job.limits);
  // 2. cgroup (cgroup/cgroup.h), and the job's state file for a cleanup after a crash
  //    (supervisor_state.h)
  r->t_planned = monotonic_ns();
  const std::string number = std::to_string(next_job_.fetch_add(1));
  r->cgroup = cgroups_->create(number, limits);
  r->state = state_->job_starting("job-" + number, job.id, r->cgroup->paths());
  r->t_cgroup = monotonic_ns();
  // 2b. a bridged job's lease, veth and rules (net/bridge.h), recorded in its state. A pod's
  //     cells share the pod's namespace, which the pod attached once for all of them (pod.cc).
  UniqueFd netns = pod ? dup_fd(pod->net) : netns_pool_->take();
  if (bridge && !pod) r->lease = attach_to_bridge(job, netns, r->state);
  r->t_network = monotonic_ns();
  // 3. launch (launch.h); 4., the cell's init, runs in the cell from here (cell/cell_init.h);
  //    with prestart hooks it holds the command until they have run (hooks.h)
  r->hooked = role == CellRole::job && !config_.hooks.empty();
  r->prestart = r->hooked && !config_.hooks.prestart.empty();
  r->started = Clock::now();
  r->cell = launch_cell({.plan = plan,
                         .stdin_data = job.stdin_data,
                         .stdin_read = job.handed.stdin_read ? job.handed.stdin_read->get() : -1,
                         .stdout_write = job.handed.stdout_write ? job.handed.stdout_write->get() : -1,
                         .dev_null = dev_null_.get(),
                         .init_image = init_image_.get(),
                         .cgroup = r->cgroup.get(),
                         .netns = std::move(netns),
                         .ipcns = pod ? pod->ipc.get() : -1,
                         .wait_for_go = r->prestart});
  r->state.cell_started(r->cell.pid);
  return r;
}

void Executor::run_checked(const JobSpec& job, const StopToken* stop, OutputListener* output, Result& result,
                           const PodNamespaces* pod, CellRole role) {
  std::shared_ptr<Running> r = begin(job, pod, role);
  // 5. supervise (supervise.h), the prestart hooks when the cell's namespaces exist
  PrestartGate gate;
  if (r->prestart) gate = [&] { return run_prestart_hooks(job, r->cell.pid, *r->cgroup, result); };
  SupervisedCell supervised = supervise_cell(r->cell, job.limits, r->cgroup.get(), stop, output, r->started, gate);
  finish(*r, supervised, result);
}

namespace {

// The launch's stamps, from the supervisor and the cell, up to the init's report of the
// command's end; finish() and answer() add what came after.
std::vector<std::pair<const char*, uint64_t>> launch_stamps(uint64_t t_start, uint64_t t_planned, uint64_t t_cgroup,
                                                            uint64_t t_network, const CellTimings& c) {
  return {{"start", t_start},
          {"plan", t_planned},
          {"cgroup_create", t_cgroup},
          {"network_attach", t_network},
          {"launch_init", c.at[init_started]},
          {"rootfs", c.at[rootfs_built]},
          {"network", c.at[network_up]},
          {"init_forked_command", c.at[command_forked]},
          {"fork_command", c.at[command_started]},
          {"command_setup", c.at[security_started]},
          {"security", c.at[security_done]},
          {"handoff", c.at[cell_ready_seen]},
          {"cwd", c.at[exec_called]},
          {"exec_and_run", c.at[command_exited]},
          {"reap", c.at[all_reaped]}};
}

uint64_t ns_of(Clock::time_point t) {
  // steady_clock is CLOCK_MONOTONIC on Linux: the same clock as the cell's stamps.
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count());
}

}  // namespace

// Step 6: the statistics, read while the cgroup is still there; the job's wall time.
CgroupStats Executor::collect_stats(Running& r, const SupervisedCell& supervised, Result& result) {
  result.stats.wall_time_ms = ms_between(r.started, supervised.ended - supervised.held);
  CgroupStats stats = r.cgroup->stats();
  fill_stats(result.stats, stats, supervised);
  return stats;
}

// Step 7: the verdict, the output and the files out.
void Executor::conclude(Running& r, SupervisedCell& supervised, const CgroupStats& stats, Result& result) {
  result.stdout_truncated = supervised.out.truncated();
  result.stderr_truncated = supervised.err.truncated();
  result.stdout_data = supervised.out.take();
  result.stderr_data = supervised.err.take();
  decide(result, supervised, stats.oom_kills);
  if (r.work) collect_files(r.job, *r.work, result);
}

// Steps 6 and 7 once the init has exited: the statistics, the cgroup and the rest given back, the
// verdict.
void Executor::finish(Running& r, SupervisedCell& supervised, Result& result) {
  const JobSpec& job = r.job;
  // 6. collect: every process of the cell is gone once its init has exited; the cgroup's own
  //    kill makes sure of it before the directory is removed.
  const CgroupStats stats = collect_stats(r, supervised, result);
  const uint64_t t_stats = monotonic_ns();
  r.cgroup->remove();
  const uint64_t t_cgroup_removed = monotonic_ns();
  const bool detached = r.lease != nullptr;
  r.lease.reset();
  const uint64_t t_detached = monotonic_ns();
  r.state.remove();
  // 6b. the poststop hooks, once the cell and its cgroup are gone (recorded, never the verdict)
  if (r.hooked) run_poststop_hooks(job, r.cell.pid, *r.cgroup, result);
  if (job.breakdown) {
    auto stamps = launch_stamps(r.t_start, r.t_planned, r.t_cgroup, detached ? r.t_network : 0, supervised.steps);
    stamps.insert(stamps.end(), {{"teardown", ns_of(supervised.ended)},
                                 {"stats", t_stats},
                                 {"cgroup_remove", t_cgroup_removed},
                                 {"network_detach", detached ? t_detached : 0}});
    result.breakdown = breakdown_of(std::move(stamps));
  }
  // 7. verdict
  conclude(r, supervised, stats, result);
}

// Steps 6 and 7 as soon as the outcome is known (Supervision::answerable), before the init has
// exited: what follows, the init's exit and the cgroup's removal, changes nothing in the result,
// and a queue's caller need not wait for it (about 0.5 ms of teardown and 0.3 ms of removal per
// job here). release_after_answer() gives the rest back later.
void Executor::answer(Running& r, SupervisedCell& supervised, Result& result) {
  const CgroupStats stats = collect_stats(r, supervised, result);
  if (r.job.breakdown) {
    auto stamps = launch_stamps(r.t_start, r.t_planned, r.t_cgroup, r.lease ? r.t_network : 0, supervised.steps);
    stamps.push_back({"stats", monotonic_ns()});
    result.breakdown = breakdown_of(std::move(stamps));
  }
  conclude(r, supervised, stats, result);
}

// After answer(), once the init has exited: the cgroup (emptied, then removed), the lease, the
// state file, the working directory. The job itself may be gone by now: `r.job` is not read.
void Executor::release_after_answer(Running& r) {
  r.cgroup->remove();
  r.lease.reset();
  r.state.remove();
  r.reset();
}

namespace {

// What a hook reads on stdin about a cell: its init's host pid, the namespaces it is in, its
// cgroup directories.
HookInput hook_input(const char* stage, const JobSpec& job, pid_t pid, const JobCgroup& cgroup) {
  HookInput in;
  in.stage = stage;
  in.job_id = job.id;
  in.pid = pid;
  const std::string ns = "/proc/" + std::to_string(pid) + "/ns/";
  for (const char* name : {"cgroup", "ipc", "mnt", "net", "pid", "uts"}) in.namespaces.emplace_back(name, ns + name);
  // The init stays in the host's time namespace; its children are in the cell's.
  if (job.time_namespace) in.namespaces.emplace_back("time", ns + "time_for_children");
  for (const auto& path : cgroup.paths()) in.cgroups.push_back(path.string());
  return in;
}

// One hook; the host failing to run it at all (no pipe, no pidfd) is that hook's failure too.
const HookRun& run_one(const Hook& hook, const char* stage, const std::string& input, Result& result) {
  try {
    return result.hooks.emplace_back(run_hook(hook, stage, input));
  } catch (const std::exception& e) {
    HookRun& run = result.hooks.emplace_back();
    run.stage = stage;
    run.name = hook.name;
    run.error = e.what();
    return run;
  }
}

}  // namespace

std::optional<std::string> Executor::run_prestart_hooks(const JobSpec& job, pid_t pid, const JobCgroup& cgroup,
                                                        Result& result) {
  const std::string input = config_.hooks.encode_input(hook_input("prestart", job, pid, cgroup));
  for (const Hook& hook : config_.hooks.prestart) {
    const HookRun& run = run_one(hook, "prestart", input, result);
    if (!run.ok) return describe_failure(run);
  }
  return std::nullopt;
}

void Executor::run_poststop_hooks(const JobSpec& job, pid_t pid, const JobCgroup& cgroup, Result& result) {
  const std::string input = config_.hooks.encode_input(hook_input("poststop", job, pid, cgroup));
  for (const Hook& hook : config_.hooks.poststop) {
    const HookRun& run = run_one(hook, "poststop", input, result);
    if (!run.ok) spdlog::warn("job {}: {}", job.id, describe_failure(run));
  }
}

}  // namespace cellblock
