// A worker's results while Redis is away (jobs/dispatch/result_spool.h): spooled to disk under
// the state directory, written when Redis is back, in the order the jobs finished and once each;
// and a worker killed with results in its spool, whose results the next worker writes. Against
// a real redis-server the test starts, stops (SIGKILL, by its pid) and starts again from its AOF.
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/integration/worker_test_util.h"

namespace cellblock::test {
namespace {

// The spooled results below the scratch's state directory, any worker's.
size_t spooled_files(const Scratch& s) {
  size_t n = 0;
  std::error_code ec;
  const std::filesystem::path root = s.state_dir() + "/worker-spool";
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec); !ec && it != std::filesystem::recursive_directory_iterator();
       it.increment(ec))
    if (it->is_regular_file() && it->path().extension() == ".json") ++n;
  return n;
}

// The job ids of NAME:results, in stream order.
std::vector<std::string> result_order(RedisClient& c) {
  std::vector<std::string> ids;
  Reply r = c.command({"XRANGE", kKeys.results, "-", "+"});
  for (size_t i = 0; i < r->elements; ++i) {
    const redisReply* fields = r->element[i]->element[1];
    for (size_t f = 0; f + 1 < fields->elements; f += 2)
      if (reply_string(fields->element[f]) == "id") ids.push_back(reply_string(fields->element[f + 1]));
  }
  return ids;
}

TEST(WorkerSpoolTest, ResultsFinishedWhileRedisIsAwayAreSpooledAndWrittenInOrder) {
  Scratch s("worker-spool");
  RedisServer redis(s);
  // Three jobs that end one after the other while Redis is away: s1, then s2, then s3.
  const double step_ms = std::max(1000.0, 20 * job_ms());
  std::vector<nlohmann::json> jobs;
  for (int i = 1; i <= 3; ++i) jobs.push_back(sh_job("s" + std::to_string(i), "sleep " + seconds_text(i * step_ms)));
  auto worker = start_worker(s, redis, "w", {"--parallel", "3"});
  auto submit = start_submit(s, redis, "submit", s.write_jobs("jobs.jsonl", jobs), {});
  ASSERT_EQ(submit->wait(budget(3)), 0) << submit->err();
  auto c = redis.client();
  ASSERT_TRUE(eventually([&] { return pending(*c).size() == 3; }, budget(3))) << worker->err();

  redis.stop();
  // Each result is on disk as soon as its job ends: all three while Redis is still away.
  ASSERT_TRUE(eventually([&] { return spooled_files(s) == 3; }, budget(3, 3 * step_ms))) << worker->err();
  redis.restart();  // the AOF brings back the stream, the group and its pending list

  c = redis.client();
  ASSERT_TRUE(eventually([&] { return integer(*c, {"XLEN", kKeys.results}) == 3 && pending(*c).empty(); }, budget(3)))
      << worker->err();
  EXPECT_EQ(result_order(*c), (std::vector<std::string>{"s1", "s2", "s3"}));
  for (const auto& j : jobs) {
    Reply r = c->command({"GET", kKeys.result(j["id"])});
    ASSERT_FALSE(is_nil(r.get())) << j["id"];
    EXPECT_EQ(nlohmann::json::parse(reply_string(r.get()))["status"], "exited") << reply_string(r.get());
  }
  EXPECT_TRUE(is_nil(c->command({"GET", kKeys.duplicates}).get())) << "a result was written twice";
  EXPECT_EQ(spooled_files(s), 0u);
  EXPECT_NE(worker->err().find("results wait in " + s.state_dir() + "/worker-spool/"), std::string::npos) << worker->err();
  EXPECT_NE(worker->err().find("Redis is back"), std::string::npos) << worker->err();
  // It ran each job once: nothing was reclaimed while Redis was away.
  EXPECT_EQ(worker->err().find("reclaimed"), std::string::npos) << worker->err();
}

TEST(WorkerSpoolTest, KilledWorkersSpooledResultIsWrittenByTheNextWorker) {
  Scratch s("worker-spool-kill");
  RedisServer redis(s);
  const double sleep_ms = std::max(1000.0, 20 * job_ms());
  // Nobody reclaims the job within the test: its only result is the one in the spool.
  const std::vector<std::string> no_reclaim{"--parallel", "1", "--claim-idle", "1h"};
  auto doomed = start_worker(s, redis, "doomed", no_reclaim);
  auto submit = start_submit(s, redis, "submit", s.write_jobs("jobs.jsonl", {sh_job("k", "sleep " + seconds_text(sleep_ms))}), {});
  ASSERT_EQ(submit->wait(budget(1)), 0) << submit->err();
  auto c = redis.client();
  ASSERT_TRUE(eventually([&] { return pending(*c).size() == 1; }, budget(1))) << doomed->err();
  const std::string entry = pending(*c).begin()->first;

  redis.stop();
  ASSERT_TRUE(eventually([&] { return spooled_files(s) == 1; }, budget(1, sleep_ms))) << doomed->err();
  doomed->signal(SIGKILL);
  doomed->wait();
  redis.restart();
  c = redis.client();
  EXPECT_EQ(pending(*c).at(entry).first, "doomed");  // still held by the dead worker

  // A new worker (a new consumer: another name) takes over the dead one's spool at its start.
  auto next = start_worker(s, redis, "next", no_reclaim);
  ASSERT_TRUE(eventually([&] { return integer(*c, {"XLEN", kKeys.results}) == 1 && pending(*c).empty(); }, budget(1)))
      << next->err();
  Reply r = c->command({"GET", kKeys.result("k")});
  ASSERT_FALSE(is_nil(r.get()));
  EXPECT_EQ(nlohmann::json::parse(reply_string(r.get()))["status"], "exited") << reply_string(r.get());
  EXPECT_TRUE(is_nil(c->command({"GET", kKeys.duplicates}).get()));
  EXPECT_EQ(spooled_files(s), 0u);
  EXPECT_NE(next->err().find("took over 1 result(s) of a dead worker"), std::string::npos) << next->err();
  // The dead worker's spool is gone with it; the live one's stays, locked.
  EXPECT_FALSE(std::filesystem::exists(s.state_dir() + "/worker-spool/127%2E0%2E0%2E1_" + std::to_string(redis.port()) + "_0_q/doomed"));
  EXPECT_TRUE(std::filesystem::exists(s.state_dir() + "/worker-spool/127%2E0%2E0%2E1_" + std::to_string(redis.port()) + "_0_q/next/lock"));
}

}  // namespace
}  // namespace cellblock::test
