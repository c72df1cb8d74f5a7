// `cellblock serve` as an object: the shared queue on the executor, the HTTP server on the
// queue's io thread, and the modules that register routes on its router (router.h):
//   - the jobs API under /v1/jobs and /v1/health: by default the native one on this host's queue
//     (native_routes.h) with its journal (job_store.h); or, with ServiceOptions::jobs_api, a
//     module that sends the jobs elsewhere (`serve --redis`: jobs/frontend/);
//   - GET /metrics and /v1/info (here);
//   - more modules plug in with one line in Service's constructor (service.cc), or, when they
//     live above jobs/service (go-judge's /run, jobs/gojudge/), through ServiceOptions::modules.
// The verb and its flags are jobs/cli/serve_command.cc; the API is docs/api.md.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "executor/executor.h"
#include "jobs/metrics/metrics.h"
#include "jobs/format/client_host_paths.h"
#include "jobs/queue/job_queue.h"
#include "jobs/service/image_jobs.h"
#include "jobs/service/router.h"
#include "jobs/service/server.h"
#include "jobs/service/service_context.h"
#include "jobs/service/shared_queue.h"

namespace cellblock {
class PolicyRegistry;
}

namespace cellblock::service {

class JobStore;
class Journal;

// A module that registers its routes (router.h): called once from Service's constructor, after
// the service's own. Modules above jobs/service (go-judge's, jobs/gojudge/) come in this way, so
// that the service never includes them (docs/architecture.md).
using RouteModule = std::function<void(Router& router, ServiceContext& ctx)>;

struct ServiceOptions {
  std::optional<std::string> unix_path = "/run/cellblock/api.sock";  // none: no unix socket
  std::string unix_group;             // the socket's group (who may connect); empty: ours
  std::optional<std::string> listen;  // HOST:PORT for TCP; needs token
  std::string token;
  nlohmann::json defaults;            // --defaults, merged under every job
  ClientHostPaths client_paths;       // --allow-host-path: host paths a client's job may name
  QueueOptions queue;                 // --parallel, --memory-budget
  size_t max_queued = 10000;          // jobs waiting; more get 429
  std::chrono::milliseconds keep_results{3'600'000};
  HttpLimits http;
  size_t max_connections = 256;
  std::string state_dir = "/run/cellblock";
  std::vector<RouteModule> modules;
  // Where the jobs of /v1/jobs go. None: this host's queue (native_routes.h). Set: the module
  // that registers /v1/jobs... and /v1/health in their place (the Redis front end,
  // jobs/frontend/); the local queue then runs only what other modules give it.
  std::optional<RouteModule> jobs_api;
  // Resolves a job's "image" (image_jobs.h); empty: image jobs are refused with 400.
  ImageResolve resolve_image;
  uint64_t file_store_bytes = 256ull << 20;  // --file-store-max: all kept files together (file_store.h)
};

class Service {
 public:
  Service(Executor& executor, PolicyRegistry& policies, ServiceOptions options);
  ~Service();  // kills what still runs, stops the server, keeps the journal for the next one
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Binds the sockets, queues the journaled jobs of a previous run again, starts accepting.
  // Throws with the reason when a socket cannot be bound or the state directory is taken.
  void start();
  // Stops accepting; jobs still waiting end as cancelled and are journaled as such; running
  // jobs get `grace`, then are killed. Call again with zero to kill at once. Thread-safe.
  void shutdown(std::chrono::milliseconds grace);
  // Blocks until every job has its result (after shutdown: until the last one ended).
  void wait_idle();

  const std::vector<std::string>& addresses() const { return server_->addresses(); }
  const ServiceInfo& info() const { return info_; }
  // Jobs the journal held at start() and that were queued again.
  size_t recovered() const { return recovered_; }

 private:
  void add_service_routes();
  nlohmann::json info_json() const;

  ServiceOptions options_;
  PolicyRegistry& policies_;
  ServiceInfo info_;
  metrics::Registry metrics_;
  ExecutorRunner runner_;
  JobQueue queue_;
  SharedQueue shared_;
  std::unique_ptr<Journal> journal_;  // first of the state directory: its lock says it is ours
  FileStore files_;
  ServiceContext context_;
  Router router_;
  std::atomic<bool> accepting_{true};
  std::unique_ptr<JobStore> store_;
  std::unique_ptr<ImageJobs> images_;
  std::unique_ptr<Server> server_;
  size_t recovered_ = 0;
};

}  // namespace cellblock::service
