#include "jobs/dispatch/job_stream.h"

#include <nlohmann/json.hpp>

#include <string_view>

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

// KEYS: NAME:result:<id>, the job's stream, NAME:duplicates, NAME:results, NAME:dead. ARGV: the
// job's id, its entry id, the result's JSON, the TTL in seconds, the done channel, and for a
// dead-lettered job its text, the reason and the deliveries. A script runs whole before any other
// command, so the check and the writes need no WATCH: one round trip per result, where WATCH
// and MULTI took two (most of what Redis added to a job, bench/workers). Where it fails (out of
// memory at the first write, an ACL refusal, a key of another type), it fails at a write as the
// MULTI did: the worker tries again, and what a first try wrote makes the next a counted duplicate.
//
// The streams would otherwise keep every job and every result for ever, so the script trims them:
// - the job's stream, up to the oldest entry a worker still holds (XPENDING), at most up to this
//   one: XREADGROUP hands entries out in order, so every older entry was delivered, and one that
//   was delivered and is no longer pending has its result. Trimmed from the head with XTRIM, never
//   XDEL: a deleted entry in the middle makes XINFO GROUPS's `lag`, the queue's depth, unknown;
// - NAME:results, to the result's TTL (MINID, from Redis's own clock): an entry older than that
//   names a result whose NAME:result:<id> has expired anyway.
// Both with `~`: Redis drops only whole nodes of the stream, a few dozen entries at a time.
constexpr const char* kPublishScript = R"lua(
local function older(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  if tonumber(am) ~= tonumber(bm) then return tonumber(am) < tonumber(bm) end
  return tonumber(as) < tonumber(bs)
end
-- The trim is housekeeping: a user without +xpending or +xtrim (made before it) still writes
-- its results whole, and pcall keeps a refusal from failing the script after its writes.
local function ack_and_trim()
  redis.call('XACK', KEYS[2], 'workers', ARGV[2])
  local keep_from = ARGV[2]
  local held = redis.pcall('XPENDING', KEYS[2], 'workers')
  if type(held) ~= 'table' or held.err then return end
  if held[1] > 0 and older(held[2], keep_from) then keep_from = held[2] end
  redis.pcall('XTRIM', KEYS[2], 'MINID', '~', keep_from)
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  ack_and_trim()
  redis.call('INCR', KEYS[3])
  return 0
end
-- TIME before the first write: a refusal of it leaves nothing half written.
local t = redis.call('TIME')
local expired = string.format('%.0f', math.max(0, tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[4]) * 1000))
redis.call('SET', KEYS[1], ARGV[3], 'EX', ARGV[4])
redis.call('XADD', KEYS[4], 'MINID', '~', expired, '*', 'id', ARGV[1], 'result', ARGV[3])
redis.call('PUBLISH', ARGV[5], ARGV[1])
if #ARGV > 5 then
  redis.call('XADD', KEYS[5], '*', 'id', ARGV[1], 'job', ARGV[6], 'reason', ARGV[7], 'deliveries', ARGV[8])
end
ack_and_trim()
return 1
)lua";

bool publish_result(RedisClient& redis, const QueueKeys& keys, const Finished& f, std::chrono::seconds ttl) {
  static_assert(std::string_view(QueueKeys::group) == "workers", "kPublishScript acks in group `workers`");
  Command eval{"EVAL", kPublishScript, "5", keys.result(f.job.id), f.job.stream, keys.duplicates, keys.results, keys.dead,
               f.job.id, f.job.entry_id, f.result_json, std::to_string(ttl.count()), keys.done};
  if (f.dead_reason) eval.insert(eval.end(), {f.job.text, *f.dead_reason, std::to_string(f.job.deliveries)});
  return redis.command(eval)->integer == 1;
}

}  // namespace cellblock
