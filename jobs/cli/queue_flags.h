// What `cellblock batch` and `cellblock serve` share: the flags of their queue, reading their
// input files, and `--defaults FILE`, the JSON object merged under every job (docs/batch.md).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "jobs/format/client_host_paths.h"
#include "jobs/format/job_json.h"
#include "jobs/queue/job_queue.h"

namespace cellblock {

// --defaults, --parallel, --memory-budget, --grace.
struct QueueFlags {
  std::optional<std::string> defaults_file;
  size_t parallel = 0;  // 0: number of CPUs
  std::optional<std::string> memory_budget;
  std::string grace = "10s";

  void add_to(CLI::App& app);
  // --parallel and --memory-budget as the queue takes them. Throws std::invalid_argument.
  QueueOptions queue_options() const;
};

// Host paths in a job (rootfs, mount sources) may be relative to where cellblock runs: made
// absolute here.
void absolutize_host_paths(nlohmann::json& job);
// The whole file, "-" for stdin. Throws FieldError naming `what` (the flag) and the reason.
std::string read_input(const std::string& path, const char* what);
class PolicyRegistry;
struct JobRequest;
// One job's JSON text as `batch` and `worker` read it: parsed strictly, host paths made
// absolute, `defaults` merged under it, its policy resolved (prepare_job). Throws FieldError.
// `host_files`: whether "files" may name host paths ({"src"}): yes for the operator's own batch
// file, no for a job that came from a queue anyone with write access can fill.
// `resolve_image` (may be empty: images refused by prepare_job) turns a job's "image" into its
// layers before the job is prepared; it throws FieldError. `client_paths`, for a job from a
// client (a worker's): the host paths it names must be ones the operator allows.
JobRequest parse_job_text(const std::string& text, const nlohmann::json& defaults, PolicyRegistry& policies,
                          HostFiles host_files, const std::function<void(JobSpec&)>& resolve_image = {},
                          const ClientHostPaths* client_paths = nullptr);
// The string "id" of a job's JSON text, for the result of a job that could not be read; "" when
// there is none or the text is not JSON.
std::string id_of_job_text(const std::string& text);
// --defaults: a JSON object, host paths made absolute. Throws FieldError ("--defaults: ...").
nlohmann::json read_defaults(const std::string& path);

}  // namespace cellblock
