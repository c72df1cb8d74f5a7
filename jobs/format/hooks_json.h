// The hooks file (`--hooks FILE`, docs/job-format.md "Hooks"), the JSON a hook reads on its
// stdin, and the hooks' part of a result. The hooks themselves run in the executor (hooks.h).
//
//   {"prestart": [{"name": "veth", "path": "/usr/local/lib/cellblock/wire", "args": ["eth1"],
//                  "env": {"PATH": "/usr/sbin:/usr/bin"}, "timeout_ms": 5000}],
//    "poststop": [...]}
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "executor/hooks.h"

namespace cellblock {

// Strict: unknown keys, a relative path, a file that is not an executable regular file, a
// name given twice in a stage, a time limit out of range are each a FieldError naming the field
// ("prestart[0].path") and the value, with `source` (the file) in front.
HookSet read_hooks(const nlohmann::json& j, const std::string& source = "");

// {"stage": "prestart", "id": ..., "pid": ..., "namespaces": {"net": "/proc/PID/ns/net", ...},
//  "cgroups": ["/sys/fs/cgroup/memory/.../job-3", ...]}
std::string encode_hook_input(const HookInput& input);

// Result::hooks as {"prestart": [run, ...], "poststop": [...]} (only the stages that ran), and back.
nlohmann::json hook_runs_to_json(const std::vector<HookRun>& runs);
std::vector<HookRun> hook_runs_from_json(const nlohmann::json& j);

}  // namespace cellblock
