// Job cgroups: one interface, a v1 and a v2 driver behind it, chosen by looking at the host.
//
// Layout: <base>/<subtree>/sv-<pid>-<starttime>/job-<n>, where <base> is the cgroup the
// supervisor itself is in (per hierarchy on v1), so a service manager's delegation and limits
// apply. The sv- level lets several supervisors share a host: a new supervisor removes only the
// sv- directories whose process is gone (a crashed predecessor), never a live one's.
//
// One driver per supervisor process: the sv- name is the process's identity. <subtree> is shared;
// a supervisor that made it removes it at exit when it is empty, one made by someone else stays.
// On v2 a supervisor alone in a non-root cgroup C first moves itself into C/<subtree>/supervisor,
// so that C may enable controllers for its children (see cgroup_v2.cc).
// Tests: tests/unit/cgroup_*_test.cc (fake tree), tests/integration/cgroup_driver_test.cc (this
// host's cgroups), ci/test-cgroup-v2 (the same on cgroup v2, in a VM).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "executor/base/unique_fd.h"
#include "executor/cgroup/cgroup_counters.h"

namespace cellblock {

enum class CgroupMode { v1, v2 };

class CgroupFsOps;  // cgroup_fs.h

// Block-I/O throttle on one device, already resolved to major:minor. Zero = no limit.
struct DeviceThrottle {
  unsigned major = 0, minor = 0;
  uint64_t read_bps = 0, write_bps = 0;    // bytes per second
  uint64_t read_iops = 0, write_iops = 0;  // operations per second
};

struct CgroupLimits {
  uint64_t memory_bytes = 0;  // 0 = no limit. Swap is not allowed on top.
  std::optional<double> cpus;  // CPU bandwidth quota in cores
  uint64_t pids = 0;           // 0 = no limit
  std::vector<DeviceThrottle> io;
};

// The counters, and the CPU time the executor turns into the result's (less the cell's set-up).
struct CgroupStats : CgroupCounters {
  uint64_t cpu_usage_ns = 0;
  uint64_t cpu_user_ns = 0;
  uint64_t cpu_system_ns = 0;
};

// Where to look and where to build. Tests point the paths at a fake tree in a temp dir.
struct CgroupConfig {
  std::string subtree = "cellblock";
  std::filesystem::path mountinfo = "/proc/self/mountinfo";
  std::filesystem::path self_cgroup = "/proc/self/cgroup";
  std::optional<CgroupMode> force_mode;  // skip detection (tests)
  // mkdir, rmdir and writes: nullptr is the kernel's cgroupfs. Unit tests pass a fake that acts
  // like it on a temp dir (fills new directories with interface files, moves written pids).
  std::shared_ptr<const CgroupFsOps> fs_ops;
};

// One job's cgroup. The destructor kills every task in it, waits until it is empty and removes it;
// errors there are logged, never thrown.
class JobCgroup {
 public:
  virtual ~JobCgroup() = default;

  // v2: a directory fd for clone3(CLONE_INTO_CGROUP); v1: -1 (use add_process).
  virtual int clone_into_fd() const = 0;
  // Moves a process (and, on v1, only that process) into the cgroup in every hierarchy.
  virtual void add_process(pid_t pid) = 0;
  // v1: the job's `tasks` file in each hierarchy, open for writing (O_CLOEXEC, owned by this
  // object, opened on the first call). A freshly cloned child, still single-threaded, joins the
  // job by writing "0" to each of them: async-signal-safe, and about 4x cheaper than
  // add_process() (~50 vs ~200-300 us for 5 hierarchies on the build host), because the kernel
  // skips the global threadgroup rwsem when a task moves itself (cgroup_procs_write_start).
  // Do it before unsharing the cgroup namespace. v2: empty (use clone_into_fd()).
  virtual std::vector<int> join_fds() = 0;
  // The cell's init has joined (launch_cell returns after its exec): closes the join_fds(), so a
  // running cell holds no descriptor it no longer needs (a supervisor watches many at once).
  virtual void joined() = 0;
  // Total CPU time used so far; cheap enough to poll every few milliseconds.
  virtual uint64_t cpu_usage_ns() = 0;
  virtual uint64_t oom_kills() = 0;
  // Samples the task count so that pids_peak is right where the kernel has no pids.peak.
  virtual void sample() = 0;
  // True where the kernel has no pids.peak: the supervisor then calls sample() every few ms.
  virtual bool needs_sampling() const = 0;
  virtual CgroupStats stats() = 0;
  // Kills every task, including ones forked while killing, and returns when none is left.
  virtual void kill_all() = 0;
  // kill_all(), then removes the directories. Idempotent.
  virtual void remove() = 0;
  // For tests and diagnostics: the cgroup's directory in each hierarchy.
  virtual std::vector<std::filesystem::path> paths() const = 0;
};

class CgroupDriver {
 public:
  virtual ~CgroupDriver() = default;
  explicit CgroupDriver(CgroupMode mode) : mode_(mode) {}
  CgroupMode mode() const { return mode_; }
  int version() const { return mode() == CgroupMode::v1 ? 1 : 2; }
  // Creates <supervisor dir>/job-<name> and applies the limits. Throws SysError with the path.
  // Checks the limits and the name (std::invalid_argument), then create_job().
  std::unique_ptr<JobCgroup> create(std::string_view name, const CgroupLimits& limits);
  // Removes sv- directories left by supervisors that are no longer running (killing what is in
  // them). Returns the paths it removed, for the log.
  virtual std::vector<std::string> remove_leftovers() = 0;
  // The supervisor's own directory (per hierarchy on v1).
  virtual std::vector<std::filesystem::path> supervisor_dirs() const = 0;
  // The memory limit of the cgroup the supervisor was given (v1: memory.limit_in_bytes of its
  // memory cgroup; v2: memory.max of its cgroup); nullopt when it has none. A queue sizes its
  // memory budget by it.
  virtual std::optional<uint64_t> memory_limit() const = 0;

  // For the cleanup after a crash (executor/crash_cleanup.h): removes a cgroup that the state of
  // a gone supervisor records, and every cgroup below it, killing what is left in them. Only
  // <cgroup mount>/.../<sv_name> or a job-<n> in it: a damaged state file must not make us
  // remove anything else (std::runtime_error). Appends the paths it removed. The same for both
  // versions (cgroup_common.cc).
  void remove_recorded(const std::string& path, const std::string& sv_name, std::vector<std::string>& removed);

 protected:
  // The version's own part of create(): `dir` is "job-<name>", the limits are valid.
  virtual std::unique_ptr<JobCgroup> create_job(std::string dir, const CgroupLimits& limits) = 0;

 private:
  CgroupMode mode_;
};

// "sv-<pid>-<starttime>" names a supervisor process uniquely (see process_start_time() in
// cgroup_fs.h), in the cgroup tree and in the state directory (executor/supervisor_state.h) alike.
std::string supervisor_dir_name(pid_t pid, uint64_t start_time);
std::optional<std::pair<pid_t, uint64_t>> parse_supervisor_dir_name(std::string_view name);
// The sv- directory of this process.
std::string own_supervisor_dir_name();
// True when the supervisor the sv- directory names is gone: no such process, the pid now
// belongs to a process that started at another time (pid reuse), or it is a zombie.
bool supervisor_is_gone(pid_t pid, uint64_t start_time);

// Detects the host's mode: cgroup2 on /sys/fs/cgroup (unified) means v2; v1 controllers
// mounted means v1, also on hybrid hosts. Creates the supervisor's sv- directory.
std::unique_ptr<CgroupDriver> make_cgroup_driver(const CgroupConfig& config = {});

}  // namespace cellblock
