// The cell's file system, built by the cell's init inside its new mount namespace (cell side
// only; the supervisor mounts nothing on the host). Its steps, in order, are step 4.6 of
// docs/executor.md: private mounts, one tmpfs for everything writable, the overlay, the job's
// binds, /proc with its masks, /dev, /tmp, then pivot_root and the host's tree detached.
#pragma once

#include "executor/cell/child_error.h"
#include "executor/protocol/launch_plan.h"

namespace cellblock {

// Async-signal-safe. Returns false with `error` filled on failure.
bool build_rootfs(const LaunchPlan& plan, ChildError& error) noexcept;

}  // namespace cellblock
