// SIGINT and SIGTERM taken synchronously (sigtimedwait) by the loops of `worker` and `submit`:
// blocked in every thread, so the loop decides when a stop happens, between two Redis commands.
#pragma once

#include <chrono>

namespace cellblock {

// Call before any thread starts, so that every thread inherits the mask.
void block_stop_signals();
// Waits up to `timeout` for SIGINT or SIGTERM: its number, or 0.
int wait_for_stop_signal(std::chrono::milliseconds timeout);

}  // namespace cellblock
