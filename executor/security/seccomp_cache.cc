#include "executor/security/seccomp_cache.h"

#include <fcntl.h>
#include <seccomp.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <sstream>

#include "executor/base/host_file.h"
#include "executor/base/sys_error.h"
#include "executor/base/unique_fd.h"

namespace cellblock {

namespace {

constexpr const char* kMagic = "cellblock-seccomp-cache 1\n";
constexpr size_t kMaxInstructions = 4096;  // BPF_MAXINSNS: the kernel loads no longer program

// The running executable, by file identity: a rebuild changes its inode or mtime.
std::string executable_identity() {
  struct stat st {};
  if (::stat("/proc/self/exe", &st) != 0) return "exe ?";
  std::ostringstream s;
  s << "exe " << st.st_dev << ":" << st.st_ino << " " << st.st_size << " " << st.st_mtim.tv_sec << "."
    << st.st_mtim.tv_nsec;
  return s.str();
}

// A directory or file we may trust: ours (this euid) and writable by no one else.
bool ours_and_private(const struct stat& st) {
  return st.st_uid == ::geteuid() && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

std::optional<SeccompProgram> read_cached(const std::filesystem::path& file, const std::string& key) {
  UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return std::nullopt;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || !ours_and_private(st)) return std::nullopt;
  std::string text = read_all(fd.get(), file.string());
  const std::string head = std::string(kMagic) + std::to_string(key.size()) + "\n" + key;
  if (text.compare(0, head.size(), head) != 0) return std::nullopt;
  const size_t bytes = text.size() - head.size();
  if (bytes == 0 || bytes % sizeof(sock_filter) != 0 || bytes / sizeof(sock_filter) > kMaxInstructions)
    return std::nullopt;
  std::vector<sock_filter> code(bytes / sizeof(sock_filter));
  std::memcpy(code.data(), text.data() + head.size(), bytes);
  return SeccompProgram(std::move(code));
}

void write_cached(const std::filesystem::path& dir, const std::filesystem::path& file, const std::string& key,
                  const SeccompProgram& program) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) throw_sys("mkdir " + dir.string());
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) throw_sys("stat " + dir.string());
  if (!S_ISDIR(st.st_mode) || !ours_and_private(st))
    throw std::runtime_error(dir.string() + ": not a directory of this user that only it may write");
  std::string text = std::string(kMagic) + std::to_string(key.size()) + "\n" + key;
  text.append(reinterpret_cast<const char*>(program.code().data()), program.size() * sizeof(sock_filter));
  // A new name, then rename: a reader sees the old file or the whole new one.
  const std::filesystem::path tmp = file.string() + ".tmp." + std::to_string(::getpid());
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!fd) throw_sys("create " + tmp.string());
    write_all(fd.get(), text, tmp.string());
  }
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw SysError(err, "rename to " + file.string());
  }
}

// The architectures a program has sections for follow from the running kernel (kernel_abis.h),
// which cannot change before the next boot. So the key names the boot rather than the
// architectures, and a hit costs no probe (a vfork whose child may fault, ~0.3 ms of every
// `cellblock run`). Without a boot id: the architectures themselves.
std::string kernel_part() {
  try {
    std::string id = read_host_file("/proc/sys/kernel/random/boot_id");
    while (!id.empty() && id.back() == '\n') id.pop_back();
    if (!id.empty()) return "boot " + id;
  } catch (const std::exception&) {
  }
  std::string arches = "arch";
  for (const std::string& a : seccomp_architecture_names()) arches += " " + a;
  return arches;
}

}  // namespace

std::string seccomp_cache_key(const SeccompProfile& profile) {
  const scmp_version* v = seccomp_version();
  std::ostringstream s;
  s << executable_identity() << "\nlibseccomp " << v->major << "." << v->minor << "." << v->micro << "\n"
    << kernel_part();
  s << "\ndefault " << static_cast<int>(profile.default_action.kind) << " " << profile.default_action.errno_value << "\n";
  for (const SeccompRule& r : profile.rules) {
    s << "rule " << static_cast<int>(r.action.kind) << " " << r.action.errno_value << " names";
    for (const std::string& n : r.names) s << " " << n;
    s << " args";
    for (const SeccompArg& a : r.args)
      s << " " << a.index << ":" << static_cast<int>(a.op) << ":" << a.value << ":" << a.mask;
    s << "\n";
  }
  return s.str();
}

SeccompProgram compile_seccomp_cached(const SeccompProfile& profile, const std::filesystem::path& dir) {
  validate_seccomp(profile);  // errors name the rule, whether or not a program is cached
  const std::string key = seccomp_cache_key(profile);
  char name[32];
  std::snprintf(name, sizeof name, "%016zx.bpf", std::hash<std::string>{}(key));
  const std::filesystem::path file = dir / name;
  try {
    if (auto cached = read_cached(file, key)) return std::move(*cached);
  } catch (const std::exception& e) {
    spdlog::debug("seccomp cache: cannot read {}: {}", file.string(), e.what());
  }
  SeccompProgram program = compile_seccomp(profile);
  try {
    write_cached(dir, file, key, program);
  } catch (const std::exception& e) {
    spdlog::debug("seccomp cache: cannot store {}: {}", file.string(), e.what());
  }
  return program;
}

}  // namespace cellblock
