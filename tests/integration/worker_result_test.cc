// The one script that writes a job's result (jobs/dispatch/job_stream.h, publish_result) against
// a real redis-server: the first result of an id is written, published and acked; a second one
// for the same id (the job ran twice, at-least-once) writes nothing, is acked and counted; a
// dead-lettered job's result goes to NAME:dead too.
#include <gtest/gtest.h>

#include "jobs/dispatch/job_stream.h"
#include "tests/integration/redis_server.h"
#include "tests/integration/worker_test_util.h"

namespace cellblock::test {
namespace {

// Adds a job to NAME:jobs and reads it in the group as worker `w`, so that it is pending there.
StreamJob read_one(RedisClient& c, const std::string& id) {
  c.command({"XADD", kKeys.jobs, "*", "id", id, "job", R"({"command":["/bin/true"]})"});
  Reply r = c.command({"XREADGROUP", "GROUP", QueueKeys::group, "w", "COUNT", "1", "STREAMS", kKeys.jobs, ">"});
  std::vector<StreamJob> jobs = parse_entries(r->element[0]->element[1], kKeys.jobs, nullptr);
  if (jobs.size() != 1) throw std::runtime_error("read " + std::to_string(jobs.size()) + " jobs, not 1");
  return jobs[0];
}

// The values of field `name` in each entry of `stream`, in order.
std::vector<std::string> field_values(RedisClient& c, const std::string& stream, const std::string& name) {
  std::vector<std::string> out;
  Reply r = c.command({"XRANGE", stream, "-", "+"});
  for (size_t i = 0; i < r->elements; ++i) {
    const redisReply* fields = r->element[i]->element[1];
    for (size_t f = 0; f + 1 < fields->elements; f += 2)
      if (reply_string(fields->element[f]) == name) out.push_back(reply_string(fields->element[f + 1]));
  }
  return out;
}

TEST(WorkerResultTest, OnlyTheFirstResultOfAnIdIsWrittenAndEveryOneIsAcked) {
  QueueOnRedis q("worker-result");
  RedisClient* c = q.client.get();
  auto listener = q.redis.client();
  listener->command({"SUBSCRIBE", kKeys.done});

  // Two entries with one id, both pending: whichever result comes second must still be acked.
  StreamJob first = read_one(*c, "a");
  StreamJob again = read_one(*c, "a");
  ASSERT_EQ(pending(*c).size(), 2u);
  EXPECT_TRUE(publish_result(*c, kKeys, {first, R"({"id":"a","status":"exited"})", std::nullopt}, std::chrono::seconds(60)));
  EXPECT_FALSE(publish_result(*c, kKeys, {again, R"({"id":"a","status":"killed"})", std::nullopt}, std::chrono::seconds(60)));

  EXPECT_EQ(reply_string(c->command({"GET", kKeys.result("a")}).get()), R"({"id":"a","status":"exited"})");
  const long long ttl = integer(*c, {"TTL", kKeys.result("a")});
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 60);
  EXPECT_EQ(field_values(*c, kKeys.results, "result"), std::vector<std::string>{R"({"id":"a","status":"exited"})"});
  EXPECT_EQ(reply_string(c->command({"GET", kKeys.duplicates}).get()), "1");
  EXPECT_TRUE(pending(*c).empty());
  // One PUBLISH, for the first: the waiters hear of the id once, and next of a marker sent after.
  c->command({"PUBLISH", kKeys.done, "marker"});
  for (const char* expected : {"a", "marker"}) {
    Reply heard = listener->read_pushed();
    ASSERT_EQ(heard->elements, 3u);
    EXPECT_EQ(reply_string(heard->element[2]), expected);
  }
  EXPECT_EQ(integer(*c, {"XLEN", kKeys.dead}), 0);
}

TEST(WorkerResultTest, ADeadLetteredJobGoesToTheDeadStreamWithItsReason) {
  QueueOnRedis q("worker-result-dead");
  RedisClient* c = q.client.get();
  StreamJob job = read_one(*c, "p");
  job.deliveries = 4;
  EXPECT_TRUE(publish_result(*c, kKeys, {job, R"({"id":"p","status":"internal_error"})", std::string("delivered 4 times")},
                             std::chrono::seconds(60)));
  EXPECT_EQ(field_values(*c, kKeys.dead, "id"), std::vector<std::string>{"p"});
  EXPECT_EQ(field_values(*c, kKeys.dead, "job"), std::vector<std::string>{job.text});
  EXPECT_EQ(field_values(*c, kKeys.dead, "reason"), std::vector<std::string>{"delivered 4 times"});
  EXPECT_EQ(field_values(*c, kKeys.dead, "deliveries"), std::vector<std::string>{"4"});
  EXPECT_EQ(field_values(*c, kKeys.results, "id"), std::vector<std::string>{"p"});
  EXPECT_TRUE(pending(*c).empty());
}

}  // namespace
}  // namespace cellblock::test
