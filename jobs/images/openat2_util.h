// openat2(2) wrappers: every host path operation inside a tree someone else controls (an image
// layout, a layer being unpacked, a layer in the cache) resolves with RESOLVE_IN_ROOT or
// RESOLVE_BENEATH and RESOLVE_NO_MAGICLINKS, so no symlink or ".." leads out of it.
#pragma once

#include <linux/openat2.h>

#include <cstdint>
#include <string>

#include "executor/base/unique_fd.h"

namespace cellblock::images {

// openat2(dirfd, path, flags | O_CLOEXEC, resolve); -1 with errno set on failure.
int openat2_fd(int dirfd, const std::string& path, int flags, uint64_t resolve, mode_t mode = 0);
// The same, throwing SysError naming `what` on failure.
UniqueFd open_in(int dirfd, const std::string& path, int flags, uint64_t resolve, const std::string& what);
// A whole regular file below dirfd (RESOLVE_BENEATH), at most max_bytes. Throws.
std::string read_beneath(int dirfd, const std::string& path, size_t max_bytes, const std::string& what);

}  // namespace cellblock::images
