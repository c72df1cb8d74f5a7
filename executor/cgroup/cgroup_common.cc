// Pieces both cgroup drivers use: naming, validation, directory listing, rmdir with retry and a
// kill loop that never signals a process outside the cgroup.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <stdexcept>
#include <thread>

#include <spdlog/spdlog.h>

#include "executor/cgroup/cgroup_fs.h"
#include "executor/cgroup/cgroup_impl.h"
#include "executor/base/pidfd.h"
#include "executor/base/sys_error.h"

namespace cellblock {

std::string supervisor_dir_name(pid_t pid, uint64_t start_time) {
  return "sv-" + std::to_string(pid) + "-" + std::to_string(start_time);
}

std::string driver_state_key(const CgroupLayout& layout, const CgroupConfig& config) {
  std::string key = (layout.mode == CgroupMode::v1 ? "v1 " : "v2 ") + config.subtree;
  for (const CgroupHierarchy& h : layout.hierarchies)
    key += " " + (layout.mode == CgroupMode::v2 ? v2_base(h.base, config.subtree) : h.base);
  key += " ops@" + std::to_string(reinterpret_cast<std::uintptr_t>(config.fs_ops.get()));
  return key;
}

std::string v2_base(const std::string& self, const std::string& subtree, bool* in_leaf) {
  const std::string leaf_suffix = "/" + subtree + "/supervisor";
  const bool leaf = self.size() > leaf_suffix.size() && self.ends_with(leaf_suffix);
  if (in_leaf) *in_leaf = leaf;
  return leaf ? self.substr(0, self.size() - leaf_suffix.size()) : self;
}

std::optional<std::pair<pid_t, uint64_t>> parse_supervisor_dir_name(std::string_view name) {
  if (name.substr(0, 3) != "sv-") return std::nullopt;
  name.remove_prefix(3);
  size_t dash = name.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  auto all_digits = [](std::string_view s) {
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  std::string_view pid_text = name.substr(0, dash), start_text = name.substr(dash + 1);
  if (!all_digits(pid_text) || !all_digits(start_text)) return std::nullopt;
  auto pid = parse_u64(pid_text);
  auto start = parse_u64(start_text);
  if (!pid || !start || *pid == 0 || *pid > 0x7fffffff) return std::nullopt;
  return std::make_pair(static_cast<pid_t>(*pid), *start);
}

std::string own_supervisor_dir_name() {
  pid_t pid = ::getpid();
  auto start = process_start_time(pid);
  if (!start) throw std::runtime_error("cannot read this process's start time in /proc/self/stat");
  return supervisor_dir_name(pid, *start);
}

bool supervisor_is_gone(pid_t pid, uint64_t start_time) {
  auto stat = read_proc_stat(pid);
  if (!stat || parse_stat_start_time(*stat) != start_time) return true;
  // A zombie is gone too: its parent has not reaped it yet, but it runs no code, and its cells
  // got their PR_SET_PDEATHSIG when its last thread exited.
  auto state = parse_stat_state(*stat);
  return state == 'Z' || state == 'X';
}

std::string job_dir_name(std::string_view name) {
  if (name.empty() || name.size() > 200 || name == "." || name == ".." ||
      name.find('/') != std::string_view::npos || name.find('\0') != std::string_view::npos) {
    throw std::invalid_argument("job cgroup name " + cellblock::quoted(name) +
                                ": must be 1 to 200 characters, without '/', and not \".\" or "
                                "\"..\"");
  }
  return "job-" + std::string(name);
}

std::unique_ptr<JobCgroup> CgroupDriver::create(std::string_view name, const CgroupLimits& limits) {
  validate_limits(limits);
  return create_job(job_dir_name(name), limits);
}

void validate_limits(const CgroupLimits& limits) {
  if (limits.cpus && !(std::isfinite(*limits.cpus) && *limits.cpus > 0)) {
    throw std::invalid_argument("cpus: must be a positive number of cores, got " +
                                std::to_string(*limits.cpus));
  }
  for (const auto& d : limits.io) {
    if (d.major == 0) {
      throw std::invalid_argument("io: device " + std::to_string(d.major) + ":" +
                                  std::to_string(d.minor) +
                                  " has major 0, which is never a block device");
    }
  }
}

std::pair<uint64_t, uint64_t> cpu_quota_us(double cpus) {
  constexpr uint64_t kPeriod = 100'000;  // the kernel's default cfs period, 100 ms
  // The kernel refuses quotas under 1 ms (min_cfs_quota_period).
  double quota = std::max(1000.0, std::round(cpus * static_cast<double>(kPeriod)));
  return {static_cast<uint64_t>(quota), kPeriod};
}

void backoff_sleep(std::chrono::microseconds& step, std::chrono::microseconds max) {
  std::this_thread::sleep_for(step);
  step = std::min(step * 2, max);
}

void remove_logging_errors(JobCgroup& job, std::string_view shown) noexcept {
  try {
    job.remove();
  } catch (const std::exception& e) {
    spdlog::error("cgroup: removing job cgroup {}: {}", cellblock::quoted(shown), e.what());
  }
}

int remove_dir_retrying(const CgroupFsOps& ops, int dirfd, const char* name) {
  auto deadline = std::chrono::steady_clock::now() + kRmdirRetry;
  std::chrono::microseconds step(50);
  while (true) {
    if (ops.remove_dir(dirfd, name) == 0) return 0;
    int err = errno;
    if (err == ENOENT) return 0;
    // EBUSY: killed tasks still leaving (v1 and v2 both count a task until it is released).
    if (err != EBUSY || std::chrono::steady_clock::now() >= deadline) return err;
    backoff_sleep(step);
  }
}

void remove_subtree_if_empty(const CgroupFsOps& ops, const std::string& base,
                             const std::string& name, int subtree_fd) {
  try {
    if (!list_subdirs(subtree_fd, join_path(base, name)).empty()) return;
  } catch (const std::exception&) {
    return;
  }
  UniqueFd base_fd(::open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (base_fd) remove_dir_retrying(ops, base_fd.get(), name.c_str());
}

bool has_tasks(const CgroupRef& cg) {
  std::string procs = cg.file("cgroup.procs");
  UniqueFd fd(::openat(cg.parent_fd, procs.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd)
    throw_sys("open(" + cellblock::quoted(join_path(cg.parent_shown, procs)) + ", O_RDONLY)");
  char buf[64];
  ssize_t n;
  do {
    n = ::read(fd.get(), buf, sizeof buf);
  } while (n < 0 && errno == EINTR);
  if (n < 0) throw_sys("read(" + cellblock::quoted(join_path(cg.parent_shown, procs)) + ")");
  return n > 0;
}

std::vector<pid_t> kill_listed_tasks(const CgroupRef& cg) {
  std::string procs = cg.file("cgroup.procs");
  auto pids = parse_pids(*read_file_at(cg.parent_fd, procs.c_str(), cg.parent_shown));
  std::vector<pid_t> sent;
  if (pids.empty()) return sent;
  std::vector<std::pair<pid_t, UniqueFd>> pinned;
  pinned.reserve(pids.size());
  for (pid_t pid : pids) {
    int fd = sys_pidfd_open(pid);
    if (fd < 0) {
      // Gone already: ESRCH, or EINVAL while an exiting process's pid is still listed but no
      // longer names a thread-group leader (pidfd_create checks PIDTYPE_TGID).
      if (errno == ESRCH || errno == EINVAL) continue;
      throw_sys("pidfd_open(" + std::to_string(pid) + ")");
    }
    pinned.emplace_back(pid, UniqueFd(fd));
  }
  auto still = parse_pids(*read_file_at(cg.parent_fd, procs.c_str(), cg.parent_shown));
  std::sort(still.begin(), still.end());
  for (auto& [pid, fd] : pinned) {
    if (!std::binary_search(still.begin(), still.end(), pid)) continue;
    if (sys_pidfd_send_signal(fd.get(), SIGKILL) == 0) {
      sent.push_back(pid);
    } else if (errno != ESRCH) {
      throw_sys("pidfd_send_signal(" + std::to_string(pid) + ", SIGKILL)");
    }
  }
  return sent;
}

std::optional<uint64_t> read_memory_limit(const std::string& dir, const char* file) {
  std::string text;
  try {
    text = read_file(join_path(dir, file));
  } catch (const std::exception&) {
    return std::nullopt;  // no memory controller there: the machine's memory is the limit
  }
  auto words = split_words(text);
  if (words.size() != 1) return std::nullopt;  // v2 "max": none
  return parse_u64(words[0]);
}

// ---- The cleanup after a crash ---------------------------------------------------------------

namespace {

bool under_a_cgroup_mount(const std::filesystem::path& path) {
  for (const MountInfo& m : parse_mountinfo(read_file("/proc/self/mountinfo"))) {
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

}  // namespace

void CgroupDriver::remove_recorded(const std::string& recorded, const std::string& sv_name,
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


}  // namespace cellblock
