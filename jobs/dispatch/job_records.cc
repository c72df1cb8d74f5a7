#include "jobs/dispatch/job_records.h"

#include <algorithm>
#include <map>

#include "jobs/format/json_reader.h"
#include "jobs/format/wall_time.h"

namespace cellblock {
namespace {

// KEYS: NAME:ids, NAME:seq, then per job NAME:job:<id>, NAME:result:<id>. ARGV: ttl, then per
// job id, stream, text. A script runs atomically: no other client sees half of a batch, and two
// front ends given the same id cannot both add it. Times are Redis's own (TIME), so a submitter
// whose clock is off neither misplaces its jobs in the list nor trims others'. NAME:ids loses
// what is older than the ttl here, so it stays as long as the jobs' own keys whether anyone
// lists or not. A score is the ms of acceptance * 1000 plus NAME:seq mod 1000: in the order
// accepted, a batch in its own order, and no two alike unless 1,000 jobs come in one ms.
constexpr const char* kAcceptScript = R"lua(
for i = 3, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    return {0, ARGV[3 * math.floor((i - 1) / 2) - 1]}
  end
end
local out = {1}
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('(%.0f', (now_ms - 1000 * tonumber(ARGV[1])) * 1000))
for job = 1, (#KEYS - 2) / 2 do
  local id, stream, text = ARGV[3 * job - 1], ARGV[3 * job], ARGV[3 * job + 1]
  local entry = redis.call('XADD', stream, '*', 'id', id, 'job', text)
  redis.call('HSET', KEYS[2 * job + 1], 'stream', stream, 'entry', entry, 'submitted_ms', now_ms)
  redis.call('EXPIRE', KEYS[2 * job + 1], ARGV[1])
  local seq = redis.call('INCR', KEYS[2])
  redis.call('ZADD', KEYS[1], string.format('%.0f', now_ms * 1000 + seq % 1000), id)
  out[#out + 1] = entry
end
return out
)lua";

// How many ids one listing looks at, at most: a page with a rare state may come back short,
// with `next` to go on from.
constexpr size_t kListScan = 1000;
// Ids looked up per round trip while listing.
constexpr size_t kListBatch = 100;

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
  Command eval{"EVAL", kAcceptScript, std::to_string(2 + jobs.size() * 2), keys.ids, keys.seq};
  for (const NewJob& j : jobs) {
    eval.push_back(keys.job(j.id));
    eval.push_back(keys.result(j.id));
  }
  eval.push_back(std::to_string(ttl.count()));
  for (const NewJob& j : jobs) eval.insert(eval.end(), {j.id, j.stream, j.text});
  Reply r = redis.command(eval);
  if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->integer == 0) return reply_string(r->element[1]);
  return std::nullopt;
}

nlohmann::json job_record(RedisClient& redis, const QueueKeys& keys, const std::string& id) {
  return job_records(redis, keys, {id}).front();
}

