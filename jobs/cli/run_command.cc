#include "jobs/cli/run_command.h"

#include <fstream>
#include <iostream>
#include <sstream>

#include "executor/base/host_file.h"
#include "executor/base/sys_error.h"
#include "jobs/cli/image_command.h"
#include "jobs/format/job_json.h"
#include "jobs/format/result_json.h"

namespace cellblock {
namespace {

nlohmann::json read_job_file(const std::string& path) {
  std::string text;
  try {
    text = path == "-" ? read_all(0, "stdin") : read_host_file(path);
  } catch (const SysError& e) {
    throw FieldError("--job", e.what());
  }
  try {
    return parse_json_text(text);
  } catch (const FieldError& e) {
    throw FieldError("", path + ": " + e.what());
  }
}

}  // namespace

void add_run_command(CLI::App& app, RunOptions& options) {
  CLI::App* run = app.add_subcommand("run", "Run one job and print its result as JSON");
  run->add_option("--job,-j", options.job_file, "Job file (JSON); flags given too override its fields");
  run->add_flag("--pretty", options.pretty, "Indent the result JSON");
  run->add_flag("--breakdown", options.breakdown,
                "Add breakdown: how long each step took, from the process's start to the result");
  options.flags.add_to(*run);
}

int run_command(const RunOptions& options, const std::function<Executor&()>& executor, PolicyRegistry& policies) {
  JobSpec job;
  // Lives until the job ends: it holds the image's layers, so a gc cannot take them meanwhile.
  auto resolve_image = image_job_resolver(options.state_dir, /*quiet=*/false);
  try {
    nlohmann::json j = options.job_file ? read_job_file(*options.job_file) : nlohmann::json::object();
    if (j.is_object() && j.contains("rootfs") && j["rootfs"].is_string())
      j["rootfs"] = absolute_host_path(j["rootfs"].get<std::string>());
    job = job_from_json(options.flags.apply(std::move(j)), nullptr, HostFiles::read);
    if (!job.image.empty()) resolve_image(job);
    if (options.timeline) options.timeline->stamp("job_read");
    prepare_job(job, policies);
    if (options.timeline) options.timeline->stamp("policy");
    job.breakdown = options.breakdown;
  } catch (const FieldError& e) {
    std::cerr << "cellblock run: invalid job: " << e.what() << "\n";
    return 2;
  }
  Executor& cells = executor();
  if (options.timeline) options.timeline->stamp("executor_start");
  Result result = cells.run(job);
  if (options.breakdown && options.timeline) result.breakdown = options.timeline->with_launch(result.breakdown);
  std::cout << dump_json(result_to_json(result), options.pretty ? 2 : -1) << std::endl;
  return 0;
}

}  // namespace cellblock
