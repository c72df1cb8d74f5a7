// Thin wrappers for the file-descriptor-based mount and path-resolution system calls
// (Linux 5.6+ openat2, 5.2+ open_tree/move_mount, 5.12+ mount_setattr). Called through
// syscall() so that they work whatever glibc's headers declare; all async-signal-safe.
#pragma once

#include <fcntl.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace cellblock::sys {

inline int openat2(int dirfd, const char* path, unsigned long long flags, unsigned long long resolve,
                   unsigned long long mode = 0) noexcept {
  open_how how{};
  how.flags = flags;
  how.mode = mode;
  how.resolve = resolve;
  return static_cast<int>(::syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}

inline int open_tree(int dirfd, const char* path, unsigned flags) noexcept {
  return static_cast<int>(::syscall(SYS_open_tree, dirfd, path, flags));
}

inline int move_mount(int from_dirfd, const char* from_path, int to_dirfd, const char* to_path,
                      unsigned flags) noexcept {
  return static_cast<int>(::syscall(SYS_move_mount, from_dirfd, from_path, to_dirfd, to_path, flags));
}

inline int mount_setattr(int dirfd, const char* path, unsigned flags, mount_attr* attr) noexcept {
  return static_cast<int>(::syscall(SYS_mount_setattr, dirfd, path, flags, attr, sizeof *attr));
}

inline int pivot_root(const char* new_root, const char* put_old) noexcept {
  return static_cast<int>(::syscall(SYS_pivot_root, new_root, put_old));
}

}  // namespace cellblock::sys
