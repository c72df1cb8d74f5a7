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

#include "executor/cgroup/cgroup_fs.h"
#include "executor/cgroup/cgroup_impl.h"
#include "executor/base/pidfd.h"
#include "executor/base/sys_error.h"

namespace cellblock {

std::string supervisor_dir_name(pid_t pid, uint64_t start_time) {
  return "sv-" + std::to_string(pid) + "-" + std::to_string(start_time);
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

std::vector<std::string> list_entries(int dirfd, std::string_view shown, unsigned char type) {
  // fdopendir takes over the fd it is given, so give it its own.
  int fd = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_sys("open(" + cellblock::quoted(shown) + ", O_DIRECTORY)");
  DIR* dir = ::fdopendir(fd);
  if (!dir) {
    int err = errno;
    ::close(fd);
    throw SysError(err, "fdopendir(" + cellblock::quoted(shown) + ")");
  }
  std::vector<std::string> out;
  while (true) {
    errno = 0;
    dirent* e = ::readdir(dir);
    if (!e) break;
    if (e->d_type != type) continue;  // cgroupfs and tmpfs both fill d_type
    std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    out.emplace_back(name);
  }
  int err = errno;
  ::closedir(dir);
  if (err) throw SysError(err, "readdir(" + cellblock::quoted(shown) + ")");
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> list_subdirs(int dirfd, std::string_view shown) { return list_entries(dirfd, shown, DT_DIR); }

void backoff_sleep(std::chrono::microseconds& step, std::chrono::microseconds max) {
  std::this_thread::sleep_for(step);
  step = std::min(step * 2, max);
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

}  // namespace cellblock
