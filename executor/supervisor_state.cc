#include "executor/supervisor_state.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "executor/cgroup/cgroup.h"
#include "executor/cgroup/cgroup_fs.h"
#include "executor/cgroup/cgroup_impl.h"
#include "executor/base/host_file.h"
#include "executor/base/pidfd.h"
#include "executor/base/sys_error.h"

namespace cellblock {
namespace {

// How long a SIGKILLed cell init may take to die before we call it stuck.
constexpr int kKillWaitMs = 2000;

std::string sanitized(std::string_view s) {
  std::string out(s.substr(0, 256));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}


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

bool under_a_cgroup_mount(const std::filesystem::path& path) {
  for (const MountInfo& m : parse_mountinfo(read_host_file("/proc/self/mountinfo"))) {
    if (m.fs_type != "cgroup" && m.fs_type != "cgroup2") continue;
    auto rel = path.lexically_relative(m.mount_point);
    if (!rel.empty() && *rel.begin() != ".." && rel != ".") return true;
  }
  return false;
}

// Empties and removes the cgroup parent_fd/rel and every cgroup below it, children first.
void remove_cgroup_tree(int parent_fd, const std::string& parent_shown, const std::string& rel,
                        std::vector<std::string>& removed) {
  {
    UniqueFd dir(::openat(parent_fd, rel.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir) {
      if (errno == ENOENT) return;
      throw_sys("open(" + cellblock::quoted(join_path(parent_shown, rel)) + ", O_DIRECTORY)");
    }
    for (const std::string& child : list_subdirs(dir.get(), join_path(parent_shown, rel)))
      remove_cgroup_tree(parent_fd, parent_shown, rel + "/" + child, removed);
  }
  CgroupRef cg{parent_fd, rel, parent_shown};
  auto deadline = std::chrono::steady_clock::now() + kKillTimeout;
  std::chrono::microseconds step(50);
  while (has_tasks(cg)) {
    if (std::chrono::steady_clock::now() >= deadline)
      throw SysError(ETIMEDOUT, "empty the cgroup " + cellblock::quoted(cg.shown()));
    kill_listed_tasks(cg);
    backoff_sleep(step);
  }
  if (int err = remove_dir_retrying(kernel_cgroup_fs(), parent_fd, rel.c_str()))
    throw SysError(err, "rmdir(" + cellblock::quoted(cg.shown()) + ")");
  removed.push_back(cg.shown());
}

// Removes a cgroup a dead supervisor's state names, with everything below it, when it is one of
// its own: <cgroup mount>/.../sv-<pid>-<start>, or a job-<n> in there. A damaged file must not
// make us remove anything else.
void remove_recorded_cgroup(const std::string& recorded, const std::string& sv_name,
                            std::vector<std::string>& removed) {
  std::filesystem::path path(recorded);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return;  // removed already (remove_leftovers)
  bool sv_dir = path.filename() == sv_name;
  bool job_dir = path.parent_path().filename() == sv_name && path.filename().string().rfind("job-", 0) == 0;
  if (!path.is_absolute() || path.lexically_normal() != path || !(sv_dir || job_dir) || !under_a_cgroup_mount(path)) {
    throw std::runtime_error("not removing " + cellblock::quoted(recorded) + ": not a cgroup of " + sv_name);
  }
  std::string parent = path.parent_path();
  UniqueFd parent_fd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!parent_fd) {
    if (errno == ENOENT) return;
    throw_sys("open(" + cellblock::quoted(parent) + ", O_DIRECTORY)");
  }
  remove_cgroup_tree(parent_fd.get(), parent, path.filename(), removed);
}

// The gone supervisor a cgroup path belongs to: its last sv-<pid>-<start> component.
std::optional<std::string> supervisor_of(const std::string& cgroup_path) {
  std::optional<std::string> found;
  for (const auto& part : std::filesystem::path(cgroup_path))
    if (parse_supervisor_dir_name(part.string())) found = part.string();
  return found;
}

// The supervisor's own cgroup directories, in its state directory.
constexpr char kCgroupsFile[] = "cgroups";

std::string format_cgroups(const std::vector<std::string>& cgroups) {
  std::string out;
  for (const std::string& c : cgroups) out += "cgroup " + sanitized(c) + "\n";
  return out;
}

// The "cgroup <path>" lines, as far as they are whole.
std::vector<std::string> parse_cgroups(std::string_view text) {
  std::vector<std::string> out;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    if (nl == std::string_view::npos) break;
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    if (line.rfind("cgroup ", 0) == 0) out.emplace_back(line.substr(7));
  }
  return out;
}

}  // namespace

std::string format_job_state(const JobState& s) {
  std::string out = "job_id " + sanitized(s.job_id) + "\n";
  out += "cell_pid " + std::to_string(s.cell_pid) + "\n";
  out += "cell_start_time " + std::to_string(s.cell_start_time) + "\n";
  return out + format_cgroups(s.cgroups);
}

