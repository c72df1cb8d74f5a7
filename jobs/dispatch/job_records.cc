#include "jobs/dispatch/job_records.h"

#include <algorithm>
#include <map>

namespace cellblock {
namespace {

// KEYS: per job NAME:job:<id>, NAME:result:<id>. ARGV: ttl, now in ms, then per job id, stream,
// text. A script runs atomically: no other client sees half of a batch, and two front ends
// given the same id cannot both add it.
constexpr const char* kAcceptScript = R"lua(
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    local job = math.floor((i + 1) / 2)
    return {0, ARGV[3 * job]}
  end
end
local out = {1}
for job = 1, #KEYS / 2 do
  local id, stream, text = ARGV[3 * job], ARGV[3 * job + 1], ARGV[3 * job + 2]
  local entry = redis.call('XADD', stream, '*', 'id', id, 'job', text)
  redis.call('HSET', KEYS[2 * job - 1], 'stream', stream, 'entry', entry, 'submitted_ms', ARGV[2])
  redis.call('EXPIRE', KEYS[2 * job - 1], ARGV[1])
  out[#out + 1] = entry
end
return out
)lua";

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Adds one job stream's numbers to `stats`.
void add_stream_stats(RedisClient& redis, const std::string& stream, QueueStats& stats) {
  auto replies = redis.pipeline({{"XINFO", "GROUPS", stream}});
  std::string last_delivered = "0-0";
  const redisReply* groups = replies[0].get();  // an error reply: no stream yet, nothing queued
  for (size_t g = 0; groups->type == REDIS_REPLY_ARRAY && g < groups->elements; ++g) {
    const redisReply* group = groups->element[g];  // name, consumers, pending, last-delivered-id, entries-read, lag
    std::map<std::string, const redisReply*> fields;
    for (size_t f = 0; f + 1 < group->elements; f += 2) fields[reply_string(group->element[f])] = group->element[f + 1];
    if (reply_string(fields["name"]) != QueueKeys::group) continue;
    stats.pending += static_cast<double>(fields["pending"] ? fields["pending"]->integer : 0);
    if (fields["lag"] && fields["lag"]->type == REDIS_REPLY_INTEGER) stats.waiting += static_cast<double>(fields["lag"]->integer);
    last_delivered = reply_string(fields["last-delivered-id"]);
  }
  if (groups->type == REDIS_REPLY_ARRAY) {
    // The next entry after the last one delivered; its id starts with its time in ms.
    Reply next = redis.command({"XRANGE", stream, "(" + last_delivered, "+", "COUNT", "1"});
    if (next->elements == 1) {
      const double added_ms = std::stod(reply_string(next->element[0]->element[0]));
      stats.oldest_waiting_s = std::max(stats.oldest_waiting_s, (static_cast<double>(unix_ms()) - added_ms) / 1000);
    }
  }
}


}  // namespace

std::optional<std::string> accept_jobs(RedisClient& redis, const QueueKeys& keys, const std::vector<NewJob>& jobs,
                                       std::chrono::seconds ttl) {
  Command eval{"EVAL", kAcceptScript, std::to_string(jobs.size() * 2)};
  for (const NewJob& j : jobs) {
    eval.push_back(keys.job(j.id));
    eval.push_back(keys.result(j.id));
  }
  eval.push_back(std::to_string(ttl.count()));
  eval.push_back(std::to_string(unix_ms()));
  for (const NewJob& j : jobs) eval.insert(eval.end(), {j.id, j.stream, j.text});
  Reply r = redis.command(eval);
  if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->integer == 0) return reply_string(r->element[1]);
  return std::nullopt;
}

nlohmann::json job_record(RedisClient& redis, const QueueKeys& keys, const std::string& id) {
  auto replies = redis.pipeline({{"GET", keys.result(id)}, {"HMGET", keys.job(id), "stream", "entry"}});
  for (const Reply& r : replies)
    if (r->type == REDIS_REPLY_ERROR) throw RedisError(redis.url().display() + ": " + reply_string(r.get()));
  nlohmann::json record{{"id", id}};
  if (!is_nil(replies[0].get())) {
    record["state"] = "done";
    record["result"] = nlohmann::json::parse(reply_string(replies[0].get()), nullptr, false);
    return record;
  }
  const redisReply* where = replies[1].get();
  if (where->type != REDIS_REPLY_ARRAY || where->elements != 2 || is_nil(where->element[1])) return nullptr;
  const std::string stream = reply_string(where->element[0]), entry = reply_string(where->element[1]);
  record["state"] = "queued";
  // Delivered and not acked: a worker holds it, and a worker holds only what it runs now. No
  // group yet (no worker ever started) is an error reply: the job is only queued then.
  auto pending = redis.pipeline({{"XPENDING", stream, QueueKeys::group, entry, entry, "1"}});
  const redisReply* p = pending[0].get();
  if (p->type == REDIS_REPLY_ARRAY && p->elements == 1 && p->element[0]->elements >= 2) {
    record["state"] = "running";
    record["worker"] = reply_string(p->element[0]->element[1]);
  }
  return record;
}

void request_cancel(RedisClient& redis, const QueueKeys& keys, const std::string& id, std::chrono::seconds ttl) {
  auto replies = redis.pipeline({{"SET", keys.cancelled(id), "1", "EX", std::to_string(ttl.count())}, {"PUBLISH", keys.cancel, id}});
  for (const Reply& r : replies)
    if (r->type == REDIS_REPLY_ERROR) throw RedisError(redis.url().display() + ": cancel " + id + ": " + reply_string(r.get()));
}

std::vector<bool> cancel_requested(RedisClient& redis, const QueueKeys& keys, const std::vector<std::string>& ids) {
  std::vector<bool> out;
  if (ids.empty()) return out;
  Command mget{"MGET"};
  for (const auto& id : ids) mget.push_back(keys.cancelled(id));
  Reply r = redis.command(mget);
  for (size_t i = 0; i < ids.size(); ++i) out.push_back(i < r->elements && !is_nil(r->element[i]));
  return out;
}

QueueStats queue_stats(RedisClient& redis, const QueueKeys& keys) {
  auto replies = redis.pipeline({{"XLEN", keys.dead}, {"GET", keys.duplicates}});
  QueueStats stats;
  stats.dead = static_cast<double>(replies[0]->integer);
  stats.duplicates = is_nil(replies[1].get()) ? 0 : std::stod(reply_string(replies[1].get()));
  for (const std::string& stream : keys.streams()) add_stream_stats(redis, stream, stats);
  return stats;
}
}  // namespace cellblock
