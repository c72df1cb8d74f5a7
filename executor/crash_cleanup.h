// Crash safety, the cleanup: a supervisor started after one that is gone (kill -9, a crash, an
// OOM kill of cellblock) kills what survived of its cells and removes its cgroups and state. What
// a supervisor keeps on disk for this is in supervisor_state.h.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "executor/supervisor_state.h"

namespace cellblock {

class CgroupDriver;

// What a cleanup found and did for one supervisor that is gone.
struct CrashCleanup {
  enum class Cell {
    not_started,    // the file has no pid: the supervisor died before the clone
    already_gone,   // no process with that pid and start time (PR_SET_PDEATHSIG did its work)
    killed,         // it survived its supervisor; SIGKILLed now
    still_running,  // SIGKILLed but still there after a while (uninterruptible sleep)
  };
  struct Job {
    JobState state;
    Cell cell = Cell::not_started;
    std::vector<std::string> cgroups_removed;
    bool network_released = false;  // its `net` line's veth, rules and lease
  };
  pid_t supervisor_pid = 0;
  std::string state_dir;  // the supervisor's state directory, removed; empty if it had none
  std::vector<Job> jobs;
  std::vector<std::string> cgroups_removed;  // its sv- directories, and jobs without a file
  std::vector<std::string> leases_released;  // leases no job file named: "10.88.0.5 on cellblock0"
  std::vector<std::string> errors;
};

// Cleans up after every supervisor that is gone, never touching a live one's state or cgroups:
//   1. under `root`, each sv-<pid>-<starttime> directory whose process is gone (no such pid, or
//      the pid now names a process with another start time): for each job file, the cell's init
//      is SIGKILLed if a process with its pid *and* start time still exists;
//   2. cgroups.remove_leftovers() removes the gone supervisors' cgroups in this supervisor's
//      layout (it kills what is left in them first);
//   3. cgroups the state names that are still there (the dead supervisor ran in another cgroup
//      or with another --cgroup-subtree, so remove_leftovers() does not see them) are emptied
//      and removed: the job cgroups, then the supervisor's sv- directories with anything left
//      in them; only paths of the form <cgroup mount>/.../sv-<pid>-<start>[/job-<n>];
//   4. bridged jobs' veths, nftables rules and leases go: those their job files name, then every
//      lease whose owner is a gone supervisor (it died before recording the lease);
//   5. the state files and directory go.
// Holds an exclusive flock on `root` meanwhile, so that supervisors starting at the same time do
// not clean up the same leftovers. Returns what it did, one entry per gone supervisor.
std::vector<CrashCleanup> clean_up_after_crashes(const std::string& root, CgroupDriver& cgroups);

// Log lines, e.g.
//   cleaned up after a crashed supervisor (pid 812): job "build-3" (cell pid 840) killed,
//   cgroup /sys/fs/cgroup/memory/cellblock/sv-812-5531/job-3 removed
std::vector<std::string> describe(const CrashCleanup& cleanup);

}  // namespace cellblock
