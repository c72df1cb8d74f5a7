#include "jobs/dispatch/job_stream.h"

#include <nlohmann/json.hpp>

namespace cellblock {

void ensure_group(RedisClient& redis, const QueueKeys& keys) {
  for (const std::string& stream : keys.streams()) try {
      redis.command({"XGROUP", "CREATE", stream, QueueKeys::group, "0", "MKSTREAM"});
    } catch (const RedisError& e) {
      // Another worker made it first: that is the usual case, not an error.
      if (std::string(e.what()).find("BUSYGROUP") == std::string::npos) throw;
    }
}

const std::string& stream_for_text(const QueueKeys& keys, const std::string& job_text) {
  const auto j = nlohmann::json::parse(job_text, nullptr, false);
  const bool has = j.is_object() && j.contains("priority") && j["priority"].is_number_integer();
  return keys.stream_for(has ? j["priority"].get<int>() : 0);
}

std::vector<StreamJob> parse_entries(const redisReply* entries, const std::string& stream, std::vector<std::string>* gone) {
  std::vector<StreamJob> out;
  if (!entries || entries->type != REDIS_REPLY_ARRAY) return out;
  for (size_t i = 0; i < entries->elements; ++i) {
    const redisReply* e = entries->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 2) continue;
    StreamJob job;
    job.stream = stream;
    job.entry_id = reply_string(e->element[0]);
    const redisReply* fields = e->element[1];
    // Redis 6.2 lists an entry deleted from the stream with nil fields.
    if (is_nil(fields)) {
      if (gone) gone->push_back(job.entry_id);
      continue;
    }
    for (size_t f = 0; f + 1 < fields->elements; f += 2) {
      std::string name = reply_string(fields->element[f]);
      if (name == "id") job.id = reply_string(fields->element[f + 1]);
      else if (name == "job") job.text = reply_string(fields->element[f + 1]);
    }
    if (job.id.empty()) job.id = job.entry_id;
    out.push_back(std::move(job));
  }
  return out;
}

long long delivery_count(RedisClient& redis, const StreamJob& job) {
  Reply r = redis.command({"XPENDING", job.stream, QueueKeys::group, job.entry_id, job.entry_id, "1"});
  if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) return 0;
  const redisReply* row = r->element[0];  // [id, consumer, idle ms, deliveries]
  return row->type == REDIS_REPLY_ARRAY && row->elements >= 4 ? row->element[3]->integer : 0;
}

bool publish_result(RedisClient& redis, const QueueKeys& keys, const Finished& f, std::chrono::seconds ttl) {
  const std::string key = keys.result(f.job.id);
  const Command ack{"XACK", f.job.stream, QueueKeys::group, f.job.entry_id};
  // WATCH and EXISTS in one round trip: a job's result costs two (this and the MULTI), which is
  // most of what Redis adds to a job (bench/workers).
  auto watched = redis.pipeline({{"WATCH", key}, {"EXISTS", key}});
  for (const auto& r : watched)
    if (r->type == REDIS_REPLY_ERROR) throw RedisError(redis.url().display() + ": WATCH " + key + ": " + reply_string(r.get()));
  if (watched[1]->integer == 1) {
    redis.pipeline({{"UNWATCH"}, ack, {"INCR", keys.duplicates}});
    return false;
  }
  std::vector<Command> tx{{"MULTI"},
                          {"SET", key, f.result_json, "NX", "EX", std::to_string(ttl.count())},
                          {"XADD", keys.results, "*", "id", f.job.id, "result", f.result_json},
                          {"PUBLISH", keys.done, f.job.id}};
  if (f.dead_reason)
    tx.push_back({"XADD", keys.dead, "*", "id", f.job.id, "job", f.job.text, "reason", *f.dead_reason, "deliveries",
                  std::to_string(f.job.deliveries)});
  tx.push_back(ack);
  tx.push_back({"EXEC"});
  auto replies = redis.pipeline(tx);
  for (const auto& r : replies)
    if (r->type == REDIS_REPLY_ERROR) throw RedisError(redis.url().display() + ": MULTI: " + reply_string(r.get()));
  if (is_nil(replies.back().get())) {
    // The key was written between WATCH and EXEC: another worker's result won.
    redis.pipeline({ack, {"INCR", keys.duplicates}});
    return false;
  }
  return true;
}

}  // namespace cellblock
