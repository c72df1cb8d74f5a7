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
#include "executor/base/host_file.h"
#include "executor/base/process_wide.h"
#include "executor/base/sys_error.h"

namespace cellblock {
namespace {

std::string sanitized(std::string_view s) {
  std::string out(s.substr(0, 256));
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return out;
}

std::string format_cgroups(const std::vector<std::string>& cgroups) {
  std::string out;
  for (const std::string& c : cgroups) out += "cgroup " + sanitized(c) + "\n";
  return out;
}

}  // namespace

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

std::string format_job_state(const JobState& s) {
  std::string out = "job_id " + sanitized(s.job_id) + "\n";
  out += "cell_pid " + std::to_string(s.cell_pid) + "\n";
  out += "cell_start_time " + std::to_string(s.cell_start_time) + "\n";
  out += format_cgroups(s.cgroups);
  if (s.net) out += "net " + sanitized(s.net->bridge) + " " + sanitized(s.net->address) + " " + sanitized(s.net->veth) + "\n";
  return out;
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
    } else if (key == "net") {
      const size_t a = value.find(' '), b = a == std::string_view::npos ? a : value.find(' ', a + 1);
      if (b == std::string_view::npos) return std::nullopt;
      s.net = JobState::Net{std::string(value.substr(0, a)), std::string(value.substr(a + 1, b - a - 1)),
                            std::string(value.substr(b + 1))};
    } else {
      return std::nullopt;
    }
  }
  if (!has_pid) return std::nullopt;
  return s;
}

std::shared_ptr<SupervisorState> SupervisorState::shared(const std::string& root,
                                                         const std::vector<std::filesystem::path>& cgroups) {
  std::shared_ptr<SupervisorState> state = ProcessWide<SupervisorState>::instance().get(
      std::filesystem::absolute(root).lexically_normal().string(),
      [&] { return std::make_unique<SupervisorState>(root, cgroups); });
  state->record_cgroups(cgroups);  // nothing new unless an executor with another subtree made it
  return state;
}

SupervisorState::SupervisorState(const std::string& root, const std::vector<std::filesystem::path>& cgroups)
    : dir_(root + "/" + own_supervisor_dir_name()) {
  if (::mkdir(dir_.c_str(), 0700) != 0 && errno != EEXIST) throw_sys("mkdir(" + cellblock::quoted(dir_) + ")");
  record_cgroups(cgroups);
}

void SupervisorState::record_cgroups(const std::vector<std::filesystem::path>& cgroups) {
  std::lock_guard lock(cgroups_mutex_);
  bool added = recorded_.empty();  // the first call writes the file even when it has no lines
  for (const auto& c : cgroups) {
    if (std::find(recorded_.begin(), recorded_.end(), c.string()) != recorded_.end()) continue;
    recorded_.push_back(c.string());
    added = true;
  }
  if (!added) return;
  // Written whole each time (a rename would leave a window with no file for a cleanup to read,
  // a truncate one with an empty file, which a cleanup treats as "no cgroups": both rare, both
  // cost at most a leftover directory that the next start's remove_leftovers() takes).
  std::string file = dir_ + "/" + kCgroupsFile;
  UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) throw_sys("open(" + cellblock::quoted(file) + ", O_WRONLY|O_CREAT|O_TRUNC)");
  write_all(fd.get(), format_cgroups(recorded_), cellblock::quoted(file));
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
    rewrite();
  } catch (const std::exception& e) {
    spdlog::error("state: cannot record the cell of job {}: {}", cellblock::quoted(state_.job_id), e.what());
  }
}

void SupervisorState::JobFile::network_attached(const std::string& bridge, const std::string& address,
                                                const std::string& veth) {
  if (!fd_) return;
  state_.net = JobState::Net{bridge, address, veth};
  rewrite();
}

// One pwrite of the whole text over the old one, which is never longer ("cell_pid 0" becomes the
// pid, a `net` line is added at the end): a supervisor killed meanwhile leaves the old version
// whole, the new one whole, or the new one cut short, which parse_job_state refuses (then the
// cleanup still finds the lease, which names its owner).
void SupervisorState::JobFile::rewrite() {
  std::string text = format_job_state(state_);
  ssize_t n;
  do n = ::pwrite(fd_.get(), text.data(), text.size(), 0); while (n < 0 && errno == EINTR);
  if (n < 0) throw_sys("pwrite(" + cellblock::quoted(path_) + ")");
  if (static_cast<size_t>(n) != text.size()) throw SysError(EIO, "pwrite(" + cellblock::quoted(path_) + "): short write");
  if (text.size() < written_ && ::ftruncate(fd_.get(), static_cast<off_t>(text.size())) != 0)
    throw_sys("ftruncate(" + cellblock::quoted(path_) + ")");
  written_ = text.size();
}

void SupervisorState::JobFile::remove() noexcept {
  if (!fd_) return;
  if (::unlink(path_.c_str()) != 0 && errno != ENOENT)
    spdlog::error("state: unlink({}): {}", cellblock::quoted(path_), std::strerror(errno));
  fd_.reset();
}

}  // namespace cellblock
