// What a front end (`cellblock serve --redis`, jobs/frontend/) keeps of the jobs it accepts, so
// that any front end can answer for any job: NAME:job:<id> says which stream entry a job is, and
// its state is read back from Redis itself (the result key, the group's pending list). Cancels
// are asked for here too, by front ends and `cellblock submit --cancel` alike.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "jobs/dispatch/queue_keys.h"
#include "jobs/dispatch/redis_client.h"

namespace cellblock {

struct NewJob {
  std::string id;      // the job's "id"
  std::string stream;  // the stream it goes to (QueueKeys::jobs)
  std::string text;    // its JSON, as the worker will read it
};

// Adds the jobs in one atomic script: each to its stream, with NAME:job:<id> (TTL `ttl`) naming
// the entry. All or none: when an id is taken already (a job or a result has it), nothing is
// added and the taken id is returned. Throws RedisError.
std::optional<std::string> accept_jobs(RedisClient& redis, const QueueKeys& keys, const std::vector<NewJob>& jobs,
                                       std::chrono::seconds ttl);

// A job's record as a front end shows it: {"id", "state": "queued"|"running"|"done",
// "worker"? (the consumer that holds it), "result"? (once done)}; null for an id Redis does not
// know (never accepted by a front end, or expired). Throws RedisError.
nlohmann::json job_record(RedisClient& redis, const QueueKeys& keys, const std::string& id);

// The same for several ids at once (each null when unknown, each with "submitted_at" when its
// job key is there): two round trips whatever their number. Throws RedisError.
std::vector<nlohmann::json> job_records(RedisClient& redis, const QueueKeys& keys, const std::vector<std::string>& ids);

// GET /v1/jobs on a front end: the jobs in the order front ends and `submit` accepted them
// (NAME:ids), from the one after `after` (empty: the first), those in `state` if given, at most
// `limit`, each as job_record gives it but with the result's "status" and "exit_code" instead of
// the result. `next` is the id to go on after; none at the end. One call looks at no more than
// kListScan ids, so a page of a rare state may be short with a `next`. Ids whose job and result
// have both expired leave NAME:ids as a listing meets them. Throws RedisError, and FieldError
// ("after") for an id that is not in the list.
struct JobPage {
  std::vector<nlohmann::json> jobs;
  std::optional<std::string> next;
};
JobPage list_jobs(RedisClient& redis, const QueueKeys& keys, const std::optional<std::string>& state, size_t limit,
                  const std::string& after);

// Marks the id cancelled (NAME:cancelled:<id>, TTL `ttl`) for a worker that reads it later, and
// publishes it on NAME:cancel for the worker that holds it now. Throws RedisError.
void request_cancel(RedisClient& redis, const QueueKeys& keys, const std::string& id, std::chrono::seconds ttl);

// For each job id, whether a cancel was asked for it (one round trip). Throws RedisError.
std::vector<bool> cancel_requested(RedisClient& redis, const QueueKeys& keys, const std::vector<std::string>& ids);

// The queue as operators watch it (a front end's /metrics), read in one round trip.
struct QueueStats {
  double waiting = 0;         // entries no worker has read yet (XINFO GROUPS: lag)
  double pending = 0;         // read and not acked: running on workers
  double oldest_waiting_s = 0;  // age of the oldest entry no worker has read yet
  double dead = 0;            // XLEN NAME:dead
  double duplicates = 0;      // NAME:duplicates
};
// Throws RedisError.
QueueStats queue_stats(RedisClient& redis, const QueueKeys& keys);

}  // namespace cellblock
