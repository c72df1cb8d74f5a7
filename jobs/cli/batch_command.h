// `cellblock batch jobs.jsonl`: many jobs through the in-process queue, one result per line
// in completion order, a progress line on a terminal, a summary on stderr.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>

#include "executor/executor.h"
#include "jobs/cli/queue_flags.h"

namespace cellblock {

class PolicyRegistry;

struct BatchOptions {
  std::string input = "-";
  std::optional<std::string> out_file;
  QueueFlags queue;  // --defaults, --parallel, --memory-budget, --grace
  bool quiet = false;
  bool table = false;
  std::string state_dir;  // set by main from --state-dir: where images' layers are cached
};

void add_batch_command(CLI::App& app, BatchOptions& options);
// 0 when every job ran, whatever its status; 2 when the input or defaults cannot be read;
// 128 + the signal's number when SIGINT or SIGTERM stopped it (130, 143).
int batch_command(const BatchOptions& options, const std::function<Executor&()>& executor, PolicyRegistry& policies);

}  // namespace cellblock
