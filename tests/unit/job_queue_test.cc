// The queue with a fake runner (no kernel): every job gets exactly one result, the parallel
// bound and priority order hold, cancel, queue timeouts and shutdown work.
#include "jobs/queue/job_queue.h"

#include "executor/base/unique_fd.h"

#include <poll.h>
#include <sys/eventfd.h>

#include <boost/asio/post.hpp>
#include <future>
#include <limits>
#include <thread>

#include <gmock/gmock.h>

namespace cellblock {
namespace {

using namespace std::chrono_literals;

// A wall time that marks a job held until FakeRunner::release(): a test decides when it ends.
constexpr uint64_t kHeld = std::numeric_limits<uint64_t>::max();

// Runs a "job" by sleeping `wall_time_ms` / 10 ms (or, held, until released), or until stopped.
// Records concurrency.
class FakeRunner : public JobRunner {
 public:
  Result run(const JobSpec& job, const StopToken* stop, OutputListener*) override {
    int now = ++running_;
    int seen = max_running_;
    while (now > seen && !max_running_.compare_exchange_weak(seen, now)) {}
    {
      std::lock_guard lock(mutex_);
      started_.push_back(job.id);
    }
    Result r;
    r.id = job.id;
    r.status = Status::exited;
    r.exit_code = 0;
    const bool held = job.limits.wall_time_ms == kHeld;
    pollfd p[2] = {{stop->fd(), POLLIN, 0}, {release_.get(), POLLIN, 0}};
    ::poll(p, held ? 2 : 1, held ? -1 : static_cast<int>(job.limits.wall_time_ms / 10));
    if (p[0].revents & POLLIN) r.status = Status::cancelled;
    --running_;
    return r;
  }
  // Ends every held job (and any held later).
  void release() { ::eventfd_write(release_.get(), 1); }
  std::vector<std::string> started() {
    std::lock_guard lock(mutex_);
    return started_;
  }
  std::atomic<int> running_{0}, max_running_{0};

 private:
  std::mutex mutex_;
  std::vector<std::string> started_;
  UniqueFd release_{::eventfd(0, EFD_CLOEXEC)};
};

// Waits, without a deadline of its own, until `pred` holds: the order of events is the point of
// these tests, not their speed, and ctest's timeout ends a test that never gets there.
template <typename Pred>
void wait_until(Pred pred) {
  while (!pred()) std::this_thread::sleep_for(1ms);
}

Submission fake(const std::string& id, uint64_t ms, std::vector<Result>* results, std::mutex* m, int priority = 0) {
  Submission s;
  s.job.id = id;
  s.job.limits.wall_time_ms = ms * 10;
  s.job.limits.memory_bytes = 1 << 20;
  s.priority = priority;
  s.on_done = [results, m](Result& r) {
    std::lock_guard lock(*m);
    results->push_back(r);
  };
  return s;
}

TEST(JobQueue, EveryJobGetsExactlyOneResultWithinTheParallelBound) {
  FakeRunner runner;
  std::vector<Result> results;
  std::mutex m;
  {
    JobQueue q(runner, {.parallel = 3, .memory_budget = 1ull << 30});
    // 20 ms each: long enough that three overlap even when the machine is busy.
    for (int i = 0; i < 50; ++i) q.submit(fake("j" + std::to_string(i), 20, &results, &m));
    q.wait_idle();
    EXPECT_EQ(q.counts().done, 50u);
    EXPECT_EQ(q.counts().running, 0u);
    EXPECT_EQ(q.counts().waiting, 0u);
  }
  ASSERT_EQ(results.size(), 50u);
  std::set<std::string> ids;
  for (auto& r : results) ids.insert(r.id);
  EXPECT_EQ(ids.size(), 50u);
  EXPECT_EQ(runner.max_running_.load(), 3);
}

TEST(JobQueue, StartsByPriorityThenArrival) {
  FakeRunner runner;
  std::vector<Result> results;
  std::mutex m;
  JobQueue q(runner, {.parallel = 1, .memory_budget = 1ull << 30});
  // "first" occupies the only slot until it is cancelled, while the rest queue up behind it.
  uint64_t first = q.submit(fake("first", 10'000, &results, &m));
  wait_until([&] { return runner.running_ == 1; });
  q.submit(fake("low", 1, &results, &m, -1));
  q.submit(fake("normal-a", 1, &results, &m, 0));
  q.submit(fake("high", 1, &results, &m, 10));
  q.submit(fake("normal-b", 1, &results, &m, 0));
  wait_until([&] { return q.counts().waiting == 4; });
  q.cancel(first);
  q.wait_idle();
  EXPECT_THAT(runner.started(), ::testing::ElementsAre("first", "high", "normal-a", "normal-b", "low"));
}

TEST(JobQueue, CancelWaitingAndRunningJobs) {
  FakeRunner runner;
  std::vector<Result> results;
  std::mutex m;
  JobQueue q(runner, {.parallel = 1, .memory_budget = 1ull << 30});
  uint64_t running = q.submit(fake("running", 10'000, &results, &m));
  uint64_t waiting = q.submit(fake("waiting", 1, &results, &m));
  wait_until([&] { return runner.running_ == 1 && q.counts().waiting == 1; });
  q.cancel(waiting, "not needed");
  q.cancel(running, "too slow");
  q.wait_idle();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].id, "waiting");
  EXPECT_EQ(results[0].status, Status::cancelled);
  EXPECT_EQ(results[0].error, "not needed");
  EXPECT_EQ(results[1].id, "running");
  EXPECT_EQ(results[1].status, Status::cancelled);
  EXPECT_EQ(results[1].error, "too slow");
}

TEST(JobQueue, QueueTimeoutEndsAJobThatWaitedTooLong) {
  FakeRunner runner;
  std::vector<Result> results;
  std::mutex m;
  JobQueue q(runner, {.parallel = 1, .memory_budget = 1ull << 30});
  q.submit(fake("blocker", 300, &results, &m));
  Submission late = fake("late", 1, &results, &m);
  late.queue_timeout_ms = 50;
  q.submit(std::move(late));
  q.wait_idle();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].id, "late");
  EXPECT_EQ(results[0].status, Status::queue_timeout);
  EXPECT_THAT(*results[0].error, ::testing::HasSubstr("waited 50 ms"));
}

TEST(JobQueue, AJobBiggerThanTheBudgetIsRefusedWithTheReason) {
  FakeRunner runner;
  std::vector<Result> results;
  std::mutex m;
  JobQueue q(runner, {.parallel = 2, .memory_budget = 100 << 20});
  Submission big = fake("big", 1, &results, &m);
  big.job.limits.memory_bytes = 200 << 20;
  q.submit(std::move(big));
  q.submit(fake("small", 1, &results, &m));
  q.wait_idle();
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].status, Status::setup_error);
  EXPECT_THAT(*results[0].error, ::testing::HasSubstr("limits.memory_bytes"));
  EXPECT_EQ(results[1].status, Status::exited);
}

