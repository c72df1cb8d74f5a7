#include "executor/base/dir_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <string_view>

#include "executor/base/host_file.h"
#include "executor/base/sys_error.h"

namespace cellblock {

UniqueFd open_or_make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) throw_sys("mkdir(" + quoted(path) + ")");
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) throw_sys("open(" + quoted(path) + ")");
  return fd;
}

UniqueFd open_or_make_dir_at(int dir, const std::string& name) {
  if (::mkdirat(dir, name.c_str(), 0700) != 0 && errno != EEXIST) throw_sys("mkdir(" + quoted(name) + ")");
  UniqueFd fd(::openat(dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) throw_sys("open(" + quoted(name) + ")");
  return fd;
}

void write_file_at(int dir, const std::string& name, const std::string& text, bool sync) {
  const std::string tmp = "." + name + ".tmp";
  UniqueFd fd(::openat(dir, tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) throw_sys("open(" + quoted(tmp) + ")");
  try {
    write_all(fd.get(), text, tmp);
    if (sync && ::fsync(fd.get()) != 0) throw_sys("fsync(" + quoted(tmp) + ")");
    if (::renameat(dir, tmp.c_str(), dir, name.c_str()) != 0) throw_sys("rename(" + quoted(tmp) + ", " + quoted(name) + ")");
  } catch (...) {
    // A half-written temporary file would stay for good: nothing reads or removes dot files.
    ::unlinkat(dir, tmp.c_str(), 0);
    throw;
  }
}

std::string read_file_at(int dir, const std::string& name) {
  UniqueFd fd(::openat(dir, name.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) throw_sys("open(" + quoted(name) + ")");
  return read_all(fd.get(), name);
}

std::vector<std::string> names_in(int dir, bool dot_files) {
  std::vector<std::string> out;
  UniqueFd copy(::openat(dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!copy) throw_sys("open directory");
  DIR* d = ::fdopendir(copy.release());
  if (!d) throw_sys("fdopendir");
  while (dirent* e = ::readdir(d)) {
    const std::string_view name(e->d_name);
    if (name == "." || name == ".." || (name[0] == '.' && !dot_files)) continue;
    out.emplace_back(name);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace cellblock
