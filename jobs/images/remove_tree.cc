#include "jobs/images/remove_tree.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "executor/base/sys_error.h"
#include "executor/base/unique_fd.h"

namespace cellblock::images {
namespace {

void empty_dir(int fd, const std::string& what) {
  int dup = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) throw_sys("fcntl(" + cellblock::quoted(what) + ", F_DUPFD_CLOEXEC)");
  DIR* d = ::fdopendir(dup);
  if (!d) {
    ::close(dup);
    throw_sys("fdopendir(" + cellblock::quoted(what) + ")");
  }
  std::vector<std::pair<std::string, bool>> names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {
      struct stat st;
      is_dir = ::fstatat(fd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    names.emplace_back(n, is_dir);
  }
  ::closedir(d);
  for (auto& [n, is_dir] : names) {
    if (is_dir) {
      remove_tree_at(fd, n);
    } else if (::unlinkat(fd, n.c_str(), 0) != 0 && errno != ENOENT) {
      throw_sys("unlinkat(" + cellblock::quoted(what + "/" + n) + ")");
    }
  }
}

}  // namespace

void remove_tree_at(int dirfd, const std::string& name) {
  UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return;
    if (errno == ENOTDIR || errno == ELOOP) {
      if (::unlinkat(dirfd, name.c_str(), 0) != 0 && errno != ENOENT) throw_sys("unlinkat(" + cellblock::quoted(name) + ")");
      return;
    }
    throw_sys("openat(" + cellblock::quoted(name) + ")");
  }
  empty_dir(fd.get(), name);
  if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) throw_sys("rmdir(" + cellblock::quoted(name) + ")");
}

}  // namespace cellblock::images
