// The cell's file system, built by the cell's init inside its new mount namespace
// (child side only; the supervisor mounts nothing on the host):
//   1. make every mount private, so nothing propagates back to the host
//   2. one tmpfs of writable_bytes over the stage directory: upper, work, tmp, shm
//   3. overlay: the job's rootfs as the read-only lower layer, upper/work on the tmpfs
//   4. the job's bind mounts (read-only ones recursively so), targets resolved inside the root
//   5. /proc (the cell's own pid namespace) with the host-wide entries masked or made read-only,
//      /dev (null zero full random urandom tty, shm), /tmp
//   6. pivot_root into the overlay and detach the host's tree
#pragma once

#include "executor/cell/child_error.h"
#include "executor/protocol/launch_plan.h"

namespace cellblock {

// Async-signal-safe. Returns false with `error` filled on failure.
bool build_rootfs(const LaunchPlan& plan, ChildError& error) noexcept;

}  // namespace cellblock
