#include "executor/work_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <spdlog/spdlog.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "executor/base/host_file.h"
#include "executor/base/sys_error.h"

namespace cellblock {
namespace {

// Inodes of the tmpfs: enough for any judge's files, few enough that a job making empty files
// in a loop stops soon.
constexpr uint64_t kMaxInodes = 4096;

int openat2_in(int dirfd, const std::string& path, int flags, mode_t mode, uint64_t resolve) {
  open_how how{};
  how.flags = static_cast<uint64_t>(flags);
  how.mode = mode;
  how.resolve = resolve;
  return static_cast<int>(::syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how));
}

// Paths the job may have changed stay under the tmpfs's root: ".." and absolute symlinks are
// resolved as if the root were "/", /proc's magic links are refused, no other mount is entered.
constexpr uint64_t kInRoot = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;

void detach_and_remove(const std::string& path) {
  if (::umount2(path.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
    spdlog::warn("work directory: umount {}: {}", path, std::strerror(errno));
  if (::rmdir(path.c_str()) != 0 && errno != ENOENT) spdlog::warn("work directory: rmdir {}: {}", path, std::strerror(errno));
}

}  // namespace

WorkDir::WorkDir(std::string path, uint64_t size_bytes) : path_(std::move(path)) {
  if (::mkdir(path_.c_str(), 0700) != 0) throw_sys("mkdir " + quoted(path_));
  const std::string options =
      "size=" + std::to_string(size_bytes) + ",nr_inodes=" + std::to_string(kMaxInodes) + ",mode=0777";
  if (::mount("cellblock-work", path_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0) {
    const int err = errno;
    ::rmdir(path_.c_str());
    throw SysError(err, "mount tmpfs on " + quoted(path_) + " (" + options + ")");
  }
  root_.reset(::open(path_.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root_) {
    const int err = errno;
    detach_and_remove(path_);
    throw SysError(err, "open " + quoted(path_));
  }
}

WorkDir::~WorkDir() {
  root_.reset();
  detach_and_remove(path_);
}

void WorkDir::write_file(const std::string& relative, const std::string& content) {
  // Before the job: only the client's own files are here, but the directories are still walked
  // without following anything, so that a client's "a" and "a/b" cannot combine into a way out.
  UniqueFd dir{::fcntl(root_.get(), F_DUPFD_CLOEXEC, 0)};
  if (!dir) throw_sys("dup the work directory");
  size_t start = 0;
  for (size_t slash; (slash = relative.find('/', start)) != std::string::npos; start = slash + 1) {
    const std::string part = relative.substr(start, slash - start);
    if (::mkdirat(dir.get(), part.c_str(), 0777) != 0 && errno != EEXIST) throw_sys("mkdir " + quoted(relative.substr(0, slash)));
    UniqueFd next{openat2_in(dir.get(), part, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)};
    if (!next) throw_sys("open " + quoted(relative.substr(0, slash)));
    dir = std::move(next);
  }
  const std::string name = relative.substr(start);
  UniqueFd file{::openat(dir.get(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0777)};
  if (!file) throw_sys("create " + quoted(relative));
  // Executable, like go-judge's copyIn files: a compiled program copied in by fileId must run.
  if (::fchmod(file.get(), 0777) != 0) throw_sys("chmod " + quoted(relative));
  write_all(file.get(), content, relative);
}

WorkDir::ReadResult WorkDir::read_file(const std::string& relative, uint64_t max_bytes) const {
  ReadResult r;
  // O_NONBLOCK: a FIFO the job left opens at once instead of waiting for a writer forever.
  UniqueFd file{openat2_in(root_.get(), relative, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0, kInRoot)};
  if (!file) {
    const int err = errno;
    if (err == ENOENT) r.outcome = ReadResult::missing, r.message = "no such file";
    else if (err == ELOOP) r.outcome = ReadResult::not_regular, r.message = "is a symbolic link: refused";
    else if (err == EXDEV) r.outcome = ReadResult::not_regular, r.message = "leads out of the working directory: refused";
    else r.message = std::strerror(err);
    return r;
  }
  struct stat st {};
  if (::fstat(file.get(), &st) != 0) return r.message = std::strerror(errno), r;
  if (!S_ISREG(st.st_mode)) {
    r.outcome = ReadResult::not_regular;
    r.message = "is not a regular file: refused";
    return r;
  }
  // Read one byte past the cap to know it was passed, whatever the size said a moment ago.
  std::string data;
  std::vector<char> buffer(64 << 10);
  while (data.size() <= max_bytes) {
    const size_t want = std::min<uint64_t>(buffer.size(), max_bytes + 1 - data.size());
    const ssize_t n = ::read(file.get(), buffer.data(), want);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return r.message = std::strerror(errno), r;
    if (n == 0) break;
    data.append(buffer.data(), static_cast<size_t>(n));
  }
  if (data.size() > max_bytes) {
    r.outcome = ReadResult::too_large;
    r.message = "is larger than its limit of " + std::to_string(max_bytes) + " bytes";
    return r;
  }
  r.outcome = ReadResult::ok;
  r.content = std::move(data);
  return r;
}

void WorkDir::remove_leftovers(const std::string& parent, const std::function<bool(const std::string&)>& keep) {
  DIR* d = ::opendir(parent.c_str());
  if (!d) return;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d))
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0 && !(keep && keep(e->d_name)))
      names.push_back(e->d_name);
  ::closedir(d);
  for (const auto& n : names) {
    spdlog::warn("removing the working directory {}/{} that a previous service left", parent, n);
    detach_and_remove(parent + "/" + n);
  }
}

}  // namespace cellblock