std::optional<JobState> parse_job_state(std::string_view text) {
  JobState s;
  bool has_pid = false;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    if (nl == std::string_view::npos) return std::nullopt;  // cut short
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    size_t space = line.find(' ');
    if (space == std::string_view::npos) return std::nullopt;
    std::string_view key = line.substr(0, space), value = line.substr(space + 1);
    if (key == "job_id") {
      s.job_id = value;
    } else if (key == "cell_pid") {
      auto v = parse_u64(value);
      if (!v || *v > 0x7fffffff) return std::nullopt;
      s.cell_pid = static_cast<pid_t>(*v);
      has_pid = true;
    } else if (key == "cell_start_time") {
      auto v = parse_u64(value);
      if (!v) return std::nullopt;
      s.cell_start_time = *v;
    } else if (key == "cgroup") {
      s.cgroups.emplace_back(value);
    } else {
      return std::nullopt;
    }
  }
  if (!has_pid) return std::nullopt;
  return s;
}

SupervisorState::SupervisorState(const std::string& root, const std::vector<std::filesystem::path>& cgroups)
    : dir_(root + "/" + own_supervisor_dir_name()) {
  if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) throw_sys("mkdir(" + cellblock::quoted(dir_) + ")");
  std::vector<std::string> paths(cgroups.begin(), cgroups.end());
  std::string file = dir_ + "/" + kCgroupsFile;
  UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) throw_sys("open(" + cellblock::quoted(file) + ", O_WRONLY|O_CREAT|O_TRUNC)");
  write_all(fd.get(), format_cgroups(paths), cellblock::quoted(file));
}

SupervisorState::~SupervisorState() {
  try {
    UniqueFd dir(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (dir)
      for (const std::string& name : list_entries(dir.get(), dir_, DT_REG)) ::unlinkat(dir.get(), name.c_str(), 0);
    if (::rmdir(dir_.c_str()) != 0 && errno != ENOENT)
      spdlog::warn("state: cannot remove {}: {}", cellblock::quoted(dir_), std::strerror(errno));
  } catch (const std::exception& e) {
    spdlog::warn("state: cannot remove {}: {}", cellblock::quoted(dir_), e.what());
  }
}

SupervisorState::JobFile SupervisorState::job_starting(const std::string& name, const std::string& job_id,
                                                       const std::vector<std::filesystem::path>& cgroups) {
  JobFile f;
  f.path_ = dir_ + "/" + name;
  f.state_.job_id = job_id;
  for (const auto& c : cgroups) f.state_.cgroups.push_back(c.string());
  std::string text = format_job_state(f.state_);
  f.fd_.reset(::open(f.path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!f.fd_) throw_sys("open(" + cellblock::quoted(f.path_) + ", O_WRONLY|O_CREAT|O_EXCL)");
  try {
    write_all(f.fd_.get(), text, cellblock::quoted(f.path_));
  } catch (...) {
    f.remove();
    throw;
  }
  f.written_ = text.size();
  return f;
}

void SupervisorState::JobFile::cell_started(pid_t pid) noexcept {
  if (!fd_) return;
  try {
    state_.cell_pid = pid;
    // The init cannot have been reaped yet (only the supervising loop reaps it), so its
    // /proc/<pid>/stat is there even if it has exited.
    state_.cell_start_time = process_start_time(pid).value_or(0);
    std::string text = format_job_state(state_);
    // One pwrite over the old text, which is never longer ("cell_pid 0" becomes the pid): a
    // supervisor killed meanwhile leaves either version whole, never a mix of both.
    ssize_t n;
    do n = ::pwrite(fd_.get(), text.data(), text.size(), 0); while (n < 0 && errno == EINTR);
    if (n < 0) throw_sys("pwrite(" + cellblock::quoted(path_) + ")");
    if (static_cast<size_t>(n) != text.size()) throw SysError(EIO, "pwrite(" + cellblock::quoted(path_) + "): short write");
    if (text.size() < written_ && ::ftruncate(fd_.get(), static_cast<off_t>(text.size())) != 0)
      throw_sys("ftruncate(" + cellblock::quoted(path_) + ")");
    written_ = text.size();
  } catch (const std::exception& e) {
    spdlog::error("state: cannot record the cell of job {}: {}", cellblock::quoted(state_.job_id), e.what());
  }
}

void SupervisorState::JobFile::remove() noexcept {
  if (!fd_) return;
  if (::unlink(path_.c_str()) != 0 && errno != ENOENT)
    spdlog::error("state: unlink({}): {}", cellblock::quoted(path_), std::strerror(errno));
  fd_.reset();
}

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
          remove_recorded_cgroup(path, name, removed);
        } catch (const std::exception& e) {
          c.errors.push_back(e.what());
        }
      }
    }
    // Then the supervisor's own directories, with any job cgroup that has no file (the
    // supervisor died between creating the cgroup and writing the file).
    for (const std::string& path : sv_cgroups[name]) {
      try {
        remove_recorded_cgroup(path, name, removed);
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

  // 4. The state itself.
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
    lines.push_back(std::move(line));
  }
  std::string rest;
  if (!c.cgroups_removed.empty()) rest += "cgroup " + list(c.cgroups_removed) + " removed";
  if (!c.state_dir.empty()) rest += (rest.empty() ? "" : ", ") + ("state " + c.state_dir + " removed");
  if (!rest.empty()) lines.push_back(head + rest);
  for (const std::string& e : c.errors) lines.push_back(head + "error: " + e);
  return lines;
}

}  // namespace cellblock
