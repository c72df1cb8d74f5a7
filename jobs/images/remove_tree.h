// Removing a directory tree that an image layer made, without following any symlink in it.
#pragma once

#include <string>

namespace cellblock::images {

// Removes dirfd/name and everything below it (openat O_NOFOLLOW, unlinkat; never a path walk
// through a symlink). A missing name is not an error. Throws SysError.
void remove_tree_at(int dirfd, const std::string& name);

}  // namespace cellblock::images
