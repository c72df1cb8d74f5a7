// The descriptors the cell's processes use. They are numbers only: the supervisor owns the
// UniqueFds and the child sees copies made by clone().
#pragma once

namespace cellblock {

struct CellFds {
  int report_write = -1;  // CellReport records to the supervisor; close-on-exec
  int stdin_read = -1;    // becomes fd 0 of the command
  int stdout_write = -1;  // becomes fd 1
  int stderr_write = -1;  // becomes fd 2
  // The supervisor's go (CellMessage::go, cell/handshake.h) once the prestart hooks have run
  // (executor/hooks.h); -1: no hooks, nothing to wait for.
  int go_read = -1;
};

}  // namespace cellblock
