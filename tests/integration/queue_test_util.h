// Helpers for the tests that push many jobs through a real JobQueue and Executor: a snapshot of
// what a supervisor could leak on the host, compared before and after.
#pragma once

#include <chrono>
#include <future>
#include <iostream>

#include <spdlog/spdlog.h>

#include "executor/cgroup/cgroup_impl.h"
#include "jobs/queue/job_queue.h"
#include "tests/integration/cell_test_util.h"

namespace cellblock::test {

// What this process (the supervisor) holds and what it made on the host.
struct HostSnapshot {
  std::set<std::string> fds;
  std::string mountinfo;
  std::vector<int> children;
  std::vector<std::string> job_cgroups;
  std::vector<std::string> state_files;  // in executor()'s state directory
  size_t threads = 0;

  static HostSnapshot take() {
    HostSnapshot s;
    s.fds = open_fds();
    s.mountinfo = read_file("/proc/self/mountinfo");
    s.children = children_of_this_process();
    s.job_cgroups = cellblock::test::job_cgroups();
    for (const auto& e : std::filesystem::directory_iterator("/run/cellblock/" + own_supervisor_dir_name()))
      s.state_files.push_back(e.path().filename());
    std::sort(s.state_files.begin(), s.state_files.end());
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/task")) ++s.threads;
    return s;
  }
};

inline void expect_same_host(const HostSnapshot& before, const HostSnapshot& after) {
  EXPECT_EQ(after.fds, before.fds);
  EXPECT_EQ(after.mountinfo, before.mountinfo);
  EXPECT_EQ(after.children, before.children);
  EXPECT_EQ(after.job_cgroups, before.job_cgroups);
  EXPECT_EQ(after.state_files, before.state_files);
  EXPECT_EQ(after.threads, before.threads);
}

// One job the way the queue runs it (Executor::run_async), so that what the executor keeps
// for its lifetime (the watching thread and its descriptors) exists before a snapshot.
// It waits for the cell's release too: the result may come before the cell is gone.
inline void warm_up() {
  const JobSpec j = sh("true");
  std::promise<Result> done;
  std::promise<void> released;
  executor().run_async(
      j, nullptr, nullptr, [&](Result r) { done.set_value(std::move(r)); }, [&] { released.set_value(); });
  const Result r = done.get_future().get();
  released.get_future().get();
  EXPECT_EQ(r.status, Status::exited) << describe(r);
}

// Waits for every result of `queue`; a queue that is not idle within `timeout` is a deadlock:
// the test says so and aborts (the queue's destructor would wait for ever).
inline void wait_idle_or_abort(JobQueue& queue, std::chrono::seconds timeout) {
  auto idle = std::async(std::launch::async, [&] { queue.wait_idle(); });
  if (idle.wait_for(timeout) != std::future_status::ready) {
    auto c = queue.counts();
    std::cerr << "the queue is not idle after " << timeout.count() << " s (waiting " << c.waiting << ", running "
              << c.running << ", done " << c.done << " of " << c.submitted << "): deadlock?" << std::endl;
    std::abort();
  }
}

// The product's default log level (the library's default is info: a line per job start and end).
inline void quiet_logs() { spdlog::set_level(spdlog::level::warn); }

inline double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace cellblock::test