std::vector<nlohmann::json> job_records(RedisClient& redis, const QueueKeys& keys, const std::vector<std::string>& ids) {
  std::vector<Command> lookups;
  for (const std::string& id : ids) {
    lookups.push_back({"GET", keys.result(id)});
    lookups.push_back({"HMGET", keys.job(id), "stream", "entry", "submitted_ms"});
  }
  auto replies = redis.pipeline_all_ok(lookups);
  std::vector<nlohmann::json> records(ids.size());
  std::vector<Command> pending;  // XPENDING for each job that is not done
  std::vector<size_t> pending_of;
  for (size_t i = 0; i < ids.size(); ++i) {
    const redisReply* result = replies[2 * i].get();
    const redisReply* where = replies[2 * i + 1].get();
    const bool known = where->type == REDIS_REPLY_ARRAY && where->elements == 3 && !is_nil(where->element[1]);
    nlohmann::json& record = records[i];
    if (!is_nil(result)) {
      record = {{"id", ids[i]}, {"state", "done"}};
      record["result"] = nlohmann::json::parse(reply_string(result), nullptr, false);
    } else if (known) {
      record = {{"id", ids[i]}, {"state", "queued"}};
      // Delivered and not acked: a worker holds it, and a worker holds only what it runs now.
      pending.push_back({"XPENDING", reply_string(where->element[0]), QueueKeys::group, reply_string(where->element[1]),
                         reply_string(where->element[1]), "1"});
      pending_of.push_back(i);
    } else {
      continue;  // null: Redis does not know the id
    }
    if (known && !is_nil(where->element[2])) record["submitted_at"] = iso_time(std::stoll(reply_string(where->element[2])));
  }
  if (pending.empty()) return records;
  // No group yet (no worker ever started) is an error reply: the job is only queued then.
  auto held = redis.pipeline(pending);
  for (size_t k = 0; k < held.size(); ++k) {
    const redisReply* p = held[k].get();
    if (p->type == REDIS_REPLY_ARRAY && p->elements == 1 && p->element[0]->elements >= 2) {
      records[pending_of[k]]["state"] = "running";
      records[pending_of[k]]["worker"] = reply_string(p->element[0]->element[1]);
    }
  }
  return records;
}

JobPage list_jobs(RedisClient& redis, const QueueKeys& keys, const std::optional<std::string>& state, size_t limit,
                  const std::string& after) {
  JobPage page;
  // Ids come in score order, from just past the cursor: the score of the last id looked at (a
  // score, not a rank, so ids that leave the list meanwhile move nothing).
  std::string from = "-inf";
  if (!after.empty()) {
    Reply score = redis.command({"ZSCORE", keys.ids, after});
    if (is_nil(score.get()))
      throw FieldError("after", json_quoted(after) + " is no job of this queue now (its record expired, or it never was one)");
    from = "(" + reply_string(score.get());
  }
  std::vector<std::string> gone;  // ids whose job and result have both expired
  std::string last_live;          // the last id looked at that stays listed: a cursor to go on from
  size_t looked = 0;
  bool at_end = false;
  while (!page.next && !at_end && looked < kListScan) {
    Reply batch = redis.command(
        {"ZRANGE", keys.ids, from, "+inf", "BYSCORE", "LIMIT", "0", std::to_string(kListBatch), "WITHSCORES"});
    std::vector<std::string> ids;
    for (size_t i = 0; batch->type == REDIS_REPLY_ARRAY && i + 1 < batch->elements; i += 2) {
      ids.push_back(reply_string(batch->element[i]));
      from = "(" + reply_string(batch->element[i + 1]);
    }
    at_end = ids.size() < kListBatch;
    if (ids.empty()) break;
    std::vector<nlohmann::json> records = job_records(redis, keys, ids);
    for (size_t i = 0; i < ids.size(); ++i) {
      ++looked;
      if (records[i].is_null()) {
        gone.push_back(ids[i]);
        continue;
      }
      if (page.jobs.size() == limit && (!state || records[i]["state"] == *state)) {
        page.next = page.jobs.back()["id"].get<std::string>();
        break;
      }
      last_live = ids[i];
      if (state && records[i]["state"] != *state) continue;
      nlohmann::json& r = records[i];
      if (r.contains("result")) {  // a summary, as a lone service lists it
        const nlohmann::json result = std::move(r["result"]);
        r.erase("result");
        r["status"] = result.is_object() ? result.value("status", nlohmann::json()) : nlohmann::json();
        r["exit_code"] = result.is_object() ? result.value("exit_code", nlohmann::json()) : nlohmann::json();
      }
      page.jobs.push_back(std::move(r));
    }
  }
  // Looked at kListScan ids without filling the page: go on from the last one that stays.
  if (!page.next && !at_end) page.next = last_live.empty() ? after : last_live;
  if (!gone.empty()) {
    Command zrem{"ZREM", keys.ids};
    zrem.insert(zrem.end(), gone.begin(), gone.end());
    redis.command(zrem);
  }
  return page;
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
