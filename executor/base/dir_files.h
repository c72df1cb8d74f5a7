// Files kept in a directory of the host's own (a state directory): opened by descriptor, relative
// to the directory's fd, never following a symlink (O_NOFOLLOW), and written whole or not at all.
// The service's journal and a worker's result spool keep what must survive a crash this way.
#pragma once

#include <string>
#include <vector>

#include "executor/base/unique_fd.h"

namespace cellblock {

// `path` (made with mode 0700 when missing), opened as a directory without following a symlink
// at its last component. Throws SysError naming the call and the path.
UniqueFd open_or_make_dir(const std::string& path);
// The same for `name` in the directory `dir`.
UniqueFd open_or_make_dir_at(int dir, const std::string& name);

// Writes `name` in `dir` whole or not at all: ".<name>.tmp" written, fsync'd when `sync`, then
// renamed over `name`. The rename is durable only once the directory is fsync'd too. Throws SysError;
// a write that fails removes its temporary file.
void write_file_at(int dir, const std::string& name, const std::string& text, bool sync);
// The whole file `name` in `dir`. Throws SysError.
std::string read_file_at(int dir, const std::string& name);
// The names in `dir`, sorted, without "." and ".."; without any other name starting with a dot
// (temporary files) unless `dot_files`. Throws SysError.
std::vector<std::string> names_in(int dir, bool dot_files = false);

}  // namespace cellblock
