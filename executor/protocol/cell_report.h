// What the cell tells the supervisor, as fixed-size records on a close-on-exec pipe.
// Each record is smaller than PIPE_BUF, so a write is atomic and never interleaves.
//   setup_error:   a step of building the cell or starting the command failed; `err` is the
//                  errno and `what` names the step and its arguments, e.g. exec "/bin/nope".
//   command_exit:  the command ended; `wait_status` is its raw waitpid() status; `cpu_ns` the
//                  init's own CPU time since its `timings` record; with a breakdown requested,
//                  `steps` holds the init's step stamps.
//   timings:       sent by the command just before execve: `cpu_ns` is the CPU time its set-up
//                  took since the init forked it (rlimits, policy, seccomp load), `steps` its
//                  own step stamps (breakdown only). Sent by the init once the command may go:
//                  `cpu_ns` is the init's CPU time so far (the file system), no steps.
//   namespaces_ready: (only with a go descriptor, CellFds::go_read) the init is in every
//                  namespace of the cell: the supervisor runs the prestart hooks now, and the
//                  init waits for its go before the command starts.
// Every `cpu_ns` is the cell's own work, which the cgroup counts with the job's: the supervisor
// subtracts their sum from the job's CPU time (Stats::setup_cpu_ms) and, as each arrives, from
// what it holds against the CPU-time limit.
// The supervisor reads until end-of-file, which comes when the cell's init exits.
#pragma once

#include <cstdint>

#include "executor/protocol/step_clock.h"

namespace cellblock {

struct CellReport {
  enum Kind : uint32_t { setup_error = 1, command_exit = 2, timings = 3, namespaces_ready = 4 };
  Kind kind;
  int32_t err;
  int32_t wait_status;
  uint64_t cpu_ns;
  union {
    char what[480];
    CellTimings steps;
  };
};
static_assert(sizeof(CellReport) <= 512, "a report must be written atomically");

// Async-signal-safe: sends one record; errors are ignored (the supervisor then sees no record
// and reports the init's own exit).
void send_report(int fd, const CellReport& report) noexcept;
// Async-signal-safe: sends a setup_error record for `what` with `err`.
void send_setup_error(int fd, const char* what, int err) noexcept;

}  // namespace cellblock
