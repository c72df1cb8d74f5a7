// Crash safety: what a supervisor keeps on disk about the jobs it runs, so that a supervisor
// started later can clean up after one that is gone (crash_cleanup.h).
//
// Under the state directory (ExecutorConfig::state_dir, default /run/cellblock):
//
//   stage/                  the directory each cell mounts its writable layer over, inside the
//                           cell's own mount namespace: on the host it is always an empty dir
//   sv-<pid>-<starttime>/   one per supervisor process, named like its cgroup directory
//     cgroups               its own cgroup directories ("cgroup <path>" lines), one per hierarchy
//     job-<n>               one per job, from its cgroup's creation until the cgroup is gone
//
// A job file is a few "key value" lines:
//
//   job_id <the job's id; control characters become '?'>
//   cell_pid <host pid of the cell's init; 0 until the cell is cloned>
//   cell_start_time <the init's start time, /proc/<pid>/stat field 22>
//   cgroup <the job's cgroup directory>        one line per hierarchy
//   net <bridge> <address> <veth>               a bridged job's lease and veth (net/bridge.h)
//
// It is written after the job's cgroup exists and before the cell is cloned, completed with the
// init's pid and start time right after the clone, and removed once the cgroup has been removed.
// A bridged job's `net` line is added once its lease and veth exist, before the clone.
//
// What is left after a supervisor dies: its cells' inits die with it (PR_SET_PDEATHSIG, and a
// namespace's init takes every process of the namespace along), but its cgroups and state stay.
// Mounts need nothing: each cell's overlay, tmpfs, /proc and binds exist only in the cell's
// private mount namespace, which the kernel tears down with the cell's last process.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "executor/base/unique_fd.h"

namespace cellblock {

struct JobState {
  std::string job_id;
  pid_t cell_pid = 0;
  uint64_t cell_start_time = 0;
  std::vector<std::string> cgroups;
  struct Net {
    std::string bridge;
    std::string address;
    std::string veth;
  };
  std::optional<Net> net;
};

std::string format_job_state(const JobState& state);
// nullopt when the text is not a job file (e.g. empty: the supervisor died while writing it).
std::optional<JobState> parse_job_state(std::string_view text);

// The supervisor's own cgroup directories, in its state directory: "cgroup <path>" lines.
inline constexpr char kCgroupsFile[] = "cgroups";
// The paths of a `cgroups` file's lines, as far as they are whole.
std::vector<std::string> parse_cgroups(std::string_view text);

// This supervisor's directory, <root>/sv-<pid>-<starttime>/. Thread-safe: jobs on many threads
// write their own files.
class SupervisorState {
 public:
  // The process's state under `root`, shared by every executor of this process that uses that
  // root (the directory is named after the process, so there can be only one): made on the
  // first call, removed when the last holder lets go. Adds `cgroups` to the `cgroups` file if
  // an earlier holder did not record them. Throws SysError.
  static std::shared_ptr<SupervisorState> shared(const std::string& root,
                                                 const std::vector<std::filesystem::path>& cgroups);

  // Creates the directory (mode 0700) and its `cgroups` file with the supervisor's own cgroup
  // directories (CgroupDriver::supervisor_dirs()). Throws SysError. Executors use shared().
  SupervisorState(const std::string& root, const std::vector<std::filesystem::path>& cgroups);
  // Removes the directory and any job file still in it.
  ~SupervisorState();
  SupervisorState(const SupervisorState&) = delete;
  SupervisorState& operator=(const SupervisorState&) = delete;

  // One job's file. Removed by remove() or the destructor.
  class JobFile {
   public:
    JobFile() = default;
    JobFile(JobFile&&) = default;
    JobFile& operator=(JobFile&& other) noexcept {
      if (this != &other) {
        remove();
        fd_ = std::move(other.fd_);
        path_ = std::move(other.path_);
        state_ = std::move(other.state_);
        written_ = other.written_;
      }
      return *this;
    }
    ~JobFile() { remove(); }
    // Records the cell's init (pid and start time). A failure is logged, not thrown: the file
    // already names the cgroups, which is what a cleanup needs most.
    void cell_started(pid_t pid) noexcept;
    // Records a bridged job's lease and veth, so that a cleanup after a crash removes them.
    // Throws SysError: a job whose network could not be recorded does not start.
    void network_attached(const std::string& bridge, const std::string& address, const std::string& veth);
    // Removes the file. Idempotent; a failure is logged.
    void remove() noexcept;

   private:
    friend class SupervisorState;
    void rewrite();
    UniqueFd fd_;
    std::string path_;
    JobState state_;
    size_t written_ = 0;
  };

  // Writes <dir>/<name> for a job whose cgroup exists. Throws SysError (e.g. ENOSPC).
  JobFile job_starting(const std::string& name, const std::string& job_id,
                       const std::vector<std::filesystem::path>& cgroups);
  const std::string& dir() const { return dir_; }

 private:
  // Rewrites the `cgroups` file with recorded_ plus what of `cgroups` is new.
  void record_cgroups(const std::vector<std::filesystem::path>& cgroups);

  std::string dir_;
  std::mutex cgroups_mutex_;
  std::vector<std::string> recorded_;  // the `cgroups` file's paths
};

}  // namespace cellblock
