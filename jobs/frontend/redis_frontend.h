// `cellblock serve --redis URL --queue NAME`: the native jobs API (/v1/jobs, docs/api.md) as a
// front end of a Redis queue (docs/distributed.md). POST adds the jobs to the stream and answers
// 202 only once Redis has them; GET, the long polls and DELETE read and write Redis, so that any
// front end answers for any job and the workers on any host run them. While Redis is away every
// call answers 503 with Retry-After, and nothing is accepted that Redis did not take.
//
// Registered with ServiceOptions::jobs_api (jobs/service/service.h) in place of the native
// routes. Handlers run on the io thread and never block: Redis is spoken on a lane thread
// (redis_lane.h), finished jobs are heard on NAME:done (done_listener.h).
#pragma once

#include <chrono>
#include <string>

#include "jobs/dispatch/redis_url.h"
#include "jobs/service/router.h"
#include "jobs/service/service_context.h"

namespace cellblock::frontend {

struct FrontendOptions {
  RedisUrl redis;
  std::string queue;  // NAME
  // How long NAME:job:<id> (and a cancel's mark) lives: longer than a job may wait and run, or
  // GET forgets a job that is still queued.
  std::chrono::seconds job_ttl{std::chrono::hours(24)};
};

// Registers /v1/jobs (POST, and GET: the listing, from NAME:ids), /v1/jobs/{id},
// /v1/jobs/{id}/wait, /v1/jobs/{id}/output (live, from the worker's NAME:output:<id>,
// output_follow.h), DELETE /v1/jobs/{id}, /v1/health; and the queue's metrics on ctx.metrics
// (frontend_metrics.h).
void add_redis_frontend(service::Router& router, service::ServiceContext& ctx, FrontendOptions options);

}  // namespace cellblock::frontend
