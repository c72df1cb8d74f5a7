// The native API under /v1 (docs/api.md): jobs in the `cellblock run --job` format, their
// records, long polls, cancel, live output, pages; and /v1/health. (/v1/info is the service's:
// service.cc.)
#pragma once

#include <atomic>
#include <functional>
#include <nlohmann/json.hpp>

#include "jobs/service/image_jobs.h"
#include "jobs/service/job_store.h"
#include "jobs/service/router.h"
#include "jobs/service/service_context.h"

namespace cellblock::service {

struct NativeApi {
  ServiceContext& ctx;
  JobStore& store;
  const std::atomic<bool>& accepting;       // false once the service shuts down
  ImageJobs& images;                        // jobs that name an image are resolved there first
};

void add_native_routes(Router& router, NativeApi api);

}  // namespace cellblock::service
