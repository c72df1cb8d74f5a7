#include "jobs/dispatch/job_reader.h"

#include <string_view>

namespace cellblock {
namespace {

// KEYS: the job streams, highest priority first. ARGV: the consumer, how many jobs at most, the
// cancel marks' key prefix. Answers {newest, read, error}: each stream's newest entry id ("0-0"
// when it is empty) when nothing was read, else {}; per stream read {stream, entries, marks}, the
// entries as XREADGROUP gives them and 1 or 0 per entry for its cancel mark; and the error of a
// stream's XREADGROUP ("" if none). Redis keeps what a script did before an error, so the entries
// read from the streams above a failing one are answered, not lost with the error: they are this
// consumer's already. A job without an "id" field, or with an empty one, is known by its entry
// id, as parse_entries() has it. The marks are keys the script builds, not KEYS: that is fine on
// one Redis, and a queue's keys are not spread over a cluster.
constexpr const char* kReadScript = R"lua(
local free = tonumber(ARGV[2])
local read = {}
local failed = ''
for i = 1, #KEYS do
  if free == 0 then break end
  local r = redis.pcall('XREADGROUP', 'GROUP', 'workers', ARGV[1], 'COUNT', free, 'STREAMS', KEYS[i], '>')
  if type(r) == 'table' and r.err then
    failed = r.err
    break
  end
  if r then
    local entries = r[1][2]
    local marks = {}
    for e = 1, #entries do
      local id, fields = entries[e][1], entries[e][2]
      for f = 1, #fields - 1, 2 do
        if fields[f] == 'id' and fields[f + 1] ~= '' then id = fields[f + 1] end
      end
      marks[e] = redis.call('EXISTS', ARGV[3] .. id)
    end
    read[#read + 1] = {KEYS[i], entries, marks}
    free = free - #entries
  end
end
local newest = {}
if #read == 0 and failed == '' then
  for i = 1, #KEYS do
    local top = redis.call('XREVRANGE', KEYS[i], '+', '-', 'COUNT', 1)
    newest[i] = top[1] and top[1][1] or '0-0'
  end
end
return {newest, read, failed}
)lua";

RedisError bad_reply(RedisClient& redis, const std::string& what) {
  return RedisError(redis.url().display() + ": reading jobs: " + what);
}

}  // namespace

JobReader::JobReader(const QueueKeys& keys, std::string consumer, std::chrono::milliseconds block)
    : keys_(keys), consumer_(std::move(consumer)), block_ms_(std::to_string(block.count())) {}

std::vector<ReadJob> JobReader::read(RedisClient& redis, size_t free) {
  const std::vector<std::string> streams = keys_.streams();
  static_assert(std::string_view(QueueKeys::group) == "workers", "kReadScript reads in group `workers`");
  Command eval{"EVAL", kReadScript, std::to_string(streams.size())};
  eval.insert(eval.end(), streams.begin(), streams.end());
  eval.insert(eval.end(), {consumer_, std::to_string(free), keys_.cancelled_prefix});
  Reply reply;
  std::string error;  // after what was read is taken: jobs read are this consumer's already
  if (newest_.empty()) {
    reply = redis.command(eval);
  } else {
    // The XREAD only wakes the script: its own answer (the new entries, or nil after `block`)
    // is not needed, since the script reads in the group whatever is there by then.
    Command wait{"XREAD", "COUNT", "1", "BLOCK", block_ms_, "STREAMS"};
    wait.insert(wait.end(), streams.begin(), streams.end());
    wait.insert(wait.end(), newest_.begin(), newest_.end());
    std::vector<Reply> replies = redis.pipeline({wait, eval});
    if (replies[1]->type == REDIS_REPLY_ERROR) throw bad_reply(redis, reply_string(replies[1].get()));
    if (replies[0]->type == REDIS_REPLY_ERROR) error = reply_string(replies[0].get());
    reply = std::move(replies[1]);
  }
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3)
    throw bad_reply(redis, "the script's answer is not {newest, read, error}");
  if (error.empty()) error = reply_string(reply->element[2]);
  std::vector<ReadJob> out;
  const redisReply* read = reply->element[1];
  for (size_t s = 0; s < read->elements; ++s) {
    const redisReply* one = read->element[s];  // {stream, entries, marks}
    if (one->type != REDIS_REPLY_ARRAY || one->elements != 3) throw bad_reply(redis, "a stream's read is not {stream, entries, marks}");
    std::vector<StreamJob> jobs = parse_entries(one->element[1], reply_string(one->element[0]), nullptr);
    const redisReply* marks = one->element[2];
    // Entries read with ">" are never deleted ones, so each has its job and its mark.
    if (jobs.size() != marks->elements) throw bad_reply(redis, "a stream's entries and cancel marks differ in number");
    for (size_t j = 0; j < jobs.size(); ++j) out.push_back({std::move(jobs[j]), marks->element[j]->integer == 1});
  }
  newest_.clear();
  if (!out.empty()) return out;  // an error comes back at the next read, if it lasts
  if (!error.empty()) throw bad_reply(redis, error);
  for (size_t i = 0; i < reply->element[0]->elements; ++i) newest_.push_back(reply_string(reply->element[0]->element[i]));
  return out;
}

}  // namespace cellblock
