// "pod" in the job format (docs/job-format.md): {"services": [{"name", "command", "rootfs"?,
// "env"?, "limits"?, "ready"?: {"tcp": PORT, "timeout_ms": N}}]}, read strictly into
// JobSpec::services (executor/pod.h runs them).
#pragma once

#include <nlohmann/json.hpp>
#include <vector>

#include "executor/job_spec.h"

namespace cellblock {

// Reads "pod" of `job`, whose own limits are already read: a service's wall time defaults to
// the job's plus its ready timeout (it is stopped when the job's command ends anyway). Throws
// FieldError naming the field ("pod.services[1].name") for duplicate or invalid names, a missing
// or empty command, a bad ready check.
void read_pod(const nlohmann::json& pod, const JobSpec& job, std::vector<PodService>& out);
nlohmann::json pod_to_json(const std::vector<PodService>& services);

}  // namespace cellblock
