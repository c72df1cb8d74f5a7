#include "jobs/cli/worker_command.h"

#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <optional>

#include <spdlog/spdlog.h>

#include "jobs/cli/image_command.h"
#include "jobs/cli/job_flags.h"
#include "jobs/dispatch/stop_signals.h"
#include "jobs/dispatch/worker.h"
#include "jobs/service/metrics_endpoint.h"

namespace cellblock {

void add_worker_command(CLI::App& app, WorkerCommandOptions& o) {
  CLI::App* worker = app.add_subcommand("worker", "Run jobs from a Redis queue shared by many hosts (docs/distributed.md)");
  worker->add_option("--redis", o.redis, "redis://[user:password@]host:port[/db]")->required();
  worker->add_option("--queue", o.queue, "Queue name: the streams NAME:jobs, NAME:results, ...")->required();
  worker->add_option("--name", o.name, "This worker's name in the group, unique per worker (default: host-pid)");
  o.local.add_to(*worker);
  worker->add_option("--claim-idle", o.claim_idle, "A job pending this long without a heartbeat is taken over")
      ->capture_default_str();
  worker->add_option("--max-deliveries", o.max_deliveries, "A job delivered more often goes to NAME:dead")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  worker->add_option("--result-ttl", o.result_ttl, "How long NAME:result:<id> keys live")->capture_default_str();
  worker->add_option("--allow-host-path", o.allow_host_paths,
                     "A host directory a job from the queue may name as rootfs or read-only mount source "
                     "(repeatable; none by default: jobs run in what --defaults gives)");
  worker->add_option("--metrics-listen", o.metrics_listen,
                     "Serve GET /metrics (Prometheus) on HOST:PORT, without a token: bind it where only the scraper reaches");
}

int worker_command(const WorkerCommandOptions& o, const std::function<Executor&()>& executor, PolicyRegistry& policies) {
  WorkerOptions options;
  nlohmann::json defaults;
  ClientHostPaths client_paths;
  try {
    client_paths = ClientHostPaths(o.allow_host_paths);
    options.redis = parse_redis_url(o.redis);
    options.queue = o.queue;
    if (o.name) options.name = *o.name;
    else {
      char host[256] = {};
      ::gethostname(host, sizeof host - 1);
      options.name = std::string(host) + "-" + std::to_string(::getpid());
    }
    if (o.local.defaults_file) defaults = read_defaults(*o.local.defaults_file);
    options.local = o.local.queue_options();
    options.grace = std::chrono::milliseconds(parse_duration_ms(o.local.grace));
    options.claim_idle = std::chrono::milliseconds(parse_duration_ms(o.claim_idle));
    options.result_ttl = std::chrono::seconds(std::max<uint64_t>(1, parse_duration_ms(o.result_ttl) / 1000));
    options.max_deliveries = o.max_deliveries;
    options.state_dir = o.state_dir;
  } catch (const std::exception& e) {
    std::cerr << "cellblock worker: " << e.what() << "\n";
    return 2;
  }
  try {
    // A wrong password or an unreachable host: one line now, before the executor starts (and
    // may log about the host); the worker's own connections come after.
    RedisClient probe(options.redis);
  } catch (const RedisError& e) {
    std::cerr << "cellblock worker: " << e.what() << "\n";
    return 1;
  }
  // Before the executor and the queue start their threads, so that all of them inherit it.
  block_stop_signals();
  ExecutorRunner runner(executor());
  // Images only as the operator imported them on this host (image_sources.h); an import runs
  // on the reading thread, like the rest of a job's parse.
  auto resolve_image = image_job_resolver(o.state_dir, /*quiet=*/true, images::ImageSources::imported_only);
  auto parse = [&](const std::string& text) {
    return parse_job_text(text, defaults, policies, HostFiles::refused, resolve_image, &client_paths);
  };
  metrics::Registry registry;
  options.metrics = &registry;
  try {
    Worker worker(options, runner, parse);
    // After the worker, so that it goes first: nothing scrapes a worker that is gone.
    std::optional<service::MetricsEndpoint> endpoint;
    if (o.metrics_listen) {
      endpoint.emplace(registry, *o.metrics_listen, "--metrics-listen");
      spdlog::info("worker {}: metrics on http://{}/metrics", options.name, endpoint->address());
    }
    worker.run();
  } catch (const std::exception& e) {
    // Redis refused, the spool or the metrics address could not be had: one line.
    std::cerr << "cellblock worker: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace cellblock
