// How a worker reads its jobs (jobs/dispatch/job_reader.h) against a real redis-server: highest
// priority first and never more than the free slots, each job with its cancel mark, and a read
// that waits wakes as soon as a job arrives, still taking no more than the free slots.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "jobs/dispatch/job_reader.h"
#include "tests/integration/redis_server.h"
#include "tests/integration/worker_test_util.h"

namespace cellblock::test {
namespace {

void add(RedisClient& c, const std::string& stream, const std::string& id) {
  c.command({"XADD", stream, "*", "id", id, "job", R"({"command":["/bin/true"]})"});
}

std::vector<std::string> ids(const std::vector<ReadJob>& read) {
  std::vector<std::string> out;
  for (const ReadJob& r : read) out.push_back(r.job.id);
  return out;
}

TEST(JobReaderTest, ReadsHighestPriorityFirstAndNoMoreThanTheFreeSlots) {
  QueueOnRedis q("job-reader-order");
  RedisClient* c = q.client.get();
  add(*c, kKeys.jobs_low, "low1");
  add(*c, kKeys.jobs, "normal1");
  add(*c, kKeys.jobs_high, "high1");
  add(*c, kKeys.jobs_low, "low2");
  add(*c, kKeys.jobs, "normal2");
  add(*c, kKeys.jobs_high, "high2");
  JobReader reader(kKeys, "w", milliseconds(200));
  EXPECT_EQ(ids(reader.read(*c, 3)), (std::vector<std::string>{"high1", "high2", "normal1"}));
  EXPECT_EQ(pending(*c).size(), 1u);  // pending() lists NAME:jobs only: normal1
  EXPECT_EQ(ids(reader.read(*c, 3)), (std::vector<std::string>{"normal2", "low1", "low2"}));
  // Each read job is this consumer's, pending until its result acks it.
  Reply consumers = c->command({"XINFO", "CONSUMERS", kKeys.jobs_low, QueueKeys::group});
  ASSERT_EQ(consumers->elements, 1u);
  EXPECT_EQ(reply_string(consumers->element[0]->element[1]), "w");
  EXPECT_EQ(consumers->element[0]->element[3]->integer, 2);
}

TEST(JobReaderTest, EachJobComesWithItsCancelMark) {
  QueueOnRedis q("job-reader-cancel");
  RedisClient* c = q.client.get();
  add(*c, kKeys.jobs, "a");
  add(*c, kKeys.jobs, "b");
  c->command({"XADD", kKeys.jobs, "*", "job", "{}"});  // no id: known by its entry id
  c->command({"SET", kKeys.cancelled("b"), "1"});
  // A stray mark of the empty id must not cancel jobs whose id is empty: they go by entry id.
  c->command({"SET", kKeys.cancelled(""), "1"});
  JobReader reader(kKeys, "w", milliseconds(200));
  std::vector<ReadJob> read = reader.read(*c, 10);
  ASSERT_EQ(read.size(), 3u);
  EXPECT_EQ(read[0].job.id, "a");
  EXPECT_FALSE(read[0].cancelled);
  EXPECT_EQ(read[1].job.id, "b");
  EXPECT_TRUE(read[1].cancelled);
  EXPECT_EQ(read[2].job.id, read[2].job.entry_id);
  EXPECT_FALSE(read[2].cancelled);
  // Marked under their entry ids, jobs without an id or with an empty one are cancelled.
  const std::string no_id = reply_string(c->command({"XADD", kKeys.jobs, "*", "job", "{}"}).get());
  const std::string empty_id = reply_string(c->command({"XADD", kKeys.jobs, "*", "id", "", "job", "{}"}).get());
  c->command({"SET", kKeys.cancelled(no_id), "1"});
  c->command({"SET", kKeys.cancelled(empty_id), "1"});
  read = reader.read(*c, 10);
  ASSERT_EQ(read.size(), 2u);
  EXPECT_EQ(read[0].job.id, no_id);
  EXPECT_TRUE(read[0].cancelled);
  EXPECT_EQ(read[1].job.id, empty_id);
  EXPECT_TRUE(read[1].cancelled);
}

// The read after an empty one waits (XREAD BLOCK) with the read script behind it: jobs that
// arrive on two streams while it waits wake it long before its block ends, and it still takes
// only as many as the free slots, the higher priority first.
TEST(JobReaderTest, AWaitingReadWakesForANewJobAndTakesOnlyTheFreeSlots) {
  QueueOnRedis q("job-reader-wait");
  RedisClient* c = q.client.get();
  const milliseconds block(60'000);
  JobReader reader(kKeys, "w", block);
  EXPECT_TRUE(reader.read(*c, 1).empty());  // nothing queued: answers at once, and waits next time
  auto waiting = std::async(std::launch::async, [&] {
    const auto t0 = std::chrono::steady_clock::now();
    std::vector<ReadJob> got = reader.read(*c, 1);
    return std::pair{ids(got), std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - t0)};
  });
  // Only once the read waits (blocked in its XREAD), or this would prove nothing about waking.
  auto submitter = q.redis.client();
  const auto give_up = std::chrono::steady_clock::now() + block / 4;
  while (reply_string(submitter->command({"INFO", "clients"}).get()).find("blocked_clients:1") == std::string::npos) {
    ASSERT_LT(std::chrono::steady_clock::now(), give_up) << "the read never blocked";
    std::this_thread::sleep_for(milliseconds(10));
  }
  // Both in one script: whichever the XREAD wakes for, the read script sees both.
  submitter->command({"EVAL", "redis.call('XADD', KEYS[1], '*', 'id', 'low', 'job', '{}') "
                              "redis.call('XADD', KEYS[2], '*', 'id', 'high', 'job', '{}')",
                      "2", kKeys.jobs_low, kKeys.jobs_high});
  auto [got, took] = waiting.get();
  EXPECT_EQ(got, std::vector<std::string>{"high"});
  EXPECT_LT(took, block / 2) << "the read waited out its block instead of waking for the job";
  EXPECT_EQ(ids(reader.read(*c, 1)), std::vector<std::string>{"low"});
}

}  // namespace
}  // namespace cellblock::test
