#include "executor/crash_cleanup.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>

#include "executor/base/pidfd.h"
#include "executor/base/sys_error.h"
#include "executor/cgroup/cgroup.h"
#include "executor/cgroup/cgroup_fs.h"
#include "executor/net/bridge.h"
#include "executor/supervisor_state.h"

namespace cellblock {
namespace {

// How long a SIGKILLed cell init may take to die before we call it stuck.
constexpr int kKillWaitMs = 2000;

// SIGKILLs the process the file names, if it is still that process: the pidfd pins the pid, and
// the start time read after pinning it tells a surviving cell from an unrelated process that got
// the pid after the cell died.
CrashCleanup::Cell kill_orphaned_cell(const JobState& s) {
  using Cell = CrashCleanup::Cell;
  if (s.cell_pid <= 0) return Cell::not_started;
  UniqueFd pidfd(sys_pidfd_open(s.cell_pid));
  if (!pidfd) return Cell::already_gone;  // ESRCH
  std::optional<uint64_t> start;
  try {
    start = process_start_time(s.cell_pid);
  } catch (const std::exception&) {
  }
  if (!start || *start != s.cell_start_time) return Cell::already_gone;
  // A zombie waiting for its new parent to reap it is readable already: dead, not killed by us.
  pollfd p{pidfd.get(), POLLIN, 0};
  if (::poll(&p, 1, 0) == 1) return Cell::already_gone;
  if (sys_pidfd_send_signal(pidfd.get(), SIGKILL) != 0) return Cell::already_gone;
  int n;
  do n = ::poll(&p, 1, kKillWaitMs); while (n < 0 && errno == EINTR);
  return n == 1 ? Cell::killed : Cell::still_running;
}

// The gone supervisor a cgroup path belongs to: its last sv-<pid>-<start> component.
std::optional<std::string> supervisor_of(const std::string& cgroup_path) {
  std::optional<std::string> found;
  for (const auto& part : std::filesystem::path(cgroup_path))
    if (parse_supervisor_dir_name(part.string())) found = part.string();
  return found;
}

}  // namespace

std::vector<CrashCleanup> clean_up_after_crashes(const std::string& root, CgroupDriver& cgroups) {
  UniqueFd root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd) throw_sys("open(" + cellblock::quoted(root) + ", O_DIRECTORY)");
  int rc;
  do rc = ::flock(root_fd.get(), LOCK_EX); while (rc != 0 && errno == EINTR);
  if (rc != 0) throw_sys("flock(" + cellblock::quoted(root) + ", LOCK_EX)");

  // 1. The state of supervisors that are gone; kill what survived of their cells.
  std::map<std::string, CrashCleanup> gone;                   // by sv- name
  std::map<std::string, std::vector<std::string>> sv_cgroups;  // their own cgroup directories
  for (const std::string& name : list_subdirs(root_fd.get(), root)) {
    auto id = parse_supervisor_dir_name(name);
    if (!id || !supervisor_is_gone(id->first, id->second)) continue;
    CrashCleanup& c = gone[name];
    c.supervisor_pid = id->first;
    c.state_dir = join_path(root, name);
    try {
      UniqueFd dir = open_dir_at(root_fd.get(), name.c_str(), root);
      for (const std::string& file : list_entries(dir.get(), c.state_dir, DT_REG)) {
        if (file == kCgroupsFile) {
          if (auto text = read_file_at(dir.get(), file.c_str(), c.state_dir, /*missing_ok=*/true))
            sv_cgroups[name] = parse_cgroups(*text);
          continue;
        }
        auto text = read_file_at(dir.get(), file.c_str(), c.state_dir, /*missing_ok=*/true);
        auto state = text ? parse_job_state(*text) : std::nullopt;
        if (!state) {
          c.errors.push_back("unreadable job file " + cellblock::quoted(join_path(c.state_dir, file)) + " (removed)");
          continue;
        }
        CrashCleanup::Job job{*state, kill_orphaned_cell(*state), {}};
        c.jobs.push_back(std::move(job));
      }
    } catch (const std::exception& e) {
      c.errors.push_back(e.what());
    }
  }

  // 2. Cgroups of gone supervisors in this supervisor's own layout.
  std::vector<std::string> removed;
  std::string leftovers_error;
  try {
    removed = cgroups.remove_leftovers();
  } catch (const std::exception& e) {
    leftovers_error = e.what();
  }
  // 3. Job cgroups named in a file that are still there: another layout.
  for (auto& [name, c] : gone) {
    for (auto& job : c.jobs) {
      for (const std::string& path : job.state.cgroups) {
        try {
          cgroups.remove_recorded(path, name, removed);
        } catch (const std::exception& e) {
          c.errors.push_back(e.what());
        }
      }
    }
    // Then the supervisor's own directories, with any job cgroup that has no file (the
    // supervisor died between creating the cgroup and writing the file).
    for (const std::string& path : sv_cgroups[name]) {
      try {
        cgroups.remove_recorded(path, name, removed);
      } catch (const std::exception& e) {
        c.errors.push_back(e.what());
      }
    }
  }
  // Who each removed cgroup belonged to.
  for (const std::string& path : removed) {
    auto sv = supervisor_of(path);
    if (!sv) continue;
    CrashCleanup& c = gone[*sv];
    if (!c.supervisor_pid) c.supervisor_pid = parse_supervisor_dir_name(*sv)->first;
    bool of_a_job = false;
    for (auto& job : c.jobs)
      if (std::find(job.state.cgroups.begin(), job.state.cgroups.end(), path) != job.state.cgroups.end()) {
        job.cgroups_removed.push_back(path);
        of_a_job = true;
      }
    if (!of_a_job) c.cgroups_removed.push_back(path);
  }

