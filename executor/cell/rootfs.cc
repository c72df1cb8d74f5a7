#include "executor/cell/rootfs.h"

#include <fcntl.h>
#include <linux/limits.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>

#include "executor/cell/mount_api.h"

namespace cellblock {
namespace {

// Resolves `path` (relative to the new root) as if `root_fd` were "/": symlinks in the job's
// rootfs cannot point a mount outside the cell (the runc CVE-2025-31133 / CVE-2021-30465 class).
constexpr unsigned long long kInRoot = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// "/proc/self/fd/N": mount(2) takes paths, so a checked O_PATH fd is handed over as its magic link.
void fd_path(char* buf, size_t size, int fd) noexcept {
  ChildText t(buf, size);
  t.add("/proc/self/fd/").number(fd);
}

// Creates `rel` (and its parents) inside the root, a directory or an empty file, and returns an
// O_PATH fd for it resolved inside the root, or -1 with `error` set.
int make_mount_point(int root_fd, const char* rel, bool is_dir, ChildError& error) noexcept {
  char buf[PATH_MAX];
  size_t n = 0;
  for (; rel[n] && n + 1 < sizeof buf; ++n) buf[n] = rel[n];
  buf[n] = '\0';
  int parent = ::fcntl(root_fd, F_DUPFD_CLOEXEC, 3);
  if (parent < 0) return error.fail([&](ChildText& t) { t.add("dup(root)"); }), -1;
  size_t start = 0;
  while (start < n) {
    size_t end = start;
    while (end < n && buf[end] != '/') ++end;
    bool last = end == n;
    buf[end] = '\0';
    const char* component = buf + start;
    int made;
    if (last && !is_dir) {
      made = ::openat(parent, component, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (made >= 0) ::close(made), made = 0;
    } else {
      made = ::mkdirat(parent, component, 0755);
    }
    if (made < 0 && errno != EEXIST) {
      int saved = errno;
      ::close(parent);
      errno = saved;
      return error.fail([&](ChildText& t) { t.add(is_dir || !last ? "mkdir " : "create ").quoted(rel); }), -1;
    }
    int next = sys::openat2(root_fd, buf, O_PATH | O_CLOEXEC | (last ? 0 : O_DIRECTORY), kInRoot);
    if (next < 0) {
      int saved = errno;
      ::close(parent);
      errno = saved;
      return error.fail([&](ChildText& t) { t.add("open ").quoted(buf).add(" inside the cell root"); }), -1;
    }
    ::close(parent);
    parent = next;
    if (!last) buf[end] = '/';
    start = end + 1;
  }
  return parent;
}

bool bind_into(int root_fd, const PlannedMount& m, ChildError& error) noexcept {
  Fd target{make_mount_point(root_fd, m.target.c_str() + 1, m.source_is_dir, error)};
  if (target.fd < 0) return false;
  // A detached copy of the source tree, made read-only recursively before anyone can see it.
  Fd tree{sys::open_tree(AT_FDCWD, m.source.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE)};
  if (tree.fd < 0)
    return error.fail([&](ChildText& t) { t.add("open_tree ").quoted(m.source.c_str()); });
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (m.readonly ? MOUNT_ATTR_RDONLY : 0);
  if (sys::mount_setattr(tree.fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr) != 0)
    return error.fail([&](ChildText& t) {
      t.add("mount_setattr ").quoted(m.source.c_str()).add(m.readonly ? " (read-only)" : "");
    });
  if (sys::move_mount(tree.fd, "", target.fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
    return error.fail([&](ChildText& t) {
      t.add("mount ").quoted(m.source.c_str()).add(" -> ").quoted(m.target.c_str());
    });
  return true;
}

bool mount_at(int root_fd, const char* rel, const char* source, const char* fstype, unsigned long flags,
              const char* data, ChildError& error) noexcept {
  Fd target{make_mount_point(root_fd, rel, true, error)};
  if (target.fd < 0) return false;
  char path[40];
  fd_path(path, sizeof path, target.fd);
  if (::mount(source, path, fstype, flags, data) != 0)
    return error.fail([&](ChildText& t) {
      t.add("mount(").quoted(source).add(" -> \"/").add(rel).add("\", ").add(fstype ? fstype : "bind").add(")");
    });
  return true;
}

struct DeviceNode {
  const char* name;
  unsigned major, minor;
};
constexpr DeviceNode kDevices[] = {{"null", 1, 3},   {"zero", 1, 5},    {"full", 1, 7},
                                   {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
constexpr const char* kDevLinks[][2] = {{"fd", "/proc/self/fd"},
                                        {"stdin", "/proc/self/fd/0"},
                                        {"stdout", "/proc/self/fd/1"},
                                        {"stderr", "/proc/self/fd/2"}};

// /dev is a small tmpfs with only the harmless character devices; no disks, no /dev/mem, no kmsg.
bool build_dev(int root_fd, const LaunchPlan& plan, ChildError& error) noexcept {
  if (!mount_at(root_fd, "dev", "cellblock-dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "size=64k,mode=0755,nr_inodes=64",
                error))
    return false;
  Fd dev{sys::openat2(root_fd, "dev", O_PATH | O_DIRECTORY | O_CLOEXEC, kInRoot)};
  if (dev.fd < 0) return error.fail([](ChildText& t) { t.add("open /dev"); });
  for (const DeviceNode& d : kDevices)
    if (::mknodat(dev.fd, d.name, S_IFCHR | 0666, makedev(d.major, d.minor)) != 0)
      return error.fail([&](ChildText& t) { t.add("mknod /dev/").add(d.name); });
  for (auto& link : kDevLinks)
    if (::symlinkat(link[1], dev.fd, link[0]) != 0)
      return error.fail([&](ChildText& t) { t.add("symlink /dev/").add(link[0]); });
  return mount_at(root_fd, "dev/shm", plan.shm_dir.c_str(), nullptr, MS_BIND, nullptr, error);
}

// /proc entries the kernel does not namespace: they show or change the host. Files are covered
// with /dev/null, directories with an empty read-only tmpfs, and the rest made read-only — the
// same lists the reference runtimes use (runc's masked and read-only paths), plus the kpage*
// files. /proc/sys is the important one: a root command could otherwise set
// kernel.core_pattern to "|/proc/%P/root/evil" and run a program as root on the host.
constexpr const char* kMaskedFiles[] = {"kcore",      "keys",       "timer_list",  "timer_stats",  "sched_debug",
                                        "latency_stats", "kpagecount", "kpageflags", "kpagecgroup", "sysrq-trigger",
                                        "kmsg"};
constexpr const char* kMaskedDirs[] = {"acpi", "scsi", "asound", "driver"};
constexpr const char* kReadOnlyDirs[] = {"sys", "bus", "fs", "irq"};

// Opens /proc/<name> with the path checked: it must lie in the cell's proc mount itself, with no
// symlink, magic link or mount crossing on the way (the runc CVE-2025-31133 class, where a
// symlink made a masking mount land elsewhere). Returns -1 with errno ENOENT when the kernel
// does not have the entry.
int open_proc_entry(int proc_fd, const char* name) noexcept {
  return sys::openat2(proc_fd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC,
                      RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
}

bool mask_proc(int root_fd, ChildError& error) noexcept {
  Fd proc{sys::openat2(root_fd, "proc", O_PATH | O_DIRECTORY | O_CLOEXEC, kInRoot)};
  if (proc.fd < 0) return error.fail([](ChildText& t) { t.add("open /proc of the cell"); });
  Fd dev{sys::openat2(root_fd, "dev", O_PATH | O_DIRECTORY | O_CLOEXEC, kInRoot)};
  if (dev.fd < 0) return error.fail([](ChildText& t) { t.add("open /dev of the cell"); });
  char path[40];
  for (const char* name : kMaskedFiles) {
    Fd target{open_proc_entry(proc.fd, name)};
    if (target.fd < 0 && errno == ENOENT) continue;
    Fd null{sys::open_tree(dev.fd, "null", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC)};
    if (target.fd < 0 || null.fd < 0 ||
        sys::move_mount(null.fd, "", target.fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
      return error.fail([&](ChildText& t) { t.add("mask /proc/").add(name); });
  }
  for (const char* name : kMaskedDirs) {
    Fd target{open_proc_entry(proc.fd, name)};
    if (target.fd < 0 && errno == ENOENT) continue;
    fd_path(path, sizeof path, target.fd);
    if (target.fd < 0 || ::mount("cellblock-mask", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                                 "size=4k,nr_inodes=1,mode=0555") != 0)
      return error.fail([&](ChildText& t) { t.add("mask /proc/").add(name); });
  }
  for (const char* name : kReadOnlyDirs) {
    Fd target{open_proc_entry(proc.fd, name)};
    if (target.fd < 0 && errno == ENOENT) continue;
    Fd tree{target.fd < 0 ? -1 : sys::open_tree(target.fd, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE)};
    mount_attr attr{};
    attr.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
    if (tree.fd < 0 || sys::mount_setattr(tree.fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr) != 0 ||
        sys::move_mount(tree.fd, "", target.fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) != 0)
      return error.fail([&](ChildText& t) { t.add("make /proc/").add(name).add(" read-only"); });
  }
  return true;
}

}  // namespace

bool build_rootfs(const LaunchPlan& plan, ChildError& error) noexcept {
  // 1. Mounts made from here on must never propagate to the host (systemd makes / shared).
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
    return error.fail([](ChildText& t) { t.add("mount(\"/\", MS_REC|MS_PRIVATE)"); });

  // 2. The writable layer.
  if (::mount("cellblock", plan.stage_dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, plan.tmpfs_options.c_str()) != 0)
    return error.fail([&](ChildText& t) {
      t.add("mount(tmpfs -> ").quoted(plan.stage_dir.c_str()).add(", ").add(plan.tmpfs_options.c_str()).add(")");
    });
  for (const std::string* dir : {&plan.upper_dir, &plan.work_dir, &plan.root_dir})
    if (::mkdir(dir->c_str(), 0755) != 0) return error.fail([&](ChildText& t) { t.add("mkdir ").quoted(dir->c_str()); });
  for (const std::string* dir : {&plan.tmp_dir, &plan.shm_dir})
    if (::mkdir(dir->c_str(), 01777) != 0) return error.fail([&](ChildText& t) { t.add("mkdir ").quoted(dir->c_str()); });

  // 3. The root: the job's rootfs, never written, under a throw-away upper layer.
  if (::mount("overlay", plan.root_dir.c_str(), "overlay", MS_NOSUID | MS_NODEV, plan.overlay_options.c_str()) != 0)
    return error.fail([&](ChildText& t) { t.add("mount(overlay, ").add(plan.overlay_options.c_str()).add(")"); });
  Fd root{::open(plan.root_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC)};
  if (root.fd < 0) return error.fail([&](ChildText& t) { t.add("open ").quoted(plan.root_dir.c_str()); });

  // 4. The job's own mounts.
  for (const PlannedMount& m : plan.mounts)
    if (!bind_into(root.fd, m, error)) return false;

  // 5. What every cell has.
  if (!mount_at(root.fd, "proc", "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr, error)) return false;
  if (!build_dev(root.fd, plan, error)) return false;
  if (!mask_proc(root.fd, error)) return false;
  if (!mount_at(root.fd, "tmp", plan.tmp_dir.c_str(), nullptr, MS_BIND, nullptr, error)) return false;

  // 6. pivot_root, not chroot: the old root is detached from the namespace entirely, so the
  //    classic chroot escape (chroot into a subdirectory, then ".." upwards) finds nothing above.
  //    pivot_root(".", ".") stacks the old root on top of the new one; umount removes it.
  if (::fchdir(root.fd) != 0) return error.fail([](ChildText& t) { t.add("chdir to the new root"); });
  if (sys::pivot_root(".", ".") != 0) return error.fail([](ChildText& t) { t.add("pivot_root(\".\", \".\")"); });
  if (::umount2(".", MNT_DETACH) != 0) return error.fail([](ChildText& t) { t.add("umount2(old root, MNT_DETACH)"); });
  if (::chdir("/") != 0) return error.fail([](ChildText& t) { t.add("chdir(\"/\")"); });
  return true;
}

}  // namespace cellblock
