// The executor: one JobSpec in, one isolated process tree, one Result out.
//
// Executor::run(job) follows the numbered list of docs/executor.md, step for step: plan, cgroup,
// launch, (the cell's init, inside the cell), supervise, collect, verdict. begin(),
// run_checked() and finish() in executor.cc name each step with its number there.
// run() and run_async() are thread-safe: a queue calls them from many threads at once.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "executor/cgroup/cgroup.h"
#include "executor/hooks.h"
#include "executor/job_spec.h"
#include "executor/launch.h"
#include "executor/plan.h"
#include "executor/net/bridge.h"
#include "executor/net/netns_pool.h"
#include "executor/output_listener.h"
#include "executor/result.h"
#include "executor/stop_token.h"
#include "executor/supervisor_state.h"
#include "executor/work_dir.h"
#include "executor/base/unique_fd.h"

namespace cellblock {

struct PodNamespaces;  // pod.h
class CellWatcher;     // cell_watcher.h
struct SupervisedCell;  // supervise.h

struct ExecutorConfig {
  // Per-host state: the stage directory cells mount their writable layer over, and each
  // supervisor's record of its running jobs, for the cleanup after a crash
  // (executor/supervisor_state.h).
  std::string state_dir = "/run/cellblock";
  CgroupConfig cgroup;
  // Jobs with a user namespace: cell uid/gid 0..userns_size-1 are host userns_base + that.
  uint32_t userns_base = 200000;
  uint32_t userns_size = 65536;
  // Fresh network namespaces kept ready by a background thread (netns_pool.h); 0 = make each
  // at clone. Worth it for a resident queue, not for one job per process.
  size_t netns_pool = 0;
  // `"network": "bridge"` jobs: the bridge, its subnet, the cells' resolvers. The bridge is made
  // when the first bridged job starts (docs/networking.md).
  BridgeConfig bridge;
  // Open the nftables context (libnftables' netlink socket) when the executor starts rather than
  // at the first bridged job. A resident supervisor needs it early: libnftables cannot use a
  // socket numbered past 1023 (net/nft.cc), and a busy one holds more descriptors than that by
  // its first bridged job. A one-shot `cellblock run` holds a handful, so it makes the context
  // only if its job is bridged and saves its cost (about 1 ms: libnftables reads its tables).
  bool open_nftables_early = true;
  // The operator's prestart and poststop hooks, run for every job's own cell (not its pod's
  // services): hooks.h, docs/executor.md "Hooks".
  HookSet hooks;
};

class Executor {
 public:
  explicit Executor(ExecutorConfig config = {});
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Never throws for a bad job: every failure becomes a Result with setup_error or
  // internal_error and a message that names the thing and the reason. `stop` cancels it;
  // `output` sees stdout and stderr while the job runs (output_listener.h).
  Result run(const JobSpec& job, const StopToken* stop = nullptr, OutputListener* output = nullptr);

  // run() without holding the calling thread while the job runs: the cell is launched on this
  // thread, then the executor's one watching thread supervises it among all others
  // (cell_watcher.h). done(result) comes as soon as the job's outcome is known, which for a
  // command that exited is before its init has finished exiting (Supervision::answerable); then
  // released() (may be empty), once the cell is gone and its cgroup, state file, lease and
  // working directory are given back: a queue frees the job's slot then. `job`, `stop` and
  // `output` must live until done. A job that runs_async() refuses runs on this thread, as run()
  // would, and both are called before run_async returns.
  void run_async(const JobSpec& job, const StopToken* stop, OutputListener* output, std::function<void(Result)> done,
                 std::function<void()> released = {});
  // Whether run_async() runs `job` without a thread of its own: one cell and no operator hooks
  // (a pod and the hooks block around the cell).
  bool runs_async(const JobSpec& job) const;

  int cgroup_version() const;
  CgroupDriver& cgroups() { return *cgroups_; }