  // 4. Bridged jobs' networks: those the job files name, then leases of gone supervisors that no
  //    file names.
  for (auto& [name, c] : gone)
    for (auto& job : c.jobs) {
      if (!job.state.net) continue;
      auto address = parse_ipv4(job.state.net->address);
      if (!address) {
        c.errors.push_back("job " + cellblock::quoted(job.state.job_id) + ": bad address " +
                           cellblock::quoted(job.state.net->address));
        continue;
      }
      std::vector<std::string> errors = Bridge::release_leftover(root, job.state.net->bridge, *address);
      job.network_released = errors.empty();
      for (std::string& e : errors) c.errors.push_back(std::move(e));
    }
  try {
    for (const Bridge::LeaseRecord& lease : Bridge::list_leases(root)) {
      auto owner = parse_supervisor_dir_name(lease.owner);
      if (!owner || !supervisor_is_gone(owner->first, owner->second)) continue;  // leases are written whole
      CrashCleanup& c = gone[lease.owner];
      if (!c.supervisor_pid) c.supervisor_pid = owner->first;
      std::vector<std::string> errors = Bridge::release_leftover(root, lease.bridge, lease.address);
      if (errors.empty()) c.leases_released.push_back(ipv4_to_string(lease.address) + " on " + lease.bridge);
      for (std::string& e : errors) c.errors.push_back(std::move(e));
    }
  } catch (const std::exception& e) {
    gone["unknown"].errors.push_back("bridge leases: " + std::string(e.what()));
  }

  // 5. The state itself.
  for (auto& [name, c] : gone) {
    if (c.state_dir.empty()) continue;
    try {
      UniqueFd dir(::openat(root_fd.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (dir)
        for (const std::string& file : list_entries(dir.get(), c.state_dir, DT_REG))
          if (::unlinkat(dir.get(), file.c_str(), 0) != 0 && errno != ENOENT)
            throw_sys("unlink(" + cellblock::quoted(join_path(c.state_dir, file)) + ")");
      if (::unlinkat(root_fd.get(), name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT)
        throw_sys("rmdir(" + cellblock::quoted(c.state_dir) + ")");
    } catch (const std::exception& e) {
      c.errors.push_back(e.what());
    }
  }

  std::vector<CrashCleanup> out;
  for (auto& [name, c] : gone) out.push_back(std::move(c));
  if (!leftovers_error.empty()) {
    CrashCleanup failed;
    failed.errors.push_back("removing the cgroups of supervisors that are gone: " + leftovers_error);
    out.push_back(std::move(failed));
  }
  return out;
}

std::vector<std::string> describe(const CrashCleanup& c) {
  std::string head = c.supervisor_pid ? "cleaned up after a crashed supervisor (pid " + std::to_string(c.supervisor_pid) + "): "
                                      : "cleaning up after crashed supervisors: ";
  auto list = [](const std::vector<std::string>& paths) {
    std::string out;
    for (const std::string& p : paths) out += (out.empty() ? "" : ", ") + p;
    return out;
  };
  std::vector<std::string> lines;
  for (const CrashCleanup::Job& job : c.jobs) {
    std::string line = head + "job " + cellblock::quoted(job.state.job_id);
    std::string pid = std::to_string(job.state.cell_pid);
    switch (job.cell) {
      case CrashCleanup::Cell::not_started: line += " (no cell yet)"; break;
      case CrashCleanup::Cell::already_gone: line += " (cell pid " + pid + ") already gone"; break;
      case CrashCleanup::Cell::killed: line += " (cell pid " + pid + ") killed"; break;
      case CrashCleanup::Cell::still_running: line += " (cell pid " + pid + ") still running after SIGKILL"; break;
    }
    line += job.cgroups_removed.empty() ? ", no cgroup left" : ", cgroup " + list(job.cgroups_removed) + " removed";
    if (job.state.net)
      line += ", network " + job.state.net->address + " on " + job.state.net->bridge +
              (job.network_released ? " released" : " not fully released");
    lines.push_back(std::move(line));
  }
  std::string rest;
  if (!c.cgroups_removed.empty()) rest += "cgroup " + list(c.cgroups_removed) + " removed";
  if (!c.leases_released.empty()) rest += (rest.empty() ? "" : ", ") + ("lease " + list(c.leases_released) + " released");
  if (!c.state_dir.empty()) rest += (rest.empty() ? "" : ", ") + ("state " + c.state_dir + " removed");
  if (!rest.empty()) lines.push_back(head + rest);
  for (const std::string& e : c.errors) lines.push_back(head + "error: " + e);
  return lines;
}

}  // namespace cellblock
