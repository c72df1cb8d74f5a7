// The job JSON format (docs/job-format.md). Parsing is strict (json_reader.h): every key is
// known, every value has the right type and range, and a FieldError names the field, the value
// and why.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "executor/job_spec.h"
#include "jobs/format/json_reader.h"

namespace cellblock {

// A job as the queue takes it: the executor's JobSpec plus how it waits.
struct JobRequest {
  JobSpec job;
  int priority = 0;                         // higher starts first
  std::optional<uint64_t> queue_timeout_ms;  // longest wait before it starts
  // `serve`: the host-path fields the client sent (ClientHostPaths::named_fields), journaled so
  // that they are checked again when a restarted service queues the job again. Empty elsewhere.
  nlohmann::json client_fields;
};

// Whether a job's "files" may name a host file ({"src": "/host/path"}), read when the job is
// parsed. Only the operator's own command line may (`cellblock run`/`batch`); a job from the
// service's clients must not read the service's files, so there it is a FieldError.
enum class HostFiles { refused, read };

// Parses a job from a JSON object. `defaults` (may be null) is merged under it key by key, with
// "limits" merged one level deeper, so a defaults file can set some limits and a job others.
JobSpec job_from_json(const nlohmann::json& job, const nlohmann::json& defaults = nullptr,
                      HostFiles host_files = HostFiles::refused);
// Like job_from_json, and also reads the queue's keys "priority" and "queue_timeout_ms".
JobRequest request_from_json(const nlohmann::json& job, const nlohmann::json& defaults = nullptr,
                             HostFiles host_files = HostFiles::refused);
// Parses JSON text (parse_json_text) into a job.
JobSpec job_from_text(std::string_view text, const nlohmann::json& defaults = nullptr,
                      HostFiles host_files = HostFiles::refused);

nlohmann::json job_to_json(const JobSpec& job);

// A "limits" object at `path` ("limits", "pod.services[0].limits") read over `limits`: keys it
// does not give keep their values. And the other way.
void read_limits(const nlohmann::json& v, Limits& limits, const std::string& path);
nlohmann::json limits_to_json(const Limits& limits);
// An "env" object at `path`: names non-empty, without '=' or NUL; values strings.
std::map<std::string, std::string> read_env(const nlohmann::json& v, const std::string& path);

class PolicyRegistry;
// The checks that need the host, before anything starts: resolves job.policy through the
// registry into job.security (compiled once per policy) and checks that each limits.io device
// is a block device. Throws FieldError naming the field ("policy", "limits.io[0].device").
void prepare_job(JobSpec& job, PolicyRegistry& policies);

}  // namespace cellblock
