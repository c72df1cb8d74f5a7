#include "jobs/cli/queue_flags.h"

#include "executor/base/host_file.h"
#include "executor/base/sys_error.h"
#include "jobs/cli/job_flags.h"
#include "jobs/format/job_json.h"
#include "jobs/format/json_reader.h"

namespace cellblock {

void QueueFlags::add_to(CLI::App& app) {
  app.add_option("--defaults", defaults_file, "JSON object of defaults for every job (rootfs, limits, ...)");
  app.add_option("--parallel,-p", parallel, "Jobs at once (default: number of CPUs)");
  app.add_option("--memory-budget", memory_budget,
                 "Sum of running jobs' memory_bytes, e.g. 8G (default: 80% of the supervisor's memory)");
  app.add_option("--grace", grace, "On SIGTERM/SIGINT, time running jobs get to finish")->capture_default_str();
}

QueueOptions QueueFlags::queue_options() const {
  QueueOptions options;
  if (parallel) options.parallel = parallel;
  if (memory_budget) options.memory_budget = parse_size(*memory_budget);
  return options;
}

void absolutize_host_paths(nlohmann::json& j) {
  if (!j.is_object()) return;
  if (j.contains("rootfs") && j["rootfs"].is_string()) j["rootfs"] = absolute_host_path(j["rootfs"].get<std::string>());
  if (j.contains("mounts") && j["mounts"].is_array())
    for (auto& m : j["mounts"])
      if (m.is_object() && m.contains("source") && m["source"].is_string())
        m["source"] = absolute_host_path(m["source"].get<std::string>());
}

std::string read_input(const std::string& path, const char* what) {
  try {
    return path == "-" ? read_all(0, "stdin") : read_host_file(path);
  } catch (const SysError& e) {
    throw FieldError(what, e.what());
  }
}

JobRequest parse_job_text(const std::string& text, const nlohmann::json& defaults, PolicyRegistry& policies,
                          HostFiles host_files, const std::function<void(JobSpec&)>& resolve_image,
                          const ClientHostPaths* client_paths) {
  nlohmann::json j = parse_json_text(text);
  if (client_paths) client_paths->check(j);  // before they are made absolute: a relative one is refused
  absolutize_host_paths(j);
  JobRequest request = request_from_json(j, defaults, host_files);
  if (resolve_image && !request.job.image.empty()) resolve_image(request.job);
  prepare_job(request.job, policies);
  return request;
}

std::string id_of_job_text(const std::string& text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_object() && j.contains("id") && j["id"].is_string() ? j["id"].get<std::string>() : "";
}

nlohmann::json read_defaults(const std::string& path) {
  nlohmann::json j = parse_json_text(read_input(path, "--defaults"));
  if (!j.is_object()) throw FieldError("--defaults", "expected a JSON object");
  absolutize_host_paths(j);
  return j;
}

}  // namespace cellblock
