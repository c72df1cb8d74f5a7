// File helpers for the cgroup drivers, which the supervisor's state (executor/supervisor_state.cc)
// uses too: directory fds and listings, whole-file reads, value writes that name the path and
// value on failure, and parsers for the cgroup and /proc formats they read. Every fd is
// opened O_CLOEXEC. Parsers are pure functions over text so unit tests feed them samples.
#pragma once

#include <fcntl.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "executor/base/unique_fd.h"

namespace cellblock {

// ---- The few places where a cgroup filesystem differs from a plain one ----------------------

// The kernel fills a new cgroup directory with its interface files, takes them away on rmdir,
// and gives writes to some files side effects (a pid written to cgroup.procs leaves its old
// cgroup; subtree_control refuses a cgroup with processes). Unit tests run the drivers on a plain
// temp dir with a fake (tests/unit/fake_cgroup_fs.h) that does this by hand. This default is the
// kernel's behaviour: plain mkdirat, unlinkat and open+write.
class CgroupFsOps {
 public:
  virtual ~CgroupFsOps() = default;
  // Like mkdirat(dirfd, name, 0755): 0, or -1 with errno set.
  virtual int make_dir(int dirfd, const char* name) const;
  // Like unlinkat(dirfd, name, AT_REMOVEDIR): 0, or -1 with errno set.
  virtual int remove_dir(int dirfd, const char* name) const;
  // Writes `value` to dirfd/name in one write(2), as interface files want: 0 or an errno.
  virtual int write_file(int dirfd, const char* name, std::string_view value) const;
};

// The kernel's ops; shared, stateless.
const CgroupFsOps& kernel_cgroup_fs();

// ---- Files -----------------------------------------------------------------------------------

// Opens a directory (O_RDONLY|O_DIRECTORY|O_CLOEXEC). Throws SysError naming the path.
UniqueFd open_dir(const std::filesystem::path& path);
// Opens dirfd/name as a directory; `shown` is dirfd's path, for the error message.
UniqueFd open_dir_at(int dirfd, const char* name, std::string_view shown);

// Reads a whole (small) file. Throws SysError naming the path.
std::string read_file(const std::filesystem::path& path);
// Reads dirfd/name; `shown` is dirfd's path for error messages. nullopt if it does not exist and
// `missing_ok`; otherwise ENOENT throws too.
std::optional<std::string> read_file_at(int dirfd, const char* name, std::string_view shown,
                                        bool missing_ok = false);
// Reads dirfd/name and parses one unsigned number ("max" is UINT64_MAX). Throws SysError or
// std::runtime_error naming the path.
uint64_t read_u64_at(int dirfd, const char* name, std::string_view shown);

// Writes `value` to dirfd/name in one write(2), as the kernel wants interface values.
// Throws SysError: write("/sys/fs/cgroup/pids/x/pids.max", "64"): Invalid argument.
void write_file_at(int dirfd, const char* name, std::string_view value, std::string_view shown,
                   const CgroupFsOps& ops = kernel_cgroup_fs());
// The same, but returns the errno instead of throwing (0 on success).
int try_write_file_at(int dirfd, const char* name, std::string_view value,
                      const CgroupFsOps& ops = kernel_cgroup_fs());

// "dir/name" for messages.
std::string join_path(std::string_view dir, std::string_view name);

// Names of the subdirectories of dirfd (not following symlinks).
std::vector<std::string> list_subdirs(int dirfd, std::string_view shown);
// The names of entries of one d_type (DT_REG, DT_DIR, ...) in dirfd, sorted.
std::vector<std::string> list_entries(int dirfd, std::string_view shown, unsigned char type);

// A number as cgroup interface files take it: decimal, no sign, no separators.
std::string to_dec(uint64_t v);
// True when dirfd/name exists (an interface file this kernel has).
bool exists_at(int dirfd, const char* name);

// A small file read again and again at offset 0 (pread), e.g. cpuacct.usage polled every few
// milliseconds: one syscall per read, no allocation.
class PolledFile {
 public:
  PolledFile() = default;
  PolledFile(UniqueFd fd, std::string shown) : fd_(std::move(fd)), shown_(std::move(shown)) {}
  bool is_open() const { return fd_.valid(); }
  int fd() const { return fd_.get(); }  // e.g. for poll()
  // The file's content, in `buf`. Throws SysError naming the path.
  std::string_view read(char* buf, size_t size) const;

 private:
  UniqueFd fd_;
  std::string shown_;
};

// ---- Parsers ---------------------------------------------------------------------------------

// One unsigned decimal number, surrounding whitespace allowed; "max" is UINT64_MAX. nullopt if
// the text is anything else.
std::optional<uint64_t> parse_u64(std::string_view text);

// Flat keyed files, "key value" per line (cpu.stat, memory.events, memory.oom_control,
// cgroup.events, cpuacct.stat): the value of `key`, or nullopt.
std::optional<uint64_t> find_key_u64(std::string_view text, std::string_view key);

// Nested keyed files, "MAJ:MIN key=value ..." per line (v2 io.stat): the sum over devices of
// `key`.
uint64_t sum_nested_key(std::string_view text, std::string_view key);

// v1 blkio.throttle.io_service_bytes(_recursive): "MAJ:MIN Op value" per line plus a "Total"
// line. The sum over devices of the lines whose Op is `op` ("Read", "Write").
uint64_t sum_blkio_op(std::string_view text, std::string_view op);

// Whitespace-separated tokens of a line such as cgroup.controllers or cgroup.subtree_control.
std::vector<std::string> split_words(std::string_view text);

// One line of /proc/<pid>/mountinfo (see proc(5)).
struct MountInfo {
  unsigned major = 0;
  unsigned minor = 0;
  std::string root;         // the part of the filesystem mounted here, e.g. "/" or "/docker/x"
  std::string mount_point;  // unescaped (\040 -> ' ')
  std::string fs_type;      // "cgroup", "cgroup2", "tmpfs", ...
  std::string source;
  std::vector<std::string> super_options;  // "rw", "memory", "name=systemd", ...
};
// Throws std::runtime_error naming the line when it is malformed.
std::vector<MountInfo> parse_mountinfo(std::string_view text);

// One line of /proc/<pid>/cgroup: "ID:CONTROLLERS:PATH".
struct ProcCgroup {
  unsigned id = 0;
  std::vector<std::string> controllers;  // empty for the v2 line "0::/path"
  std::string path;                      // relative to the hierarchy's root, starts with '/'
};
// Throws std::runtime_error naming the line when it is malformed.
std::vector<ProcCgroup> parse_proc_cgroup(std::string_view text);

// Field 22 (starttime, clock ticks after boot) of /proc/<pid>/stat. nullopt if malformed.
std::optional<uint64_t> parse_stat_start_time(std::string_view stat);
// Field 3 (state: R, S, D, Z for a zombie, ...) of /proc/<pid>/stat. nullopt if malformed.
std::optional<char> parse_stat_state(std::string_view stat);
// The text of /proc/<pid>/stat, nullopt when there is no such process.
std::optional<std::string> read_proc_stat(pid_t pid);
// The start time of a live process, nullopt when there is no such process. Together with the
// pid it names a process uniquely (pids are reused; start times of one pid are not).
std::optional<uint64_t> process_start_time(pid_t pid);

// The pids listed in a cgroup.procs file.
std::vector<pid_t> parse_pids(std::string_view text);

}  // namespace cellblock
