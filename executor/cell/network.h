// The cell's network: a fresh network namespace (created by clone) in which only loopback
// exists; this brings it up so that 127.0.0.1 works inside (child side).
#pragma once

#include "executor/cell/child_error.h"

namespace cellblock {

// Async-signal-safe.
bool bring_up_loopback(ChildError& error) noexcept;

}  // namespace cellblock
