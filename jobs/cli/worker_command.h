// `cellblock worker --redis URL --queue NAME`: one of many hosts' workers on one Redis queue
// (docs/distributed.md), with the queue flags of `cellblock batch`.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>

#include "executor/executor.h"
#include "jobs/cli/queue_flags.h"

namespace cellblock {

class PolicyRegistry;

struct WorkerCommandOptions {
  std::string redis;
  std::string queue;
  std::optional<std::string> name;
  QueueFlags local;  // --defaults, --parallel, --memory-budget, --grace
  std::string claim_idle = "60s";
  long long max_deliveries = 3;
  std::string result_ttl = "24h";
  std::optional<std::string> metrics_listen;  // HOST:PORT for GET /metrics
  std::vector<std::string> allow_host_paths;  // --allow-host-path DIR ...
  std::string state_dir;                      // the global --state-dir: the result spool goes below it
};

void add_worker_command(CLI::App& app, WorkerCommandOptions& options);
// Runs until SIGINT or SIGTERM, then 0; 2 for a bad flag; 1 when Redis cannot be reached or
// refuses the login, or the spool or the metrics address cannot be had (one line on stderr).
int worker_command(const WorkerCommandOptions& options, const std::function<Executor&()>& executor,
                   PolicyRegistry& policies);

}  // namespace cellblock
