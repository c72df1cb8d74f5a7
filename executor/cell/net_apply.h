// The cell half of the network (the host half is executor/net/): a fresh network namespace in
// which only loopback exists; this brings it up so that 127.0.0.1 works inside. The pool
// (net/netns_pool.h) calls it too, for the namespaces it makes ahead of time.
#pragma once

#include "executor/cell/child_error.h"

namespace cellblock {

// Async-signal-safe.
bool bring_up_loopback(ChildError& error) noexcept;

}  // namespace cellblock
