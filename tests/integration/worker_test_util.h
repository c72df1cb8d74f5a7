// What the tests of `cellblock worker` share (worker_test.cc, worker_spool_test.cc,
// worker_metrics_test.cc): workers and submitters as real processes of the real binary against
// a real redis-server (redis_server.h), and the queue "q" read back from Redis.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "jobs/dispatch/job_stream.h"
#include "jobs/dispatch/queue_keys.h"
#include "tests/integration/batch_test_util.h"
#include "tests/integration/calibration.h"
#include "tests/integration/redis_server.h"

namespace cellblock::test {

using std::chrono::milliseconds;

inline const QueueKeys kKeys("q");

// A test's own redis-server with queue "q"'s group made, and a client of it: for the tests that
// drive the stream commands themselves, without worker processes.
struct QueueOnRedis {
  explicit QueueOnRedis(const std::string& name) : scratch(name), redis(scratch), client(redis.client()) {
    ensure_group(*client, kKeys);
  }
  Scratch scratch;
  RedisServer redis;
  std::unique_ptr<RedisClient> client;
};

inline std::unique_ptr<Spawned> start_worker(const Scratch& s, const RedisServer& redis, const std::string& name,
                                             std::vector<std::string> more = {}) {
  std::vector<std::string> args{"--redis", redis.url(), "--queue", "q", "--name", name, "--defaults", s.defaults()};
  args.insert(args.end(), more.begin(), more.end());
  // As Serve does (service_test_util.h): the tests' jobs may name the test's own directories.
  if (std::find(more.begin(), more.end(), "--allow-host-path") == more.end()) args.insert(args.end(), {"--allow-host-path", "/"});
  return start_cellblock(s, "worker", name, args, s.global_args({"--log-level", "info"}));
}

inline std::unique_ptr<Spawned> start_submit(const Scratch& s, const RedisServer& redis, const std::string& name,
                                             const std::string& jobs_file, std::vector<std::string> more = {"--wait"}) {
  std::vector<std::string> args{"--redis", redis.url(), "--queue", "q", jobs_file};
  args.insert(args.end(), more.begin(), more.end());
  return start_cellblock(s, "submit", name, args);
}

// Time for `jobs` trivial jobs (or sleeps of `sleep_ms`) spread over the workers, with room for
// a loaded machine: only an upper bound that lets the work finish.
inline milliseconds budget(size_t jobs, double sleep_ms = 0) {
  return milliseconds(static_cast<int64_t>(60'000 + jobs * (20 * job_ms() + 2 * sleep_ms)));
}

// `sleep`'s argument: whole seconds, rounded up.
inline std::string seconds_text(double ms) { return std::to_string(static_cast<int64_t>(std::ceil(ms / 1000))); }

inline long long integer(RedisClient& c, const Command& argv) { return c.command(argv)->integer; }

// Results by id from submit's output; fails the test on an id seen twice.
inline std::map<std::string, nlohmann::json> results_by_id(const std::string& out) {
  std::map<std::string, nlohmann::json> by_id;
  for (const auto& j : json_lines(out)) {
    std::string id = j.value("id", "");
    EXPECT_TRUE(by_id.emplace(id, j).second) << "two results for " << id;
  }
  return by_id;
}

// Waits until `ready` or the budget is gone.
inline bool eventually(const std::function<bool()>& ready, milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (ready()) return true;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return ready();
}

// The entries of XPENDING's extended form: entry id -> (consumer, deliveries).
inline std::map<std::string, std::pair<std::string, long long>> pending(RedisClient& c) {
  std::map<std::string, std::pair<std::string, long long>> out;
  Reply r;
  try {
    r = c.command({"XPENDING", kKeys.jobs, QueueKeys::group, "-", "+", "1000"});
  } catch (const RedisError&) {
    return out;  // NOGROUP: no worker has made the group yet
  }
  for (size_t i = 0; i < r->elements; ++i) {
    const redisReply* row = r->element[i];
    out[reply_string(row->element[0])] = {reply_string(row->element[1]), row->element[3]->integer};
  }
  return out;
}

}  // namespace cellblock::test
