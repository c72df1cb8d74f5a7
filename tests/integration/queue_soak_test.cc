// Soak (label `long`, binary long_tests, run by ci/soak, not by ci/test): 10,000 /bin/true jobs
// through one long-lived JobQueue and Executor, as a `cellblock serve` would run them. After
// every 1,000 the supervisor's resident memory is sampled and its fds, threads, mounts, job
// cgroups and state files are compared with those after the first 1,000: nothing may grow.
#include <gmock/gmock.h>

#include "tests/integration/queue_test_util.h"

namespace cellblock::test {
namespace {

// VmRSS of this process, in KiB.
uint64_t rss_kib() {
  std::istringstream status(read_file("/proc/self/status"));
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  return 0;
}

TEST(QueueSoak, TenThousandJobsLeaveMemoryAndHostFlat) {
  constexpr int kRounds = 10, kPerRound = 1000;
  quiet_logs();
  warm_up();  // the first job opens what the executor keeps for its lifetime
  const HostSnapshot before = HostSnapshot::take();
  const uint64_t rss_start = rss_kib();

  std::vector<uint64_t> rss;
  std::optional<HostSnapshot> first_round;
  std::atomic<int> results{0}, not_ok{0};
  const auto started = std::chrono::steady_clock::now();
  {
    ExecutorRunner runner(executor());
    JobQueue queue(runner, {.parallel = 4, .memory_budget = 1ull << 30});
    for (int round = 0; round < kRounds; ++round) {
      for (int i = 0; i < kPerRound; ++i) {
        Submission s;
        s.job = job({"/bin/true"});
        s.job.limits.memory_bytes = 64 << 20;
        s.on_done = [&](Result& r) {
          results++;
          if (r.status != Status::exited || r.exit_code != 0) not_ok++;
        };
        queue.submit(std::move(s));
      }
      wait_idle_or_abort(queue, std::chrono::seconds(600));
      rss.push_back(rss_kib());
      HostSnapshot now = HostSnapshot::take();
      if (!first_round) {
        first_round = now;
      } else {
        SCOPED_TRACE("after " + std::to_string((round + 1) * kPerRound) + " jobs");
        expect_same_host(*first_round, now);
      }
    }
  }
  const double seconds = seconds_since(started);
  EXPECT_EQ(results.load(), kRounds * kPerRound);
  EXPECT_EQ(not_ok.load(), 0);
  expect_same_host(before, HostSnapshot::take());

  std::string samples;
  for (size_t i = 0; i < rss.size(); ++i) samples += (i ? ", " : "") + std::to_string(rss[i]);
  std::cout << "queue soak: " << kRounds * kPerRound << " jobs in " << seconds << " s ("
            << kRounds * kPerRound / seconds << " jobs/s); VmRSS KiB at start " << rss_start << ", after each "
            << kPerRound << ": " << samples << std::endl;
  RecordProperty("seconds", std::to_string(seconds));
  RecordProperty("rss_kib_start", std::to_string(rss_start));
  RecordProperty("rss_kib_end", std::to_string(rss.back()));
  // Flat: from the first thousand (the queue's threads and their malloc arenas exist by then) to
  // the last, less than 1 MiB more. A leak of even 100 bytes per job would be 0.9 MiB here.
  EXPECT_LT(static_cast<int64_t>(rss.back()) - static_cast<int64_t>(rss.front()), 1024) << samples;
}

}  // namespace
}  // namespace cellblock::test
