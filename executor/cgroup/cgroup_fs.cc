#include "executor/cgroup/cgroup_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <limits>
#include <stdexcept>

#include "executor/base/sys_error.h"

namespace cellblock {

namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

// Calls `fn(line)` for each line of `text` (without the '\n').
template <typename Fn>
void for_each_line(std::string_view text, Fn fn) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    fn(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

// Calls `fn(line, bad)` for each line of `text` that is not blank; `bad(why)` makes the error
// for a malformed one, naming the file (`what`) and the line.
template <typename Fn>
void for_each_record(std::string_view text, const char* what, Fn fn) {
  for_each_line(text, [&](std::string_view line) {
    if (trim(line).empty()) return;
    fn(line, [&](const char* why) {
      return std::runtime_error(std::string(what) + " line " + cellblock::quoted(line) + ": " + why);
    });
  });
}

// Splits off the next space-separated token of `s`.
std::string_view next_token(std::string_view& s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  size_t end = 0;
  while (end < s.size() && !is_space(s[end])) ++end;
  std::string_view tok = s.substr(0, end);
  s.remove_prefix(end);
  return tok;
}

// mountinfo escapes space, tab, newline and backslash as \ooo (octal).
std::string unescape_octal(std::string_view s) {
  auto is_oct = [](char c) { return c >= '0' && c <= '7'; };
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && s.size() - i >= 4 && is_oct(s[i + 1]) && is_oct(s[i + 2]) &&
        is_oct(s[i + 3])) {
      out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
      i += 3;
      continue;
    }
    out += s[i];
  }
  return out;
}

std::vector<std::string> split_on(std::string_view s, char sep) {
  std::vector<std::string> out;
  while (true) {
    size_t pos = s.find(sep);
    out.emplace_back(s.substr(0, pos));
    if (pos == std::string_view::npos) break;
    s.remove_prefix(pos + 1);
  }
  return out;
}

std::string read_fd(int fd, std::string_view shown) {
  std::string out;
  char buf[4096];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_sys("read(" + cellblock::quoted(shown) + ")");
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    // A short read is the end: seq_file (cgroupfs, /proc) fills the buffer while records are
    // left, and so does a regular file. Saves the read() that would return 0, per file.
    if (static_cast<size_t>(n) < sizeof buf) break;
  }
  return out;
}

}  // namespace

int CgroupFsOps::make_dir(int dirfd, const char* name) const {
  return ::mkdirat(dirfd, name, 0755);
}

int CgroupFsOps::remove_dir(int dirfd, const char* name) const {
  return ::unlinkat(dirfd, name, AT_REMOVEDIR);
}

const CgroupFsOps& kernel_cgroup_fs() {
  static const CgroupFsOps ops;
  return ops;
}

std::string join_path(std::string_view dir, std::string_view name) {
  std::string out(dir);
  if (out.empty() || out.back() != '/') out += '/';
  out += name;
  return out;
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

std::string to_dec(uint64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, end);
}

bool exists_at(int dirfd, const char* name) { return ::faccessat(dirfd, name, F_OK, 0) == 0; }

UniqueFd open_dir(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_sys("open(" + cellblock::quoted(path.native()) + ", O_DIRECTORY)");
  return UniqueFd(fd);
}

UniqueFd open_dir_at(int dirfd, const char* name, std::string_view shown) {
  int fd = ::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_sys("open(" + cellblock::quoted(join_path(shown, name)) + ", O_DIRECTORY)");
  return UniqueFd(fd);
}

std::string read_file(const std::filesystem::path& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw_sys("open(" + cellblock::quoted(path.native()) + ", O_RDONLY)");
  return read_fd(fd.get(), path.native());
}

