// The commands on a queue's streams, shared by `cellblock worker` and `cellblock submit`.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "jobs/dispatch/queue_keys.h"
#include "jobs/dispatch/redis_client.h"

namespace cellblock {

// One entry of NAME:jobs as a worker got it.
struct StreamJob {
  std::string stream;    // the stream it came from (QueueKeys::streams)
  std::string entry_id;  // the stream's id, for XACK and XCLAIM
  std::string id;        // the job's id (field "id"; the entry id when it has none)
  std::string text;      // field "job": the job's JSON as submitted
  long long deliveries = 1;
};

// Creates group `workers` on each job stream (and the stream: MKSTREAM) unless it is there.
void ensure_group(RedisClient& redis, const QueueKeys& keys);
// The stream a job's JSON text goes to, by its "priority"; NAME:jobs when it has none or one
// that is not an integer (the worker reports that as invalid_job).
const std::string& stream_for_text(const QueueKeys& keys, const std::string& job_text);
// The entries of an XREADGROUP or XAUTOCLAIM entry list; ids of deleted entries go to `gone`.
std::vector<StreamJob> parse_entries(const redisReply* entries, const std::string& stream, std::vector<std::string>* gone);
// How many times the group has delivered the entry (XPENDING), 0 when it is not pending.
long long delivery_count(RedisClient& redis, const StreamJob& job);

// What a worker writes when a job is over. `dead_reason` set: the job goes to NAME:dead too.
struct Finished {
  StreamJob job;
  std::string result_json;
  std::optional<std::string> dead_reason;
};
// In one script (one round trip, atomic): SET NAME:result:<id> EX ttl, XADD NAME:results,
// PUBLISH NAME:done <id>, (XADD NAME:dead), XACK, unless the key is there already. Only the
// first result of an id is written: a later one (the job ran twice, at-least-once) is only acked
// and counted in NAME:duplicates. Returns whether this was the first. Throws RedisError.
bool publish_result(RedisClient& redis, const QueueKeys& keys, const Finished& finished, std::chrono::seconds ttl);

}  // namespace cellblock