 private:
  // Whose cell it is: the operator's hooks run for a job's own cell, not for its services'.
  enum class CellRole { job, service };
  // One cell; `pod` (may be null) gives the namespaces it shares with its pod.
  Result run_cell(const JobSpec& job, const StopToken* stop, OutputListener* output, const PodNamespaces* pod,
                  CellRole role = CellRole::job);
  // A job with services (pod.h, pod.cc).
  Result run_pod(const JobSpec& job, const StopToken* stop, OutputListener* output);
  // A cell from its plan until its init has ended: what begin() took, for finish().
  struct Running {
    explicit Running(const JobSpec& j) : job(j) {}
    // Gives back what is left, in the order a failure between begin() and finish() needs it:
    // the cell's descriptors, the lease, the state file, the cgroup (which kills what is left).
    void reset() {
      cell = {};
      lease.reset();
      state = {};
      cgroup.reset();
      work.reset();
    }
    const JobSpec& job;
    uint64_t t_start = 0, t_planned = 0, t_cgroup = 0, t_network = 0;  // breakdown stamps
    std::unique_ptr<WorkDir> work;  // files in and out (/w); goes last, once the cell is gone
    std::unique_ptr<JobCgroup> cgroup;
    SupervisorState::JobFile state;
    std::unique_ptr<BridgeLease> lease;
    bool hooked = false, prestart = false;
    std::chrono::steady_clock::time_point started;
    LaunchedCell cell;
  };
  std::shared_ptr<Running> begin(const JobSpec& job, const PodNamespaces* pod, CellRole role);
  CgroupStats collect_stats(Running& running, const SupervisedCell& supervised, Result& result);
  void conclude(Running& running, SupervisedCell& supervised, const CgroupStats& stats, Result& result);
  void finish(Running& running, SupervisedCell& supervised, Result& result);
  void answer(Running& running, SupervisedCell& supervised, Result& result);
  void release_after_answer(Running& running);
  void run_checked(const JobSpec& job, const StopToken* stop, OutputListener* output, Result& result,
                   const PodNamespaces* pod, CellRole role);
  CellWatcher& watcher();  // made on the first run_async()
  // A job's private /w with its files written (work_dir.h). Throws SetupError for a bad file.
  std::unique_ptr<WorkDir> make_work_dir(const JobSpec& job);
  // The prestart hooks for a cell whose namespaces exist: recorded in `result`; the first that
  // fails stops the others and its description is the answer (supervise.h, PrestartGate).
  std::optional<std::string> run_prestart_hooks(const JobSpec& job, pid_t pid, const JobCgroup& cgroup,
                                                Result& result);
  void run_poststop_hooks(const JobSpec& job, pid_t pid, const JobCgroup& cgroup, Result& result);
  Bridge& bridge();  // made on first use; throws SetupError when it cannot be
  // Step 2b: a lease, veth and rules on the bridge for `netns` (net/bridge.h), recorded in
  // `state` for the cleanup after a crash; `netns` comes back configured. Throws SetupError.
  std::unique_ptr<BridgeLease> attach_to_bridge(const JobSpec& job, UniqueFd& netns, SupervisorState::JobFile& state);
  // A bridged pod's one place on the bridge for its shared network namespace (pod.cc).
  struct PodBridge {
    SupervisorState::JobFile state;      // "pod-<n>": the lease's record, removed after it
    std::unique_ptr<BridgeLease> lease;  // given back first
  };
  PodBridge attach_pod_to_bridge(const JobSpec& job, const PodNamespaces& ns);

  ExecutorConfig config_;
  HostLayout host_;
  UniqueFd dev_null_;
  UniqueFd init_image_;  // cellblock-init, exec'd as every cell's PID 1
  std::unique_ptr<CgroupDriver> cgroups_;
  std::unique_ptr<NetnsPool> netns_pool_;
  std::mutex bridge_mutex_;
  std::unique_ptr<Bridge> bridge_;
  std::shared_ptr<SupervisorState> state_;  // the process's: shared with its other executors
  // Numbers for a job's cgroup and state file ("job-<n>" under the process's "sv-<pid>-<start>")
  // and its working directory ("<pid>-<n>"). Both names are per process, not per executor, so
  // the counters are too: two executors in one process (a test's, a service's) must not collide.
  static inline std::atomic<uint64_t> next_job_{0};
  std::string work_root_;  // <state_dir>/work: jobs' working directories (work_dir.h), "<pid>-<n>"
  static inline std::atomic<uint64_t> next_work_{0};
  // Last, so that it goes first: its destructor waits for the cells it watches, whose ends use
  // everything above.
  std::once_flag watcher_made_;
  std::unique_ptr<CellWatcher> watcher_;
};

}  // namespace cellblock
