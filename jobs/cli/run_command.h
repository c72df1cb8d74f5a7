// `cellblock run`: one job from a file or from flags, its result JSON on stdout.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>

#include "executor/executor.h"
#include "jobs/cli/job_flags.h"
#include "jobs/cli/process_timeline.h"

namespace cellblock {

class PolicyRegistry;

struct RunOptions {
  std::optional<std::string> job_file;
  bool pretty = false;
  bool breakdown = false;
  JobFlags flags;
  std::string state_dir;  // set by main from --state-dir: where an image's layers are cached
  ProcessTimeline* timeline = nullptr;  // set by main: --breakdown then covers the whole process
};

void add_run_command(CLI::App& app, RunOptions& options);
// Returns the process exit code: 0 when the job ran (whatever its status), 2 when the job is
// invalid (one line on stderr), 1 when cellblock itself failed.
int run_command(const RunOptions& options, const std::function<Executor&()>& executor, PolicyRegistry& policies);

}  // namespace cellblock
