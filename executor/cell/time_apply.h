// The cell half of "time_namespace" (the host half: executor/time_namespace.h). The init makes a
// time namespace for its children whose monotonic and boot-time clocks start near 0, so a job
// sees an uptime of its own and not the host's (time_namespaces(7)).
#pragma once

#include <cstdint>

#include "executor/cell/child_error.h"

namespace cellblock {

// unshare(CLONE_NEWTIME) and the offsets written to /proc/self/timens_offsets. The caller stays
// in the host's time namespace; its children made from now on enter the new one. The offsets
// can be set only before any process has entered it, hence here and not after the fork.
// False with `error` filled on failure.
bool enter_time_namespace(ChildError& error) noexcept;

// How far the children's CLOCK_MONOTONIC lags behind the host's (0 without a time namespace):
// the command adds it to its timing stamps so that they compare with the supervisor's.
uint64_t time_namespace_offset_ns() noexcept;

}  // namespace cellblock
