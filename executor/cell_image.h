// The cell's init executable (cellblock-init), embedded in this binary, as a sealed memfd the
// supervisor execs with execveat(AT_EMPTY_PATH). Sealed: nothing, not even root in a cell
// holding /proc/1/exe, can change what the next cell runs.
#pragma once

#include <string>

#include "executor/base/unique_fd.h"

namespace cellblock {

// Makes the memfd; if this host forbids executable memfds (vm.memfd_noexec=2), writes the image
// to `<state_dir>/cellblock-init` (root-only) and returns an O_PATH fd to that instead.
// Throws SysError.
UniqueFd make_cell_image(const std::string& state_dir);

}  // namespace cellblock
