// 500 mixed jobs through the queue with parallel 4: quick ones, sleepers, failing ones and
// hostile programs (fork bomb, memory bomb, output flood, a daemon) under their limits. Every
// job has exactly one result, the one its kind should get, and the host's cgroups, mounts and
// processes and the supervisor's fds, threads and state files are the same before and after.
#include <gmock/gmock.h>

#include "tests/integration/queue_test_util.h"

namespace cellblock::test {
namespace {

struct Kind {
  std::string name;
  JobSpec job;
  std::function<void(const Result&)> check;  // EXPECTs on the result
};

std::vector<Kind> kinds(const std::string& marker) {
  std::vector<Kind> k;
  k.push_back({"echo", sh("echo ok"), [](const Result& r) {
                 EXPECT_EQ(r.status, Status::exited);
                 EXPECT_EQ(r.stdout_data, "ok\n");
               }});
  k.push_back({"daemon", with_programs(job({"/t/daemon", "/tmp/heartbeat-" + marker})), [](const Result& r) {
                 EXPECT_EQ(r.status, Status::exited);
                 EXPECT_EQ(r.exit_code, 0);
                 EXPECT_THAT(r.stdout_data, ::testing::HasSubstr("daemon STARTED"));
               }});
  k.push_back({"exit-3", sh("exit 3"), [](const Result& r) {
                 EXPECT_EQ(r.status, Status::exited);
                 EXPECT_EQ(r.exit_code, 3);
               }});
  k.push_back({"no-command", job({"/bin/nope"}), [](const Result& r) { EXPECT_EQ(r.status, Status::setup_error); }});
  k.push_back({"segv", sh("kill -SEGV $$"), [](const Result& r) {
                 EXPECT_EQ(r.status, Status::signaled);
                 EXPECT_EQ(r.signal, SIGSEGV);
               }});
  k.push_back({"sleeper", sh("sleep 0.2; : " + marker), [](const Result& r) {
                 EXPECT_EQ(r.status, Status::exited);
                 EXPECT_GE(r.stats.wall_time_ms, 200);
               }});
  JobSpec over = sh("sleep 10; : " + marker);
  over.limits.wall_time_ms = 150;
  k.push_back({"over-wall", over, [](const Result& r) { EXPECT_EQ(r.status, Status::wall_time_limit); }});
  JobSpec bomb = with_programs(sh("/t/fork_bomb; : " + marker));
  bomb.limits.pids = 32;
  bomb.limits.cpus = 0.5;  // the machine has two cores and other tests to run
  bomb.limits.wall_time_ms = 200;
  k.push_back({"fork-bomb", bomb, [](const Result& r) {
                 EXPECT_EQ(r.status, Status::wall_time_limit);
                 EXPECT_LE(r.stats.pids_peak, 32u);
               }});
  JobSpec hog = with_programs(job({"/t/memory_bomb"}));
  hog.limits.memory_bytes = 32 << 20;
  k.push_back({"memory-bomb", hog, [](const Result& r) {
                 EXPECT_EQ(r.status, Status::memory_limit);
                 EXPECT_GE(r.stats.oom_kills, 1u);
               }});
  JobSpec flood = with_programs(job({"/t/output_flood"}));
  flood.limits.output_bytes = 64 << 10;
  k.push_back({"output-flood", flood, [](const Result& r) {
                 EXPECT_EQ(r.status, Status::output_limit);
                 EXPECT_TRUE(r.stdout_truncated);
                 EXPECT_LE(r.stdout_data.size(), 64u << 10);
               }});
  for (auto& kind : k) kind.job.limits.memory_bytes = std::min<uint64_t>(kind.job.limits.memory_bytes, 128 << 20);
  return k;
}

TEST(QueueMixed, FiveHundredJobsOfEveryKindWithParallelFour) {
  constexpr int kJobs = 500;
  quiet_logs();
  const std::string marker = unique_marker("mixed");
  const std::vector<Kind> kind = kinds(marker);
  warm_up();  // the first job opens what the executor keeps for its lifetime
  const HostSnapshot before = HostSnapshot::take();
  ASSERT_TRUE(host_processes_with(marker).empty());

  std::vector<std::vector<Result>> results(kJobs);
  std::mutex m;
  const auto started = std::chrono::steady_clock::now();
  {
    ExecutorRunner runner(executor());
    JobQueue queue(runner, {.parallel = 4, .memory_budget = 1ull << 30});
    for (int n = 0; n < kJobs; ++n) {
      Submission s;
      s.job = kind[n % kind.size()].job;
      s.job.id = kind[n % kind.size()].name + "-" + std::to_string(n);
      s.on_done = [&, n](Result& r) {
        std::lock_guard lock(m);
        results[n].push_back(r);
      };
      queue.submit(std::move(s));
    }
    wait_idle_or_abort(queue, std::chrono::seconds(600));
  }
  const double seconds = seconds_since(started);

  std::map<Status, int> statuses;
  for (int n = 0; n < kJobs; ++n) {
    ASSERT_EQ(results[n].size(), 1u) << "job " << n;
    const Result& r = results[n][0];
    const Kind& k = kind[n % kind.size()];
    EXPECT_EQ(r.id, k.name + "-" + std::to_string(n));
    SCOPED_TRACE(describe(r));
    k.check(r);
    statuses[r.status]++;
  }
  EXPECT_EQ(statuses[Status::internal_error], 0);
  EXPECT_TRUE(host_processes_with(marker).empty());
  expect_same_host(before, HostSnapshot::take());
  std::cout << "queue mixed: " << kJobs << " jobs (" << kind.size() << " kinds), parallel 4, in " << seconds << " s"
            << std::endl;
}

}  // namespace
}  // namespace cellblock::test