TEST(JobQueue, APodsServicesCountInItsMemory) {
  FakeRunner runner;
  std::vector<Result> results;
  std::mutex m;
  JobQueue q(runner, {.parallel = 8, .memory_budget = 4 << 20});
  // 1 MiB of its own and 1 MiB for its service: two pods fit in 4 MiB, not four.
  for (int i = 0; i < 8; ++i) {
    Submission pod = fake("pod" + std::to_string(i), 20, &results, &m);
    pod.job.services.push_back(PodService{.name = "db", .command = {"db"}});
    pod.job.services.back().limits.memory_bytes = 1 << 20;
    q.submit(std::move(pod));
  }
  Submission big = fake("big", 1, &results, &m);
  big.job.services.push_back(PodService{.name = "db", .command = {"db"}});
  big.job.services.back().limits.memory_bytes = 4 << 20;  // 1 + 4 MiB: more than the budget
  q.submit(std::move(big));
  q.wait_idle();
  ASSERT_EQ(results.size(), 9u);
  EXPECT_EQ(runner.max_running_.load(), 2);
  const Result& refused = *std::find_if(results.begin(), results.end(), [](const Result& r) { return r.id == "big"; });
  EXPECT_EQ(refused.status, Status::setup_error);
  EXPECT_THAT(refused.error.value_or(""), ::testing::HasSubstr("with the pod's services"));
}

TEST(JobQueue, MemoryBudgetLimitsConcurrency) {
  FakeRunner runner;
  std::vector<Result> results;
  std::mutex m;
  JobQueue q(runner, {.parallel = 8, .memory_budget = 3 << 20});  // three 1 MiB jobs at a time
  for (int i = 0; i < 12; ++i) q.submit(fake("j" + std::to_string(i), 20, &results, &m));
  q.wait_idle();
  EXPECT_EQ(results.size(), 12u);
  EXPECT_EQ(runner.max_running_.load(), 3);
}

