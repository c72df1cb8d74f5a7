// Internals shared by cgroup_detect.cc, cgroup_v1.cc and cgroup_v2.cc, and seen by their unit
// tests. Other code uses cgroup.h (and the file helpers of cgroup_fs.h) only.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "executor/cgroup/cgroup.h"
#include "executor/cgroup/cgroup_fs.h"

namespace cellblock {

// One mounted hierarchy the driver uses, and where the supervisor process sits in it.
struct CgroupHierarchy {
  std::vector<std::string> controllers;  // v1: {"memory"} or {"cpu", "cpuacct"}; v2: {}
  std::string mount_point;               // e.g. "/sys/fs/cgroup/memory"
  std::string self_path;                 // from /proc/self/cgroup, e.g. "/process_api/4728..."
  std::string base;                      // the supervisor's cgroup directory on this host
  bool has(std::string_view controller) const;
};

struct CgroupLayout {
  CgroupMode mode = CgroupMode::v2;
  std::vector<CgroupHierarchy> hierarchies;  // v2: exactly one
};

// The controllers a v1 driver uses. memory, cpuacct and pids are required (cellblock's verdicts
// depend on them); cpu (for `cpus`), blkio (for `io`) and freezer (for a race-free kill) are used
// when mounted. cpuset and devices are not used: jobs stay in the supervisor's cgroups there.
inline constexpr std::string_view kV1Controllers[] = {"memory", "cpuacct", "pids",
                                                      "cpu",    "blkio",   "freezer"};
inline constexpr std::string_view kV1RequiredControllers[] = {"memory", "cpuacct", "pids"};

// cgroup2 on /sys/fs/cgroup means v2. Otherwise any v1 hierarchy carrying one of
// kV1Controllers means v1 (this covers hybrid hosts, whose cgroup2 tree at
// /sys/fs/cgroup/unified has no controllers that v1 holds). Otherwise a cgroup2 mount anywhere
// means v2. Throws std::runtime_error when nothing usable is mounted.
CgroupMode detect_cgroup_mode(const std::vector<MountInfo>& mounts);

// Finds the mount points and the supervisor's own cgroup in each hierarchy.
// Throws std::runtime_error naming what is missing.
CgroupLayout detect_cgroup_layout(const std::vector<MountInfo>& mounts,
                                  const std::vector<ProcCgroup>& self,
                                  std::optional<CgroupMode> force_mode = std::nullopt);

std::unique_ptr<CgroupDriver> make_cgroup_v1_driver(const CgroupLayout& layout,
                                                    const CgroupConfig& config);
std::unique_ptr<CgroupDriver> make_cgroup_v2_driver(const CgroupLayout& layout,
                                                    const CgroupConfig& config);

// ---- Shared by both drivers ------------------------------------------------------------------

// What makes two drivers of this process share one state (its sv- directories): the version,
// the subtree, the base cgroups (v2: C, also when the process already sits in
// C/<subtree>/supervisor) and the file operations (a unit test's fake tree is its own).
std::string driver_state_key(const CgroupLayout& layout, const CgroupConfig& config);

// v2: the base C of a supervisor whose cgroup is `self`: `self`, or C when the process already
// moved itself into C/<subtree>/supervisor (then `*in_leaf` is set).
std::string v2_base(const std::string& self, const std::string& subtree, bool* in_leaf = nullptr);

// How long kill_all() waits for a job to empty before it gives up with ETIMEDOUT. A task stuck
// in uninterruptible sleep (D state, e.g. on a dead NFS server) can hold a cgroup that long.
inline constexpr std::chrono::milliseconds kKillTimeout{10'000};
// How long rmdir retries on EBUSY: tasks that were just killed may still be leaving the cgroup.
inline constexpr std::chrono::milliseconds kRmdirRetry{500};

// "job-<name>" after checking that `name` is one path component.
std::string job_dir_name(std::string_view name);

// Checks the limits (cpus > 0, ...). Throws std::invalid_argument naming the field.
void validate_limits(const CgroupLimits& limits);
// cpus -> (quota_us, period_us) with the kernel's default period of 100 ms.
std::pair<uint64_t, uint64_t> cpu_quota_us(double cpus);

// memory.limit_in_bytes (v1) or memory.max (v2) of `dir`: nullopt for "max" or when the file
// cannot be read.
std::optional<uint64_t> read_memory_limit(const std::string& dir, const char* file);

// job.remove() for a destructor: errors are logged, never thrown (JobCgroup's promise). `shown`
// names the cgroup in the log.
void remove_logging_errors(JobCgroup& job, std::string_view shown) noexcept;

// rmdir that retries on EBUSY for kRmdirRetry. Returns 0, or the errno; ENOENT counts as done.
int remove_dir_retrying(const CgroupFsOps& ops, int dirfd, const char* name);

// A cgroup named relative to an open directory: files are opened as "<rel>/<file>" with
// openat(parent_fd, ...), so a job costs no directory fds of its own.
struct CgroupRef {
  int parent_fd = -1;
  std::string rel;           // e.g. "job-42" or "sv-1-2/job-42"
  std::string parent_shown;  // parent_fd's path, for messages
  std::string file(std::string_view name) const { return rel + "/" + std::string(name); }
  std::string shown() const { return join_path(parent_shown, rel); }
};

// At exit: removes <base>/<name> if this supervisor made it and no cgroup is left in it (another
// supervisor's sv- directory, or v2's supervisor leaf). Retries EBUSY briefly, since a child
// cgroup rmdir'ed a moment ago stays online until an RCU grace period has passed. Never throws.
void remove_subtree_if_empty(const CgroupFsOps& ops, const std::string& base,
                             const std::string& name, int subtree_fd);

// True when the cgroup's cgroup.procs lists a task. One read.
bool has_tasks(const CgroupRef& cg);

// SIGKILLs every process listed in the cgroup's cgroup.procs without ever signalling a process
// outside it, even if a listed process exits and its pid is reused meanwhile: each pid is
// pinned with a pidfd, the list is read again, and only pidfds whose pid is still listed get
// the signal (a pidfd whose process is alive at the second read refers to the listed one).
// Returns the pids signalled.
std::vector<pid_t> kill_listed_tasks(const CgroupRef& cg);

// Sleeps for `step` and doubles it up to `max`; for waits that have no event to wait on.
void backoff_sleep(std::chrono::microseconds& step,
                   std::chrono::microseconds max = std::chrono::milliseconds(5));

}  // namespace cellblock
