// `cellblock worker --metrics-listen`: Prometheus text that promtool accepts, with the values a
// worker's jobs and a Redis outage make: jobs by status, running now, slots, results spooled
// while Redis is away, Redis up, the last heartbeat. Scraped with curl; a real redis-server.
#include <gtest/gtest.h>

#include <chrono>
#include <regex>

#include "tests/integration/service_test_util.h"
#include "tests/integration/worker_test_util.h"

namespace cellblock::test {
namespace {

// The worker's metrics address, from its log line "metrics on http://HOST:PORT/metrics".
std::string metrics_url(const Spawned& worker) {
  std::smatch m;
  const std::string log = worker.err();
  if (!std::regex_search(log, m, std::regex("metrics on (http://[0-9.:]+/metrics)"))) return "";
  return m[1];
}

// One sample's value ("name{labels}" exactly as exposed), or NaN when it is not there.
double sample(const std::string& text, const std::string& series) {
  const size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return std::nan("");
  return std::stod(text.substr(at + series.size() + 2));
}

TEST(WorkerMetricsTest, CountsJobsSpoolAndRedisAndPassPromtool) {
  Scratch s("worker-metrics");
  RedisServer redis(s);
  auto worker = start_worker(s, redis, "w", {"--parallel", "2", "--metrics-listen", "127.0.0.1:0"});
  std::string url;
  ASSERT_TRUE(eventually([&] { return !(url = metrics_url(*worker)).empty(); }, budget(0))) << worker->err();
  auto scrape = [&] { return "\n" + curl(s, {url}).body; };

  const double before = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  // Two jobs that exit, one that exits 3 (still "exited"), and one the worker cannot read.
  std::vector<nlohmann::json> jobs{sh_job("a", "true"), sh_job("b", "true"), sh_job("c", "exit 3"),
                                   {{"id", "bad"}, {"command", {"true"}}, {"wall_tme", 1}}};
  auto submit = start_submit(s, redis, "submit", s.write_jobs("jobs.jsonl", jobs));
  ASSERT_EQ(submit->wait(budget(jobs.size())), 0) << submit->err() << worker->err();
  std::string text = scrape();
  EXPECT_EQ(sample(text, "cellblock_jobs_total{queue=\"q\",status=\"exited\"}"), 3) << text;
  EXPECT_EQ(sample(text, "cellblock_jobs_total{queue=\"q\",status=\"invalid_job\"}"), 1) << text;
  EXPECT_EQ(sample(text, "cellblock_worker_slots{queue=\"q\"}"), 2) << text;
  EXPECT_EQ(sample(text, "cellblock_worker_running_jobs{queue=\"q\"}"), 0) << text;
  EXPECT_EQ(sample(text, "cellblock_worker_spooled_results{queue=\"q\"}"), 0) << text;
  EXPECT_EQ(sample(text, "cellblock_redis_up{queue=\"q\"}"), 1) << text;
  EXPECT_EQ(sample(text, "cellblock_worker_duplicate_results_total{queue=\"q\"}"), 0) << text;
  // Heartbeats go every --claim-idle/4 (15 s by default): the first one may not have gone yet.
  ASSERT_TRUE(eventually([&] {
    text = scrape();
    return sample(text, "cellblock_worker_last_heartbeat_timestamp_seconds{queue=\"q\"}") >= before;
  }, budget(0) + milliseconds(15'000))) << text;
  Ran promtool = run_program(s, "promtool", {"/bin/sh", "-c", "promtool check metrics < " + s.write("metrics.txt", text.substr(1))});
  EXPECT_EQ(promtool.code, 0) << promtool.out << promtool.err;

  // A job running, then ending while Redis is away: running 1, then Redis down and one result
  // spooled; Redis back, the result written and the spool empty.
  const double sleep_ms = std::max(1000.0, 20 * job_ms());
  submit = start_submit(s, redis, "submit-2", s.write_jobs("jobs2.jsonl", {sh_job("slow", "sleep " + seconds_text(sleep_ms))}), {});
  ASSERT_EQ(submit->wait(budget(1)), 0) << submit->err();
  ASSERT_TRUE(eventually([&] { return sample(text = scrape(), "cellblock_worker_running_jobs{queue=\"q\"}") == 1; }, budget(1)))
      << text;
  redis.stop();
  ASSERT_TRUE(eventually([&] {
    text = scrape();
    return sample(text, "cellblock_worker_spooled_results{queue=\"q\"}") == 1 && sample(text, "cellblock_redis_up{queue=\"q\"}") == 0;
  }, budget(1, sleep_ms))) << text << worker->err();
  EXPECT_EQ(sample(text, "cellblock_worker_running_jobs{queue=\"q\"}"), 0) << text;
  EXPECT_EQ(sample(text, "cellblock_jobs_total{queue=\"q\",status=\"exited\"}"), 4) << text;
  redis.restart();
  ASSERT_TRUE(eventually([&] {
    text = scrape();
    return sample(text, "cellblock_worker_spooled_results{queue=\"q\"}") == 0 && sample(text, "cellblock_redis_up{queue=\"q\"}") == 1;
  }, budget(1))) << text << worker->err();
  EXPECT_FALSE(is_nil(redis.client()->command({"GET", kKeys.result("slow")}).get()));
  promtool = run_program(s, "promtool-2", {"/bin/sh", "-c", "promtool check metrics < " + s.write("metrics2.txt", text.substr(1))});
  EXPECT_EQ(promtool.code, 0) << promtool.out << promtool.err;
}

}  // namespace
}  // namespace cellblock::test
