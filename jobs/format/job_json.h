// The job and result JSON formats (docs/job-format.md). Parsing is strict: every key is known,
// every value has the right type and range, and an error names the field, the value and why.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "executor/job_spec.h"
#include "executor/result.h"

namespace cellblock {

// An invalid job: `field` is a dotted path such as "limits.memory_bytes" or "mounts[1].target".
class JobError : public std::runtime_error {
 public:
  JobError(std::string field, std::string reason)
      : std::runtime_error(field.empty() ? reason : field + ": " + reason),
        field_(std::move(field)) {}
  const std::string& field() const noexcept { return field_; }

 private:
  std::string field_;
};

// A job as the queue takes it: the executor's JobSpec plus how it waits.
struct JobRequest {
  JobSpec job;
  int priority = 0;                         // higher starts first
  std::optional<uint64_t> queue_timeout_ms;  // longest wait before it starts
};

// Parses a job from a JSON object. `defaults` (may be null) is merged under it key by key, with
// "limits" merged one level deeper, so a defaults file can set some limits and a job others.
JobSpec job_from_json(const nlohmann::json& job, const nlohmann::json& defaults = nullptr);
// Like job_from_json, and also reads the queue's keys "priority" and "queue_timeout_ms".
JobRequest request_from_json(const nlohmann::json& job, const nlohmann::json& defaults = nullptr);
// Parses JSON text; a syntax error becomes a JobError naming the byte offset.
JobSpec job_from_text(std::string_view text, const nlohmann::json& defaults = nullptr);
nlohmann::json parse_json_text(std::string_view text);

nlohmann::json job_to_json(const JobSpec& job);
nlohmann::json result_to_json(const Result& result);
Result result_from_json(const nlohmann::json& j);

class PolicyRegistry;
// The checks that need the host, before anything starts: resolves job.policy through the
// registry into job.security (compiled once per policy) and checks that each limits.io device
// is a block device. Throws JobError naming the field ("policy", "limits.io[0].device").
void prepare_job(JobSpec& job, PolicyRegistry& policies);

// Serialises for output; invalid UTF-8 in captured output is replaced, never fatal.
std::string dump_json(const nlohmann::json& j, int indent = -1);

}  // namespace cellblock
