// Operator hooks (`--hooks FILE`, never from a job): host executables run for each job's cell at
// two points (docs/executor.md, "Hooks"):
//   prestart  once the cell's namespaces all exist and before its command starts (the init
//             reports CellReport::namespaces_ready and waits for the go); a failing one ends the
//             job as setup_error naming it, with its stderr, and the command never runs;
//   poststop  once the cell has ended and its cgroup is gone; a failing one is recorded in the
//             result (Result::hooks) and the job's status stands.
// A hook runs as a host process: argv = path + args, stdin a JSON object describing the cell
// (HookInput, encoded by jobs/format: the executor writes no JSON), stderr captured (capped),
// stdout discarded, no descriptor but 0-2, default signal dispositions, its own process group.
// At its time limit the whole group is killed; so is whatever it leaves in the group when it ends.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace cellblock {

struct Hook {
  std::string name;                         // how results and errors name it
  std::string path;                         // absolute host path of the executable
  std::vector<std::string> args;            // after argv[0] (which is `path`)
  std::map<std::string, std::string> env;   // its whole environment
  uint64_t timeout_ms = 10000;
};

// What a hook is told about the cell on its stdin.
struct HookInput {
  std::string stage;                                   // "prestart" or "poststop"
  std::string job_id;
  pid_t pid = -1;                                      // host pid of the cell's init (PID 1)
  std::vector<std::pair<std::string, std::string>> namespaces;  // {"net", "/proc/PID/ns/net"}, ...
  std::vector<std::string> cgroups;                    // the job's cgroup directories
};

struct HookSet {
  std::vector<Hook> prestart;
  std::vector<Hook> poststop;
  // HookInput as the hook reads it on stdin (jobs/format/hooks_json.h); needed when any hook is set.
  std::function<std::string(const HookInput&)> encode_input;

  bool empty() const { return prestart.empty() && poststop.empty(); }
};

// How one hook ran.
struct HookRun {
  std::string stage;
  std::string name;
  bool ok = false;                 // exited 0 within its time limit
  std::optional<int> exit_code;
  std::optional<int> signal;
  bool timed_out = false;          // killed at its time limit
  uint64_t timeout_ms = 0;         // that limit
  std::optional<std::string> error;  // it could not be started (spawn failed: errno's text)
  std::string stderr_data;         // capped at kHookStderrCap
  bool stderr_truncated = false;
  double wall_time_ms = 0;
};

inline constexpr size_t kHookStderrCap = 4096;

// Runs `hook` with `input` on its stdin until it ends or its time limit passes. Never throws
// for the hook's own failure (that is in the HookRun); throws SysError when the host cannot
// give it pipes or a pidfd.
HookRun run_hook(const Hook& hook, const std::string& stage, const std::string& input);

// "prestart hook \"veth\": exited 1: <stderr>" and the like, for a job's error.
std::string describe_failure(const HookRun& run);

}  // namespace cellblock