std::optional<std::string> read_file_at(int dirfd, const char* name, std::string_view shown,
                                        bool missing_ok) {
  UniqueFd fd(::openat(dirfd, name, O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (missing_ok && errno == ENOENT) return std::nullopt;
    throw_sys("open(" + cellblock::quoted(join_path(shown, name)) + ", O_RDONLY)");
  }
  return read_fd(fd.get(), join_path(shown, name));
}

uint64_t read_u64_at(int dirfd, const char* name, std::string_view shown) {
  std::string text = *read_file_at(dirfd, name, shown);
  auto v = parse_u64(text);
  if (!v) {
    throw std::runtime_error(cellblock::quoted(join_path(shown, name)) +
                             ": expected a number, read " + cellblock::quoted(trim(text)));
  }
  return *v;
}

int CgroupFsOps::write_file(int dirfd, const char* name, std::string_view value) const {
  // No O_TRUNC: cgroupfs ignores the offset, and truncation would be a kernfs setattr per write.
  UniqueFd fd(::openat(dirfd, name, O_WRONLY | O_CLOEXEC));
  if (!fd) return errno;
  ssize_t n;
  do {
    n = ::write(fd.get(), value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return errno;
  // An interface file takes a value in one write(2); a short write would be a kernel bug.
  if (static_cast<size_t>(n) != value.size()) return EIO;
  return 0;
}

int try_write_file_at(int dirfd, const char* name, std::string_view value, const CgroupFsOps& ops) {
  return ops.write_file(dirfd, name, value);
}

void write_file_at(int dirfd, const char* name, std::string_view value, std::string_view shown,
                   const CgroupFsOps& ops) {
  if (int err = try_write_file_at(dirfd, name, value, ops)) {
    throw SysError(err, "write(" + cellblock::quoted(join_path(shown, name)) + ", " +
                            cellblock::quoted(value) + ")");
  }
}

std::string_view PolledFile::read(char* buf, size_t size) const {
  ssize_t n;
  do {
    n = ::pread(fd_.get(), buf, size, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) throw_sys("pread(" + cellblock::quoted(shown_) + ")");
  return std::string_view(buf, static_cast<size_t>(n));
}

std::optional<uint64_t> parse_u64(std::string_view text) {
  text = trim(text);
  if (text == "max") return std::numeric_limits<uint64_t>::max();
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

std::optional<uint64_t> find_key_u64(std::string_view text, std::string_view key) {
  std::optional<uint64_t> found;
  for_each_line(text, [&](std::string_view line) {
    if (found) return;
    std::string_view rest = line;
    if (next_token(rest) != key) return;
    found = parse_u64(rest);
  });
  return found;
}

uint64_t sum_nested_key(std::string_view text, std::string_view key) {
  uint64_t sum = 0;
  for_each_line(text, [&](std::string_view line) {
    std::string_view rest = line;
    next_token(rest);  // MAJ:MIN
    for (std::string_view tok = next_token(rest); !tok.empty(); tok = next_token(rest)) {
      size_t eq = tok.find('=');
      if (eq == std::string_view::npos || tok.substr(0, eq) != key) continue;
      if (auto v = parse_u64(tok.substr(eq + 1))) sum += *v;
    }
  });
  return sum;
}

uint64_t sum_blkio_op(std::string_view text, std::string_view op) {
  uint64_t sum = 0;
  for_each_line(text, [&](std::string_view line) {
    std::string_view rest = line;
    std::string_view dev = next_token(rest);
    if (dev.find(':') == std::string_view::npos) return;  // the "Total N" line
    if (next_token(rest) != op) return;
    if (auto v = parse_u64(rest)) sum += *v;
  });
  return sum;
}

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> out;
  for (std::string_view tok = next_token(text); !tok.empty(); tok = next_token(text)) {
    out.emplace_back(tok);
  }
  return out;
}

std::vector<MountInfo> parse_mountinfo(std::string_view text) {
  std::vector<MountInfo> out;
  for_each_record(text, "mountinfo", [&](std::string_view line, auto bad) {
    // 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
    std::string_view rest = line;
    next_token(rest);  // mount id
    next_token(rest);  // parent id
    std::string_view devno = next_token(rest);
    MountInfo m;
    size_t colon = devno.find(':');
    if (colon == std::string_view::npos) throw bad("no MAJ:MIN in field 3");
    auto maj = parse_u64(devno.substr(0, colon));
    auto min = parse_u64(devno.substr(colon + 1));
    if (!maj || !min) throw bad("bad MAJ:MIN in field 3");
    m.major = static_cast<unsigned>(*maj);
    m.minor = static_cast<unsigned>(*min);
    m.root = unescape_octal(next_token(rest));
    m.mount_point = unescape_octal(next_token(rest));
    next_token(rest);  // per-mount options
    // Optional fields ("shared:1", "master:2") up to a lone "-".
    while (true) {
      std::string_view tok = next_token(rest);
      if (tok.empty()) throw bad("no \"-\" separator");
      if (tok == "-") break;
    }
    m.fs_type = std::string(next_token(rest));
    m.source = unescape_octal(next_token(rest));
    std::string_view opts = next_token(rest);
    if (m.fs_type.empty() || m.mount_point.empty()) throw bad("missing fields");
    m.super_options = split_on(opts, ',');
    out.push_back(std::move(m));
  });
  return out;
}

std::vector<ProcCgroup> parse_proc_cgroup(std::string_view text) {
  std::vector<ProcCgroup> out;
  for_each_record(text, "/proc/self/cgroup", [&](std::string_view line, auto bad) {
    size_t c1 = line.find(':');
    if (c1 == std::string_view::npos) throw bad("expected ID:CONTROLLERS:PATH");
    size_t c2 = line.find(':', c1 + 1);
    if (c2 == std::string_view::npos) throw bad("expected ID:CONTROLLERS:PATH");
    ProcCgroup pc;
    auto id = parse_u64(line.substr(0, c1));
    if (!id) throw bad("bad hierarchy ID");
    pc.id = static_cast<unsigned>(*id);
    std::string_view ctrls = line.substr(c1 + 1, c2 - c1 - 1);
    if (!ctrls.empty()) pc.controllers = split_on(ctrls, ',');
    // The path is the rest of the line: it may itself contain ':'.
    pc.path = std::string(line.substr(c2 + 1));
    if (pc.path.empty() || pc.path.front() != '/') throw bad("path is not absolute");
    out.push_back(std::move(pc));
  });
  return out;
}

std::optional<uint64_t> parse_stat_start_time(std::string_view stat) {
  // "pid (comm) state ppid ...": comm may contain spaces and ')', so start after the last ')'.
  size_t paren = stat.rfind(')');
  if (paren == std::string_view::npos) return std::nullopt;
  std::string_view rest = stat.substr(paren + 1);
  // Field 3 (state) is the first token after ')'; starttime is field 22.
  for (int field = 3; field < 22; ++field) {
    if (next_token(rest).empty()) return std::nullopt;
  }
  return parse_u64(next_token(rest));
}

std::optional<char> parse_stat_state(std::string_view stat) {
  size_t paren = stat.rfind(')');
  if (paren == std::string_view::npos) return std::nullopt;
  std::string_view rest = stat.substr(paren + 1);
  std::string_view state = next_token(rest);
  if (state.size() != 1) return std::nullopt;
  return state[0];
}

std::optional<std::string> read_proc_stat(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/stat";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT || errno == ESRCH) return std::nullopt;
    throw_sys("open(" + cellblock::quoted(path) + ", O_RDONLY)");
  }
  char buf[1024];
  ssize_t n = ::read(fd.get(), buf, sizeof buf);
  if (n < 0) {
    if (errno == ESRCH) return std::nullopt;  // exited between open and read
    throw_sys("read(" + cellblock::quoted(path) + ")");
  }
  return std::string(buf, static_cast<size_t>(n));
}

std::optional<uint64_t> process_start_time(pid_t pid) {
  auto stat = read_proc_stat(pid);
  if (!stat) return std::nullopt;
  auto start = parse_stat_start_time(*stat);
  if (!start) throw std::runtime_error("/proc/" + std::to_string(pid) + "/stat: cannot parse the start time");
  return start;
}

std::vector<pid_t> parse_pids(std::string_view text) {
  std::vector<pid_t> out;
  for_each_line(text, [&](std::string_view line) {
    if (auto v = parse_u64(line); v && *v > 0) out.push_back(static_cast<pid_t>(*v));
  });
  return out;
}

}  // namespace cellblock
