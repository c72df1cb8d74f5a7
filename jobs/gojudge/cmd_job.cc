#include "jobs/gojudge/cmd_job.h"

#include <algorithm>

namespace cellblock::gojudge {

using nlohmann::json;

namespace {

constexpr uint64_t kNsPerMs = 1'000'000;

uint64_t ns_to_ms_up(uint64_t ns) { return (ns + kNsPerMs - 1) / kNsPerMs; }

json limits_for(const RunCmd& cmd) {
  json limits = json::object();
  if (cmd.cpu_limit_ns) limits["cpu_time_ms"] = ns_to_ms_up(*cmd.cpu_limit_ns);
  if (cmd.clock_limit_ns) limits["wall_time_ms"] = ns_to_ms_up(*cmd.clock_limit_ns);
  if (cmd.memory_limit_bytes) limits["memory_bytes"] = *cmd.memory_limit_bytes;
  if (cmd.stack_limit_bytes) limits["stack_bytes"] = *cmd.stack_limit_bytes;
  if (cmd.proc_limit) limits["pids"] = *cmd.proc_limit;
  if (cmd.cpu_rate_limit) limits["cpus"] = static_cast<double>(*cmd.cpu_rate_limit) / 1000.0;
  // The executor caps each stream at one size and ends the job past it; with two different
  // maxes it caps at the larger, and the runner holds the other stream to its own.
  uint64_t output = 0;
  bool capped = false;
  for (const auto* c : {&cmd.stdout_collector, &cmd.stderr_collector})
    if (*c && (*c)->max) output = std::max(output, *(*c)->max), capped = true;
  if (capped) limits["output_bytes"] = output;
  return limits;
}

}  // namespace

JobRequest job_for_cmd(const RunCmd& cmd, std::string stdin_data, const std::string& job_id,
                       service::ServiceContext& ctx, const std::string& field) {
  json job{{"id", job_id}, {"command", cmd.args}, {"cwd", kCellWorkDir}, {"stdin", std::move(stdin_data)}};
  if (!cmd.env.empty()) job["env"] = cmd.env;
  json limits = limits_for(cmd);
  if (!limits.empty()) job["limits"] = std::move(limits);
  try {
    JobRequest request = request_from_json(job, ctx.defaults);
    // After the defaults, which may be where the memory limit comes from.
    Limits& l = request.job.limits;
    if (cmd.data_segment_limit) l.data_bytes = l.memory_bytes;
    if (cmd.address_space_limit) l.address_space_bytes = l.memory_bytes;
    prepare_job(request.job, ctx.policies);
    return request;
  } catch (const FieldError& e) {
    // Fields a cmd sets are checked in go-judge's words already (run_request.cc); what is left
    // is the service's --defaults or a combination of both: say so.
    throw FieldError(field, "as a cellblock job with the service's --defaults: " + std::string(e.what()));
  }
}

}  // namespace cellblock::gojudge
