// 2,000 jobs from 4 submitting threads through a real JobQueue and Executor, some cancelled
// while they wait or run: no deadlock, no crash, exactly one result per job, and nothing left
// behind (fds, threads, children, cgroups, mounts, state files).
#include <gmock/gmock.h>

#include "tests/integration/queue_test_util.h"

namespace cellblock::test {
namespace {

TEST(QueueStress, TwoThousandJobsFromFourThreads) {
  constexpr int kThreads = 4, kPerThread = 500, kJobs = kThreads * kPerThread;
  quiet_logs();
  warm_up();  // the first job opens what the executor keeps for its lifetime
  const HostSnapshot before = HostSnapshot::take();

  std::vector<std::atomic<int>> results(kJobs);
  std::atomic<int> cancelled{0}, wrong{0};
  std::mutex m;
  std::vector<std::string> wrong_examples;
  const auto started = std::chrono::steady_clock::now();
  {
    ExecutorRunner runner(executor());
    JobQueue queue(runner, {.parallel = 4, .memory_budget = 1ull << 30});
    std::vector<std::thread> submitters;
    for (int t = 0; t < kThreads; ++t)
      submitters.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          const int n = t * kPerThread + i;
          const std::string id = "stress-" + std::to_string(n);
          Submission s;
          s.job = job({"/bin/echo", id});
          s.job.id = id;
          s.job.limits.memory_bytes = 64 << 20;
          s.priority = n % 3;
          s.on_done = [&, n, id](Result& r) {
            results[n]++;
            // A job cancelled after it ended is simply done; otherwise it ended cancelled.
            bool ok = (r.status == Status::exited && r.exit_code == 0 && r.stdout_data == id + "\n") ||
                      r.status == Status::cancelled;
            if (r.status == Status::cancelled) cancelled++;
            if (!ok || r.id != id) {
              wrong++;
              std::lock_guard lock(m);
              if (wrong_examples.size() < 5) wrong_examples.push_back(describe(r));
            }
          };
          uint64_t queue_id = queue.submit(std::move(s));
          // Every 25th job is cancelled at once: it may be waiting, running or done already.
          if (i % 25 == 0) queue.cancel(queue_id, "stress");
        }
      });
    for (auto& t : submitters) t.join();
    wait_idle_or_abort(queue, std::chrono::seconds(300));
    EXPECT_EQ(queue.counts().done, static_cast<size_t>(kJobs));
  }
  const double seconds = seconds_since(started);

  int missing = 0, doubled = 0;
  for (auto& r : results) {
    missing += r == 0;
    doubled += r > 1;
  }
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(doubled, 0);
  EXPECT_EQ(wrong.load(), 0) << ::testing::PrintToString(wrong_examples);
  EXPECT_LE(cancelled.load(), kJobs / 25);
  expect_same_host(before, HostSnapshot::take());
  std::cout << "queue stress: " << kJobs << " jobs from " << kThreads << " threads, parallel 4, in " << seconds
            << " s (" << kJobs / seconds << " jobs/s); " << cancelled.load() << " cancelled" << std::endl;
  RecordProperty("seconds", std::to_string(seconds));
}

}  // namespace
}  // namespace cellblock::test