TEST(JobQueue, ShutdownLetsRunningJobsFinishWithinTheGrace) {
  FakeRunner runner;
  std::vector<Result> results;
  std::mutex m;
  JobQueue q(runner, {.parallel = 2, .memory_budget = 1ull << 30});
  // "quick" is held until the shutdown has begun, so neither queued job can take its slot
  // first, however slowly this thread runs (it did, once, under load).
  Submission quick = fake("quick", 0, &results, &m);
  quick.job.limits.wall_time_ms = kHeld;
  q.submit(std::move(quick));
  q.submit(fake("slow", 10'000, &results, &m));
  q.submit(fake("queued", 1, &results, &m));
  q.submit(fake("queued2", 1, &results, &m));
  wait_until([&] { return runner.running_ == 2; });
  q.shutdown(1s);
  // "quick" ends within the grace: a second leaves room for a busy machine.
  runner.release();
  q.wait_idle();
  std::map<std::string, Result> by_id;
  for (auto& r : results) by_id[r.id] = r;
  ASSERT_EQ(by_id.size(), 4u);
  EXPECT_EQ(by_id["quick"].status, Status::exited);
  EXPECT_EQ(by_id["slow"].status, Status::cancelled);
  EXPECT_THAT(*by_id["slow"].error, ::testing::HasSubstr("grace"));
  EXPECT_EQ(by_id["queued"].status, Status::cancelled);
  EXPECT_EQ(by_id["queued2"].status, Status::cancelled);
  // After shutdown nothing new starts.
  q.submit(fake("after", 1, &results, &m));
  q.wait_idle();
  EXPECT_EQ(results.back().status, Status::cancelled);
}

TEST(JobQueue, JobsSubmittedTogetherStartTogether) {
  FakeRunner runner;
  std::vector<Result> results;
  std::mutex m;
  JobQueue q(runner, {.parallel = 2, .memory_budget = 1ull << 30});
  const uint64_t blocker = q.submit(fake("blocker", 100'000, &results, &m));
  std::vector<Submission> pair;
  pair.push_back(fake("interactor", 100'000, &results, &m));
  pair.push_back(fake("solution", 100'000, &results, &m));
  const std::vector<uint64_t> ids = q.submit_together(std::move(pair));
  q.submit(fake("behind", 1, &results, &m));
  // One slot is free, but the pair needs two: neither starts, and nothing jumps the queue.
  wait_until([&] { return runner.running_ == 1 && q.counts().waiting == 3; });
  std::promise<void> submissions_seen;  // the io thread has taken all three submissions in
  boost::asio::post(q.io_context(), [&] { submissions_seen.set_value(); });
  submissions_seen.get_future().wait();
  EXPECT_THAT(runner.started(), ::testing::ElementsAre("blocker"));
  q.cancel(blocker);
  wait_until([&] { return runner.running_ == 2; });
  // Two worker threads: the pair starts in either order, but both, and nothing else.
  const std::vector<std::string> started = runner.started();
  ASSERT_EQ(started.size(), 3u);
  EXPECT_THAT(std::vector<std::string>(started.begin() + 1, started.end()),
              ::testing::UnorderedElementsAre("interactor", "solution"));
  ASSERT_EQ(ids.size(), 2u);
  for (uint64_t id : ids) q.cancel(id);
  q.wait_idle();
  // "behind" starts only after the pair; it may end before the second of the pair reports its
  // cancellation, so the order of the results says nothing.
  EXPECT_THAT(runner.started(), ::testing::ElementsAre("blocker", ::testing::_, ::testing::_, "behind"));
  ASSERT_EQ(results.size(), 4u);
  std::map<std::string, Status> status;
  for (const Result& r : results) status[r.id] = r.status;
  EXPECT_EQ(status["behind"], Status::exited);
  EXPECT_EQ(status["interactor"], Status::cancelled);
  EXPECT_EQ(status["solution"], Status::cancelled);
}

TEST(JobQueue, JobsThatCouldNeverStartTogetherAreRefusedWithTheReason) {
  FakeRunner runner;
  std::vector<Result> results;
  std::mutex m;
  JobQueue q(runner, {.parallel = 2, .memory_budget = 100 << 20});
  std::vector<Submission> three;
  for (const char* id : {"a", "b", "c"}) three.push_back(fake(id, 1, &results, &m));
  q.submit_together(std::move(three));
  std::vector<Submission> heavy;
  for (const char* id : {"d", "e"}) {
    heavy.push_back(fake(id, 1, &results, &m));
    heavy.back().job.limits.memory_bytes = 60 << 20;
  }
  q.submit_together(std::move(heavy));
  q.wait_idle();
  ASSERT_EQ(results.size(), 5u);
  for (const Result& r : results) EXPECT_EQ(r.status, Status::setup_error) << r.id;
  EXPECT_THAT(*results[0].error, ::testing::HasSubstr("3 jobs that must run at the same time"));
  EXPECT_THAT(*results[0].error, ::testing::HasSubstr("--parallel"));
  EXPECT_THAT(*results[3].error, ::testing::HasSubstr("memory budget"));
  EXPECT_TRUE(runner.started().empty());
}

TEST(JobQueue, ManySubmittingThreads) {
  FakeRunner runner;
  std::atomic<int> done{0};
  JobQueue q(runner, {.parallel = 4, .memory_budget = 1ull << 30});
  std::vector<std::thread> submitters;
  for (int t = 0; t < 4; ++t)
    submitters.emplace_back([&] {
      for (int i = 0; i < 250; ++i) {
        Submission s;
        s.job.limits.wall_time_ms = 0;
        s.on_done = [&](Result&) { done++; };
        q.submit(std::move(s));
      }
    });
  for (auto& t : submitters) t.join();
  q.wait_idle();
  EXPECT_EQ(done.load(), 1000);
}

}  // namespace
}  // namespace cellblock
