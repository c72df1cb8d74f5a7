// `cellblock serve`: the queue as a long-running HTTP service (jobs/service/, docs/api.md); with
// --redis, the jobs API as a front end of a Redis queue (jobs/frontend/, docs/distributed.md).
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <optional>
#include <string>

#include "executor/executor.h"
#include "jobs/cli/queue_flags.h"

namespace cellblock {

class PolicyRegistry;

struct ServeOptions {
  std::string unix_path = "/run/cellblock/api.sock";
  std::string unix_group;
  bool no_unix = false;
  std::optional<std::string> listen;      // HOST:PORT
  std::optional<std::string> token_file;  // required with --listen
  QueueFlags queue;  // --defaults, --parallel, --memory-budget, --grace
  size_t max_queued = 10000;
  std::string keep_results = "1h";
  std::string max_body = "64M";
  size_t max_connections = 256;
  std::string header_timeout = "10s";
  std::string body_timeout = "60s";
  std::string idle_timeout = "60s";
  std::string file_store_max = "256M";
  std::optional<std::string> redis;  // --redis URL: a front end of the Redis queue --queue
  std::string redis_queue;  // --queue NAME
  std::vector<std::string> allow_host_paths;  // --allow-host-path DIR ...
  std::string job_ttl = "24h";  // go-judge's file store (copyOutCached), all files together
};

void add_serve_command(CLI::App& app, ServeOptions& options);
// Runs until SIGTERM or SIGINT; 0 after a clean shutdown, 2 for bad flags or files, 1 when the
// service cannot start (a socket cannot be bound, the state directory is taken).
int serve_command(const ServeOptions& options, const std::function<Executor&()>& executor, PolicyRegistry& policies,
                  const std::string& state_dir);

}  // namespace cellblock
