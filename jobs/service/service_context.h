// What a module of `cellblock serve` gets to build its routes on (router.h): the shared queue,
// the policies and --defaults that jobs are read with, the state directory, the metrics and what
// the service says about itself. One per service; it outlives every route and request.
#pragma once

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>
#include <string>

#include "jobs/format/client_host_paths.h"
#include "jobs/metrics/metrics.h"
#include "jobs/service/file_store.h"
#include "jobs/service/shared_queue.h"

namespace cellblock {
class PolicyRegistry;
}

namespace cellblock::service {

struct ServiceInfo {
  std::string version;      // cellblock's (CMake's project version)
  int cgroup_version = 0;   // 1 or 2, as the executor detected
  std::string cgroup_mode;  // "v1" or "v2" (for logs and /v1/info)
  size_t parallel = 0;      // jobs at once
  uint64_t memory_budget = 0;
  size_t max_queued = 0;
  size_t max_body = 0;
};

struct ServiceContext {
  boost::asio::io_context& io;  // the queue's; every handler and result callback runs on it
  SharedQueue& queue;
  PolicyRegistry& policies;     // prepare_job(job, policies) resolves a job's policy
  const nlohmann::json& defaults;  // --defaults, merged under every job (null when not given)
  const ClientHostPaths& client_paths;  // checks the host paths a client's job names (client_host_paths.h)
  std::string state_dir;        // --state-dir; a module keeps its files below <state_dir>/<its name>/
  metrics::Registry& metrics;
  const ServiceInfo& info;
  FileStore& files;             // files kept by id: /v1/files and go-judge's /file (io thread only)
};

}  // namespace cellblock::service
