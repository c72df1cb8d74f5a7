// `cellblock worker` and `cellblock submit` against a real redis-server (redis_server.h), with
// the real binary as worker processes: draining, a worker killed mid-run, a long job kept by its
// heartbeat, a poison job dead-lettered, a wrong password, invalid jobs. Timeouts only let work
// finish; they come from calibration.h, never from this machine's speed written down.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <set>

#include "jobs/dispatch/job_records.h"
#include "jobs/dispatch/queue_keys.h"
#include "tests/integration/batch_test_util.h"
#include "tests/integration/calibration.h"
#include "tests/integration/redis_server.h"
#include "tests/integration/worker_test_util.h"

namespace cellblock::test {
namespace {

TEST(WorkerTest, ThreeWorkersDrainJobsWithExactlyOneResultEach) {
  Scratch s("worker-drain");
  RedisServer redis(s);
  constexpr size_t kJobs = 2000;  // the issue's figure
  std::vector<nlohmann::json> jobs;
  for (size_t i = 0; i < kJobs; ++i) jobs.push_back({{"id", "j" + std::to_string(i)}, {"command", {"/bin/true"}}});
  std::vector<std::unique_ptr<Spawned>> workers;
  for (int w = 0; w < 3; ++w) workers.push_back(start_worker(s, redis, "w" + std::to_string(w), {"--parallel", "2"}));
  auto submit = start_submit(s, redis, "submit", s.write_jobs("jobs.jsonl", jobs));
  ASSERT_EQ(submit->wait(budget(kJobs)), 0) << submit->err();

  auto by_id = results_by_id(submit->out());
  ASSERT_EQ(by_id.size(), kJobs);
  for (const auto& [id, r] : by_id) {
    EXPECT_EQ(r["status"], "exited") << r.dump();
    EXPECT_EQ(r["exit_code"], 0) << r.dump();
  }
  auto c = redis.client();
  EXPECT_EQ(integer(*c, {"XLEN", kKeys.results}), static_cast<long long>(kJobs));
  EXPECT_EQ(integer(*c, {"EXISTS", kKeys.duplicates}), 0);
  EXPECT_TRUE(pending(*c).empty());
  // Done jobs leave the stream (trimmed a node of entries at a time), so it does not grow for ever.
  EXPECT_LT(integer(*c, {"XLEN", kKeys.jobs}), static_cast<long long>(kJobs / 10));
  // Every worker took part: the group spread the jobs.
  Reply consumers = c->command({"XINFO", "CONSUMERS", kKeys.jobs, QueueKeys::group});
  EXPECT_EQ(consumers->elements, 3u);
  for (auto& w : workers) {
    w->signal(SIGTERM);
    EXPECT_EQ(w->wait(budget(0)), 0) << w->err();
  }
}

// NAME:results keeps a result only as long as its NAME:result:<id> lives (--result-ttl).
TEST(WorkerTest, ResultsPastTheirTtlLeaveTheResultsStream) {
  Scratch s("worker-results-ttl");
  RedisServer redis(s);
  auto c = redis.client();
  // Nodes of 4 entries: Redis trims (`~`) whole nodes only, so this bounds what an old node keeps.
  c->command({"CONFIG", "SET", "stream-node-max-entries", "4"});
  constexpr int kJobs = 12;
  // Far longer than a batch takes on this machine (calibration.h): only the wait below expires
  // the first batch's results, never the batch's own time.
  const auto ttl_s = static_cast<int64_t>(std::max(1.0, std::ceil(10 * kJobs * job_ms() / 1000)));
  auto worker = start_worker(s, redis, "w", {"--result-ttl", std::to_string(ttl_s) + "s"});
  auto run_batch = [&](const std::string& prefix) {
    std::vector<nlohmann::json> jobs;
    for (int i = 0; i < kJobs; ++i) jobs.push_back({{"id", prefix + std::to_string(i)}, {"command", {"/bin/true"}}});
    auto submit = start_submit(s, redis, "submit-" + prefix, s.write_jobs(prefix + ".jsonl", jobs));
    ASSERT_EQ(submit->wait(budget(kJobs)), 0) << submit->err();
    EXPECT_EQ(results_by_id(submit->out()).size(), static_cast<size_t>(kJobs));
  };
  run_batch("a");
  ASSERT_EQ(integer(*c, {"XLEN", kKeys.results}), kJobs);
  // The first batch's results expire...
  ASSERT_TRUE(eventually([&] { return integer(*c, {"EXISTS", kKeys.result("a" + std::to_string(kJobs - 1))}) == 0; },
                         budget(1) + std::chrono::seconds(ttl_s)));
  // ...and the next results trim their entries: at most the node shared with the second batch stays.
  run_batch("b");
  EXPECT_LE(integer(*c, {"XLEN", kKeys.results}), kJobs + 3);
  EXPECT_EQ(integer(*c, {"EXISTS", kKeys.result("b" + std::to_string(kJobs - 1))}), 1);
}

TEST(WorkerTest, KilledWorkersJobsAreReclaimedAndCompletedOnce) {
  Scratch s("worker-kill");
  RedisServer redis(s);
  const double sleep_ms = std::max(1000.0, 20 * job_ms());
  const auto claim_idle = milliseconds(static_cast<int64_t>(std::max(1000.0, 20 * job_ms())));
  const std::string idle_flag = std::to_string(claim_idle.count()) + "ms";
  constexpr size_t kJobs = 6;
  std::vector<nlohmann::json> jobs;
  for (size_t i = 0; i < kJobs; ++i)
    jobs.push_back(sh_job("k" + std::to_string(i), "sleep " + seconds_text(sleep_ms)));
  auto doomed = start_worker(s, redis, "doomed", {"--parallel", "3", "--claim-idle", idle_flag});
  auto submit = start_submit(s, redis, "submit", s.write_jobs("jobs.jsonl", jobs));
  auto c = redis.client();
  ASSERT_TRUE(eventually([&] { return pending(*c).size() == 3; }, budget(kJobs))) << doomed->err();
  doomed->signal(SIGKILL);
  doomed->wait();
  auto held_by_doomed = pending(*c);

  auto survivor = start_worker(s, redis, "survivor", {"--parallel", "3", "--claim-idle", idle_flag});
  ASSERT_EQ(submit->wait(budget(kJobs, sleep_ms)), 0) << submit->err() << survivor->err();
  auto by_id = results_by_id(submit->out());
  ASSERT_EQ(by_id.size(), kJobs);
  for (const auto& [id, r] : by_id) EXPECT_EQ(r["status"], "exited") << r.dump();
  EXPECT_EQ(integer(*c, {"XLEN", kKeys.results}), static_cast<long long>(kJobs));
  EXPECT_TRUE(pending(*c).empty());
  // The survivor took over each job the dead worker held, and said so.
  std::string log = survivor->err();
  for (const auto& [entry, owner] : held_by_doomed) {
    EXPECT_EQ(owner.first, "doomed");
    EXPECT_NE(log.find("(entry " + entry + ", delivery 2)"), std::string::npos) << entry << "\n" << log;
  }
}

TEST(WorkerTest, LongJobIsNotReclaimedWhileItsWorkerLives) {
  Scratch s("worker-long");
  RedisServer redis(s);
  const auto claim_idle = milliseconds(static_cast<int64_t>(std::max(1000.0, 10 * job_ms())));
  const std::string idle_flag = std::to_string(claim_idle.count()) + "ms";
  const double sleep_ms = 5.0 * static_cast<double>(claim_idle.count());  // five claim periods
  auto a = start_worker(s, redis, "a", {"--parallel", "1", "--claim-idle", idle_flag});
  auto b = start_worker(s, redis, "b", {"--parallel", "1", "--claim-idle", idle_flag});
  auto submit =
      start_submit(s, redis, "submit", s.write_jobs("jobs.jsonl", {sh_job("long", "sleep " + seconds_text(sleep_ms))}));
  auto c = redis.client();
  ASSERT_TRUE(eventually([&] { return pending(*c).size() == 1; }, budget(1))) << a->err() << b->err();
  std::string owner = pending(*c).begin()->second.first;
  // Past several claim periods: still its first delivery, to the same worker.
  std::this_thread::sleep_for(claim_idle * 3);
  auto now = pending(*c);
  if (!now.empty()) {
    EXPECT_EQ(now.begin()->second.first, owner);
    EXPECT_EQ(now.begin()->second.second, 1);
  }
  ASSERT_EQ(submit->wait(budget(1, sleep_ms)), 0) << submit->err();
  EXPECT_EQ(results_by_id(submit->out()).size(), 1u);
  EXPECT_EQ(integer(*c, {"XLEN", kKeys.results}), 1);
  EXPECT_EQ(integer(*c, {"EXISTS", kKeys.duplicates}), 0);
  EXPECT_EQ(a->err().find("reclaimed"), std::string::npos) << a->err();
  EXPECT_EQ(b->err().find("reclaimed"), std::string::npos) << b->err();
}

TEST(WorkerTest, PoisonJobIsDeadLetteredAndItsSubmitterTold) {
  Scratch s("worker-poison");
  RedisServer redis(s);
  auto c = redis.client();
  // Three workers that died running it, simulated: a fake consumer takes it, and XCLAIM (which
  // counts a delivery each time) hands it on twice more, as XAUTOCLAIM would have.
  c->command({"XGROUP", "CREATE", kKeys.jobs, QueueKeys::group, "0", "MKSTREAM"});
  std::string entry = reply_string(c->command({"XADD", kKeys.jobs, "*", "id", "poison", "job",
                                               R"({"id":"poison","command":["/bin/true"]})"}).get());
  c->command({"XREADGROUP", "GROUP", QueueKeys::group, "ghost", "COUNT", "1", "STREAMS", kKeys.jobs, ">"});
  for (int i = 0; i < 2; ++i) c->command({"XCLAIM", kKeys.jobs, QueueKeys::group, "ghost", "0", entry});
  ASSERT_EQ(pending(*c)[entry].second, 3);

  auto worker = start_worker(s, redis, "w", {"--claim-idle", "100ms", "--max-deliveries", "3"});
  ASSERT_TRUE(eventually([&] { return !is_nil(c->command({"GET", kKeys.result("poison")}).get()); }, budget(1)))
      << worker->err();
  auto result = nlohmann::json::parse(reply_string(c->command({"GET", kKeys.result("poison")}).get()));
  EXPECT_EQ(result["status"], "internal_error");
  EXPECT_NE(result["error"].get<std::string>().find("dead-lettered"), std::string::npos) << result.dump();
  EXPECT_EQ(integer(*c, {"XLEN", kKeys.dead}), 1);
  Reply dead = c->command({"XRANGE", kKeys.dead, "-", "+"});
  std::string fields;
  for (size_t i = 0; i < dead->element[0]->element[1]->elements; ++i) fields += reply_string(dead->element[0]->element[1]->element[i]) + " ";
  EXPECT_NE(fields.find("reason"), std::string::npos) << fields;
  EXPECT_NE(fields.find("deliveries 4"), std::string::npos) << fields;
  EXPECT_TRUE(pending(*c).empty());
}

TEST(WorkerTest, SigtermFinishesTheRunningJobAndLeavesTheRest) {
  Scratch s("worker-term");
  RedisServer redis(s);
  const double sleep_ms = std::max(1000.0, 20 * job_ms());
  auto worker = start_worker(s, redis, "w", {"--parallel", "1", "--grace", "10m"});
  auto submit = start_submit(s, redis, "submit",
                             s.write_jobs("jobs.jsonl", {sh_job("first", "sleep " + seconds_text(sleep_ms)),
                                                         sh_job("second", "sleep " + seconds_text(sleep_ms))}));
  auto c = redis.client();
  ASSERT_TRUE(eventually([&] { return pending(*c).size() == 1; }, budget(2))) << worker->err();
  std::string running = reply_string(c->command({"XRANGE", kKeys.jobs, "-", "+", "COUNT", "1"})->element[0]->element[1]->element[1]);
  worker->signal(SIGTERM);
  EXPECT_EQ(worker->wait(budget(1, sleep_ms)), 0) << worker->err();
  // The running job finished and has its result; the other was never taken.
  EXPECT_EQ(integer(*c, {"XLEN", kKeys.results}), 1);
  EXPECT_EQ(integer(*c, {"EXISTS", kKeys.result(running)}), 1) << running;
  EXPECT_TRUE(pending(*c).empty());
  auto next = start_worker(s, redis, "next");
  ASSERT_EQ(submit->wait(budget(2, sleep_ms)), 0) << submit->err();
  auto by_id = results_by_id(submit->out());
  EXPECT_EQ(by_id.size(), 2u);
  for (const auto& [id, r] : by_id) EXPECT_EQ(r["status"], "exited") << r.dump();
}

TEST(WorkerTest, SubmitCancelReachesTheWorkerRunningTheJob) {
  Scratch s("worker-cancel");
  RedisServer redis(s);
  auto worker = start_worker(s, redis, "w", {"--parallel", "1"});
  auto submit = start_submit(s, redis, "submit", s.write_jobs("jobs.jsonl", {sh_job("endless", "sleep 600")}));
  auto c = redis.client();
  ASSERT_TRUE(eventually([&] { return pending(*c).size() == 1; }, budget(1))) << worker->err();
  // Running: the worker logged the start of its cell.
  ASSERT_TRUE(eventually([&] { return worker->err().find("\"endless\" started") != std::string::npos; }, budget(1)))
      << worker->err();
  auto cancel = start_cellblock(s, "submit", "cancel", {"--redis", redis.url(), "--queue", "q", "--cancel", "endless"});
  EXPECT_EQ(cancel->wait(budget(0)), 0) << cancel->err();
  ASSERT_EQ(submit->wait(budget(1)), 0) << submit->err() << worker->err();
  auto by_id = results_by_id(submit->out());
  ASSERT_EQ(by_id.size(), 1u);
  EXPECT_EQ(by_id["endless"]["status"], "cancelled") << by_id["endless"].dump();
  EXPECT_NE(by_id["endless"]["error"].get<std::string>().find("submit --cancel"), std::string::npos);
}

// The issue: a cancel reaches the worker running the job on another host, and the cell dies
// within 100 ms. Timed here from the cancel's PUBLISH (what `submit --cancel` and a front end's
// DELETE send, request_cancel) to the `cancelled` result in Redis, which is more than the cell's
// death: the result is written after it. "Promptly" is calibrated (calibration.h): 100 ms, or 10
// trivial jobs' time on a machine that slow.
TEST(WorkerTest, CancelledCellEndsPromptly) {
  Scratch s("worker-cancel-prompt");
  RedisServer redis(s);
  auto worker = start_worker(s, redis, "w", {"--parallel", "1"});
  auto submit = start_submit(s, redis, "submit", s.write_jobs("jobs.jsonl", {sh_job("endless", "sleep 600")}), {});
  ASSERT_EQ(submit->wait(budget(0)), 0) << submit->err();
  ASSERT_TRUE(eventually([&] { return worker->err().find("\"endless\" started") != std::string::npos; }, budget(1)))
      << worker->err();
  auto c = redis.client();
  const double bound = promptly_ms();
  const auto t0 = std::chrono::steady_clock::now();
  request_cancel(*c, kKeys, "endless", std::chrono::hours(1));
  Reply result;
  while (is_nil((result = c->command({"GET", kKeys.result("endless")})).get())) {
    ASSERT_LT(std::chrono::steady_clock::now() - t0, budget(1)) << worker->err();
    std::this_thread::sleep_for(milliseconds(1));
  }
  const double took = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "[ measured ] cancel to result: " << took << " ms (bound " << bound << " ms)\n";
  EXPECT_LE(took, bound) << worker->err();
  EXPECT_EQ(nlohmann::json::parse(reply_string(result.get()))["status"], "cancelled") << reply_string(result.get());
}

// A cancel published while the worker was not subscribed (its subscriber reconnects after every
// read timeout and after Redis was away) reaches nobody; the mark it leaves must still reach the
// job when the worker subscribes again.
TEST(WorkerTest, ACancelPublishedWhileTheWorkerWasNotSubscribedStillReachesIt) {
  Scratch s("worker-cancel-gap");
  RedisServer redis(s);
  auto worker = start_worker(s, redis, "w", {"--parallel", "1"});
  auto submit = start_submit(s, redis, "submit", s.write_jobs("jobs.jsonl", {sh_job("endless", "sleep 600")}));
  ASSERT_TRUE(eventually([&] { return worker->err().find("\"endless\" started") != std::string::npos; }, budget(1)))
      << worker->err();
  auto c = redis.client();
  // Drop the worker's subscription and cancel before it is back (it waits 500 ms to reconnect):
  // PUBLISH answers how many heard it. Again if the worker was back already.
  long long heard = 1;
  for (int attempt = 0; attempt < 20 && heard != 0; ++attempt) {
    c->command({"CLIENT", "KILL", "TYPE", "pubsub"});
    auto replies = c->pipeline({{"SET", kKeys.cancelled("endless"), "1", "EX", "3600"}, {"PUBLISH", kKeys.cancel, "endless"}});
    heard = replies.at(1)->integer;
  }
  ASSERT_EQ(heard, 0) << "could not publish while the worker was unsubscribed";
  ASSERT_EQ(submit->wait(budget(1)), 0) << submit->err() << worker->err();
  auto by_id = results_by_id(submit->out());
  ASSERT_EQ(by_id.size(), 1u);
  EXPECT_EQ(by_id["endless"]["status"], "cancelled") << by_id["endless"].dump();
  EXPECT_NE(worker->err().find("published while this worker was not subscribed"), std::string::npos) << worker->err();
}

TEST(WorkerTest, WrongPasswordOrNoRedisIsOneClearLine) {
  Scratch s("worker-auth");
  RedisServer redis(s, "right-password");
  std::string wrong = "redis://:wrong-password@127.0.0.1:" + std::to_string(redis.port());
  auto worker = start_cellblock(s, "worker", "worker", {"--redis", wrong, "--queue", "q", "--defaults", s.defaults()});
  EXPECT_EQ(worker->wait(budget(0)), 1);
  auto lines_of = [](const std::string& text) { return std::count(text.begin(), text.end(), '\n'); };
  EXPECT_EQ(lines_of(worker->err()), 1) << worker->err();
  EXPECT_NE(worker->err().find("AUTH"), std::string::npos) << worker->err();

  auto submit = start_cellblock(s, "submit", "submit", {"--redis", wrong, "--queue", "q", s.write("one.jsonl", "{}\n")});
  EXPECT_EQ(submit->wait(budget(0)), 1);
  EXPECT_EQ(lines_of(submit->err()), 1) << submit->err();

  // Nobody listening: one line too.
  std::string nobody = "redis://127.0.0.1:" + std::to_string(free_tcp_port());
  auto lost = start_cellblock(s, "submit", "lost", {"--redis", nobody, "--queue", "q", s.path("one.jsonl")});
  EXPECT_EQ(lost->wait(budget(0)), 1);
  EXPECT_EQ(lines_of(lost->err()), 1) << lost->err();
  EXPECT_NE(lost->err().find("cannot connect"), std::string::npos) << lost->err();

  auto bad_url = start_cellblock(s, "submit", "bad-url", {"--redis", "http://x", "--queue", "q", s.path("one.jsonl")});
  EXPECT_EQ(bad_url->wait(budget(0)), 2);
  EXPECT_NE(bad_url->err().find("--redis"), std::string::npos) << bad_url->err();
}

TEST(WorkerTest, RedisRestartedMidRunLosesNoJobAndNoResult) {
  Scratch s("worker-redis-restart");
  RedisServer redis(s);
  const double sleep_ms = std::max(1000.0, 20 * job_ms());
  constexpr size_t kJobs = 8;
  std::vector<nlohmann::json> jobs;
  for (size_t i = 0; i < kJobs; ++i) jobs.push_back(sh_job("r" + std::to_string(i), "sleep " + seconds_text(sleep_ms)));
  auto worker = start_worker(s, redis, "w", {"--parallel", "2"});
  auto submit = start_submit(s, redis, "submit", s.write_jobs("jobs.jsonl", jobs), {});
  ASSERT_EQ(submit->wait(budget(kJobs)), 0) << submit->err();
  auto c = redis.client();
  ASSERT_TRUE(eventually([&] { return pending(*c).size() == 2; }, budget(kJobs))) << worker->err();
  // Away (SIGKILL) while two jobs run and finish: their results wait in the worker.
  redis.stop();
  std::this_thread::sleep_for(milliseconds(static_cast<int64_t>(2 * sleep_ms)));
  redis.restart();  // the AOF brings back the stream, the group and its pending list
  c = redis.client();
  ASSERT_TRUE(eventually([&] { return integer(*c, {"XLEN", kKeys.results}) == static_cast<long long>(kJobs) && pending(*c).empty(); },
                         budget(kJobs, sleep_ms)))
      << worker->err();
  for (const auto& j : jobs) {
    Reply r = c->command({"GET", kKeys.result(j["id"])});
    ASSERT_FALSE(is_nil(r.get())) << j["id"];
    EXPECT_EQ(nlohmann::json::parse(reply_string(r.get()))["status"], "exited") << reply_string(r.get());
  }
  // Logged once, not at each retry of the outage (several, with backoff from 100 ms), and once back.
  const std::string log = worker->err();
  size_t gone = 0;
  for (size_t at = log.find("trying again with backoff"); at != std::string::npos; at = log.find("trying again with backoff", at + 1)) ++gone;
  EXPECT_EQ(gone, 1u) << log;
  EXPECT_NE(log.find("Redis answers again"), std::string::npos) << log;
}

// `submit --wait` outlasts a restart of Redis: the jobs and results are in its AOF, and the
// worker writes what finished meanwhile when it is back; the submitter waits for that instead
// of leaving with the results unprinted.
TEST(WorkerTest, SubmitWaitOutlastsARedisRestart) {
  Scratch s("worker-submit-restart");
  RedisServer redis(s);
  const double sleep_ms = std::max(1000.0, 20 * job_ms());
  auto worker = start_worker(s, redis, "w");
  auto submit = start_submit(s, redis, "submit", s.write_jobs("jobs.jsonl", {sh_job("slow", "sleep " + seconds_text(sleep_ms))}));
  ASSERT_TRUE(eventually([&] { return worker->err().find("\"slow\" started") != std::string::npos; }, budget(1)))
      << worker->err();
  redis.stop();
  std::this_thread::sleep_for(milliseconds(static_cast<int64_t>(2 * sleep_ms)));  // the job ends meanwhile
  redis.restart();
  ASSERT_EQ(submit->wait(budget(1, sleep_ms)), 0) << submit->err() << worker->err();
  auto by_id = results_by_id(submit->out());
  ASSERT_EQ(by_id.size(), 1u) << submit->out();
  EXPECT_EQ(by_id["slow"]["status"], "exited") << by_id["slow"].dump();
  EXPECT_NE(submit->err().find("waiting for Redis to answer again"), std::string::npos) << submit->err();
  EXPECT_NE(submit->err().find("Redis answers again"), std::string::npos) << submit->err();
}

TEST(WorkerTest, HighPriorityJobsStartBeforeWaitingLowOnes) {
  Scratch s("worker-priority");
  RedisServer redis(s);
  const double sleep_ms = std::max(1000.0, 20 * job_ms());
  auto worker = start_worker(s, redis, "w", {"--parallel", "1"});
  auto first = start_submit(s, redis, "first", s.write_jobs("first.jsonl", {sh_job("blocker", "sleep " + seconds_text(sleep_ms))}), {});
  ASSERT_EQ(first->wait(budget(1)), 0) << first->err();
  auto c = redis.client();
  ASSERT_TRUE(eventually([&] { return pending(*c).size() == 1; }, budget(1))) << worker->err();
  // While the one slot is busy: low ones first, then a normal and a high one.
  std::vector<nlohmann::json> jobs;
  for (int i = 0; i < 3; ++i) {
    auto j = sh_job("low" + std::to_string(i), "true");
    j["priority"] = -5;
    jobs.push_back(j);
  }
  jobs.push_back(sh_job("normal", "true"));
  auto high = sh_job("high", "true");
  high["priority"] = 10;
  jobs.push_back(high);
  auto rest = start_submit(s, redis, "rest", s.write_jobs("rest.jsonl", jobs), {});
  ASSERT_EQ(rest->wait(budget(5)), 0) << rest->err();
  EXPECT_EQ(integer(*c, {"XLEN", kKeys.jobs_low}), 3);
  EXPECT_EQ(integer(*c, {"XLEN", kKeys.jobs_high}), 1);
  ASSERT_TRUE(eventually([&] { return integer(*c, {"XLEN", kKeys.results}) == 6; }, budget(6, sleep_ms))) << worker->err();
  // With one slot, results come in the order jobs started.
  std::vector<std::string> order;
  Reply all = c->command({"XRANGE", kKeys.results, "-", "+"});
  for (size_t i = 0; i < all->elements; ++i) order.push_back(reply_string(all->element[i]->element[1]->element[1]));
  EXPECT_EQ(order, (std::vector<std::string>{"blocker", "high", "normal", "low0", "low1", "low2"}));
  EXPECT_TRUE(pending(*c).empty());
}

// Anyone who can write to the stream can submit, so a worker checks the host paths of every job
// it reads against its own --allow-host-path: outside them the job is invalid, and says why.
TEST(WorkerTest, AJobNamingAHostPathTheWorkerDoesNotAllowIsInvalid) {
  Scratch s("worker-host-paths");
  RedisServer redis(s, "secret");
  const std::string jobs =
      nlohmann::json{{"id", "escape"}, {"command", {"/bin/sh", "-c", "echo x > /host/escaped"}},
                     {"mounts", {{{"source", s.path("")}, {"target", "/host"}, {"readonly", false}}}}}.dump() + "\n" +
      nlohmann::json{{"id", "inside"}, {"rootfs", kRootfs}, {"command", {"/bin/true"}}}.dump() + "\n";
  auto worker = start_worker(s, redis, "w", {"--allow-host-path", kRootfs});
  auto submit = start_submit(s, redis, "submit", s.write("jobs.jsonl", jobs));
  ASSERT_EQ(submit->wait(budget(2)), 0) << submit->err();
  std::map<std::string, nlohmann::json> by_id;
  for (const auto& r : json_lines(submit->out())) by_id[r["id"].get<std::string>()] = r;
  ASSERT_EQ(by_id.size(), 2u) << submit->out();
  EXPECT_EQ(by_id["escape"]["status"], "invalid_job");
  EXPECT_NE(by_id["escape"]["error"].get<std::string>().find("mounts[0].source"), std::string::npos) << by_id["escape"].dump();
  EXPECT_FALSE(std::filesystem::exists(s.path("escaped")));
  EXPECT_EQ(by_id["inside"]["status"], "exited") << by_id["inside"].dump();
}

TEST(WorkerTest, SubmitWaitPrintsEveryResultInvalidJobsIncluded) {
  Scratch s("worker-submit");
  RedisServer redis(s, "secret");
  std::string jobs = R"({"id":"ok","command":["/bin/sh","-c","echo hi"]})" "\n"
                     R"({"command":["/bin/true"]})" "\n"                      // no id: submit gives it one
                     R"({"id":"typo","command":["/bin/true"],"wall_tme":5})" "\n"  // the worker names the field
                     "not json\n";                                                  // submit itself says so
  auto worker = start_worker(s, redis, "w");
  auto submit = start_submit(s, redis, "submit", s.write("jobs.jsonl", jobs));
  ASSERT_EQ(submit->wait(budget(4)), 0) << submit->err();
  auto results = json_lines(submit->out());
  ASSERT_EQ(results.size(), 4u) << submit->out();
  std::map<size_t, nlohmann::json> by_line;
  for (const auto& r : results) by_line[r["line"].get<size_t>()] = r;
  EXPECT_EQ(by_line[1]["id"], "ok");
  EXPECT_EQ(by_line[1]["stdout"], "hi\n");
  EXPECT_EQ(by_line[2]["status"], "exited");
  EXPECT_FALSE(by_line[2]["id"].get<std::string>().empty());
  EXPECT_EQ(by_line[3]["status"], "invalid_job");
  EXPECT_NE(by_line[3]["error"].get<std::string>().find("wall_tme"), std::string::npos) << by_line[3].dump();
  EXPECT_EQ(by_line[4]["status"], "invalid_job");
  EXPECT_EQ(::waitpid(worker->pid(), nullptr, WNOHANG), 0) << worker->err();  // an invalid job is not a crash
}

}  // namespace
}  // namespace cellblock::test
