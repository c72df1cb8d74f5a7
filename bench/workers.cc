// workers: what Redis Streams add to a job, `cellblock worker` against the in-process queue, in
// the same run (issue 14, "Bench").
//
//   workers [--jobs 300] [--rounds 3] [--latency-runs 100] [--workers 1,2,4] [--slots 1]
//           [--memory-jobs 10000] [--counts 1,10,100] [--rootfs DIR] [--redis-server PATH]
//           [--json FILE] [--markdown FILE] [--no-targets]
//
// A redis-server of its own (bench/redis_process.h: random port, temp directory, AOF on), and for
// each worker count K a queue `bench-K` served by K `cellblock worker` processes of --slots each,
// all started before anything is timed. Beside them, this process runs the in-process queue
// (JobQueue + Executor, as `cellblock batch` does) with K slots. The job is /bin/true in the
// busybox test rootfs, default policy. Jobs go to Redis the way `cellblock submit` and the front
// end send them (accept_jobs: XADD and NAME:job:<id> in one script), and results are read back
// from NAME:results (XREAD BLOCK), so the Redis path is timed from the first byte sent to the
// result seen by the submitter.
//   latency     --latency-runs jobs one at a time through each path, interleaved in blocks of 10
//               (in-process, K=1, K=2, K=4, in-process, ...); medians and p99.
//   throughput  --jobs jobs at once through each path with K slots, --rounds rounds interleaved
//               (in-process K, Redis K, for each K, then again); the median round's jobs/s and
//               the Redis-to-in-process ratio per K. Redis's own CPU time (INFO cpu) and
//               commands (INFO stats) per job are read around the Redis rounds, less what the
//               idle workers' blocking reads cost in the same time.
//   memory      --memory-jobs jobs queued on a queue no worker reads: INFO used_memory before and
//               after, MEMORY USAGE of the stream and of one NAME:job:<id>.
//   COUNT       XREADGROUP's batch size: --memory-jobs entries read by a fresh group with COUNT
//               1, 10, 100 (--counts): wall time and Redis CPU per entry.
// Target: the Redis round trips add at most 0.5 ms per job at the median (--target-ms): the
// median latency through one worker less the in-process median; the median of the differences of
// paired jobs (the i-th of each) is reported beside it.
// Exit status: 0 target met; 1 missed; 2 a job failed (the run stops there, naming it), bad usage
// or no Redis. --no-targets: only the last fail the run (the smoke tests).
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <iostream>
#include <map>
#include <mutex>
#include <set>

#include "bench/redis_process.h"
#include "bench/report_util.h"
#include "executor/executor.h"
#include "executor/protocol/step_clock.h"
#include "jobs/dispatch/job_records.h"
#include "jobs/format/job_json.h"
#include "jobs/format/policy_json.h"
#include "jobs/queue/job_queue.h"

namespace cellblock::bench {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

struct Options {
  size_t jobs = 300, rounds = 3, latency_runs = 100, slots = 1, memory_jobs = 10000;
  std::vector<size_t> workers{1, 2, 4};
  std::vector<size_t> counts{1, 10, 100};
  std::string rootfs = CELLBLOCK_BENCH_ROOTFS;
  std::string cellblock = CELLBLOCK_BENCH_BINARY;
  std::string redis_server = "/usr/bin/redis-server";
  double target_ms = 0.5;
  ReportOptions report;
};

double seconds_since(uint64_t t0_ns) { return static_cast<double>(monotonic_ns() - t0_ns) / 1e9; }

// The in-process queue: one Executor in this process and one JobQueue per slot count, as
// `cellblock batch --parallel K` runs them.
class LocalQueues {
 public:
  LocalQueues(const Options& o, const std::string& state_dir) : executor_(config(o, state_dir)), runner_(executor_) {
    job_.rootfs = o.rootfs;
    job_.command = {"/bin/true"};
    prepare_job(job_, policies_);
    for (size_t k : o.workers) queues_[k * o.slots] = std::make_unique<JobQueue>(runner_, QueueOptions{k * o.slots, 0});
  }
  int cgroup_version() const { return executor_.cgroup_version(); }

  // Submits n jobs at once to the queue of `slots` and waits for all; seconds. Throws when one failed.
  double run(size_t slots, size_t n) {
    std::mutex m;
    std::condition_variable all_done;
    size_t left = n;
    std::string failure;
    const uint64_t t0 = monotonic_ns();
    for (size_t i = 0; i < n; ++i) {
      Submission s;
      s.job = job_;
      s.on_done = [&](Result& r) {
        std::lock_guard lock(m);
        if ((r.status != Status::exited || r.exit_code != 0) && failure.empty())
          failure = std::string(to_string(r.status)) + " " + r.error.value_or("");
        if (--left == 0) all_done.notify_all();
      };
      queues_.at(slots)->submit(std::move(s));
    }
    std::unique_lock lock(m);
    all_done.wait(lock, [&] { return left == 0; });
    const double s = seconds_since(t0);
    if (!failure.empty()) throw std::runtime_error("an in-process job failed: " + failure);
    return s;
  }

 private:
  static ExecutorConfig config(const Options& o, const std::string& state_dir) {
    ExecutorConfig c;
    c.state_dir = state_dir;
    c.netns_pool = *std::max_element(o.workers.begin(), o.workers.end()) * o.slots + 1;
    return c;
  }
  Executor executor_;
  ExecutorRunner runner_;
  PolicyRegistry policies_;
  JobSpec job_;
  std::map<size_t, std::unique_ptr<JobQueue>> queues_;
};

// Queue bench-K and its K worker processes.
class WorkerQueue {
 public:
  WorkerQueue(const Options& o, const RedisProcess& redis, size_t k, const std::string& scratch)
      : keys_("bench-" + std::to_string(k)), redis_(redis.client()), k_(k) {
    for (size_t i = 0; i < k; ++i) {
      const std::string name = "w" + std::to_string(k) + "-" + std::to_string(i);
      workers_.push_back(std::make_unique<ChildProcess>(
          std::vector<std::string>{o.cellblock, "--state-dir", scratch + "/" + name, "--log-level", "warn", "worker",
                                   "--redis", redis.url_text(), "--queue", "bench-" + std::to_string(k), "--name", name,
                                   "--parallel", std::to_string(o.slots), "--defaults", scratch + "/defaults.json"},
          scratch + "/" + name + ".log"));
    }
  }
  const std::string& name() const { return keys_.jobs; }

  // Every worker listens for cancels (PUBSUB NUMSUB NAME:cancel): the last thing it does before
  // it reads jobs. (The group lists a consumer only once it has been given an entry.)
  void wait_ready() {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::minutes(2);
    for (;;) {
      for (auto& w : workers_)
        if (!w->running()) throw std::runtime_error("a worker of " + keys_.jobs + " ended: " + w->log_tail());
      Reply r = redis_->command({"PUBSUB", "NUMSUB", keys_.cancel});  // [channel, subscribers]
      if (r->elements == 2 && static_cast<size_t>(r->element[1]->integer) == k_) return;
      if (std::chrono::steady_clock::now() > give_up) throw std::runtime_error("the workers of " + keys_.jobs + " did not start");
      std::this_thread::sleep_for(milliseconds(50));
    }
  }

  // Queues n jobs as `cellblock submit` does and waits for their n results on NAME:results;
  // seconds from the first job sent to the last result read. Throws when one failed.
  double run(size_t n) {
    std::vector<NewJob> jobs;
    std::set<std::string> waiting;
    for (size_t i = 0; i < n; ++i) {
      jobs.push_back({keys_.jobs + "-" + std::to_string(next_id_++), keys_.jobs, ""});
      jobs.back().text = json{{"id", jobs.back().id}, {"command", {"/bin/true"}}}.dump();
      waiting.insert(jobs.back().id);
    }
    const uint64_t t0 = monotonic_ns();
    constexpr size_t kChunk = 500;  // as submit sends them
    for (size_t i = 0; i < n; i += kChunk) {
      std::vector<NewJob> chunk(jobs.begin() + static_cast<long>(i), jobs.begin() + static_cast<long>(std::min(n, i + kChunk)));
      if (auto taken = accept_jobs(*redis_, keys_, chunk, std::chrono::hours(1)))
        throw std::runtime_error("job id " + *taken + " taken");
    }
    while (!waiting.empty()) {
      Reply r = redis_->command({"XREAD", "COUNT", "1000", "BLOCK", "0", "STREAMS", keys_.results, last_result_});
      const redisReply* entries = r->element[0]->element[1];
      for (size_t i = 0; i < entries->elements; ++i) {
        const redisReply* e = entries->element[i];  // [entry id, [id, <id>, result, <json>]]
        last_result_ = reply_string(e->element[0]);
        const json result = json::parse(reply_string(e->element[1]->element[3]));
        if (result.value("status", "") != "exited" || result.value("exit_code", -1) != 0)
          throw std::runtime_error("a job through " + keys_.jobs + " failed: " + result.dump());
        waiting.erase(reply_string(e->element[1]->element[1]));
      }
    }
    return seconds_since(t0);
  }

  void stop() {
    for (auto& w : workers_) w->stop();
  }

 private:
  QueueKeys keys_;
  std::unique_ptr<RedisClient> redis_;
  size_t k_;
  std::vector<std::unique_ptr<ChildProcess>> workers_;
  size_t next_id_ = 0;
  std::string last_result_ = "0-0";
};

// What Redis itself spent between two readings: CPU seconds (user + sys) and commands.
struct RedisSpend {
  double cpu_s = 0, commands = 0;
  static RedisSpend now(RedisClient& redis) {
    return {redis_info(redis, "cpu", "used_cpu_user") + redis_info(redis, "cpu", "used_cpu_sys"),
            redis_info(redis, "stats", "total_commands_processed")};
  }
  RedisSpend operator-(const RedisSpend& before) const { return {cpu_s - before.cpu_s, commands - before.commands}; }
  RedisSpend operator+(const RedisSpend& more) const { return {cpu_s + more.cpu_s, commands + more.commands}; }
};

struct Memory {
  double used_per_job = 0, stream_per_job = 0, job_key = 0, job_json = 0;
  long long length = 0;
};

// Queues `n` jobs on bench-memory, which no worker reads, as submit does.
Memory measure_memory(RedisClient& redis, size_t n) {
  const QueueKeys keys("bench-memory");
  const double before = redis_info(redis, "memory", "used_memory");
  std::vector<NewJob> chunk;
  Memory m;
  for (size_t i = 0; i < n; ++i) {
    const std::string id = "bench-memory-" + std::to_string(i);
    chunk.push_back({id, keys.jobs, json{{"id", id}, {"command", {"/bin/true"}}}.dump()});
    m.job_json = static_cast<double>(chunk.back().text.size());
    if (chunk.size() == 500 || i + 1 == n) {
      accept_jobs(redis, keys, chunk, std::chrono::hours(1));
      chunk.clear();
    }
  }
  const double after = redis_info(redis, "memory", "used_memory");
  m.used_per_job = (after - before) / static_cast<double>(n);
  m.length = redis.command({"XLEN", keys.jobs})->integer;
  m.stream_per_job = static_cast<double>(redis.command({"MEMORY", "USAGE", keys.jobs, "SAMPLES", "0"})->integer) / static_cast<double>(n);
  m.job_key = static_cast<double>(redis.command({"MEMORY", "USAGE", keys.job("bench-memory-0")})->integer);
  return m;
}

struct CountCost {
  size_t count = 0;
  double wall_us = 0, cpu_us = 0;  // per entry
};

// Reads the n entries of bench-memory's stream with a fresh group per COUNT.
std::vector<CountCost> measure_counts(RedisClient& redis, const std::vector<size_t>& counts, size_t n) {
  const std::string stream = QueueKeys("bench-memory").jobs;
  std::vector<CountCost> out;
  for (size_t count : counts) {
    const std::string group = "count-" + std::to_string(count);
    redis.command({"XGROUP", "CREATE", stream, group, "0"});
    const RedisSpend before = RedisSpend::now(redis);
    const uint64_t t0 = monotonic_ns();
    for (size_t got = 0; got < n;) {
      Reply r = redis.command({"XREADGROUP", "GROUP", group, "reader", "COUNT", std::to_string(count), "STREAMS", stream, ">"});
      if (is_nil(r.get())) throw std::runtime_error(group + ": the stream ran dry after " + std::to_string(got) + " entries");
      got += r->element[0]->element[1]->elements;
    }
    const double wall = seconds_since(t0);
    const RedisSpend spent = RedisSpend::now(redis) - before;
    out.push_back({count, wall * 1e6 / static_cast<double>(n), spent.cpu_s * 1e6 / static_cast<double>(n)});
  }
  return out;
}

struct Path {
  std::string name;
  std::vector<double> latency_ms;
  std::vector<double> jobs_per_s;  // one per round (throughput)
};

int run(int argc, char** argv) {
  Options o;
  CLI::App app{"What Redis Streams add to a job: cellblock worker against the in-process queue"};
  app.add_option("--jobs", o.jobs, "Jobs per throughput round and path")->capture_default_str();
  app.add_option("--rounds", o.rounds, "Throughput rounds (the median counts)")->capture_default_str();
  app.add_option("--latency-runs", o.latency_runs, "Jobs one at a time per path")->capture_default_str();
  app.add_option("--workers", o.workers, "Worker process counts")->delimiter(',')->capture_default_str();
  app.add_option("--slots", o.slots, "--parallel of each worker")->capture_default_str();
  app.add_option("--memory-jobs", o.memory_jobs, "Jobs queued for the memory and COUNT figures")->capture_default_str();
  app.add_option("--counts", o.counts, "XREADGROUP COUNTs to compare")->delimiter(',')->capture_default_str();
  app.add_option("--rootfs", o.rootfs, "Root filesystem with /bin/true")->capture_default_str();
  app.add_option("--cellblock", o.cellblock, "The cellblock binary the workers run")->capture_default_str();
  app.add_option("--redis-server", o.redis_server, "redis-server to start")->capture_default_str();
  app.add_option("--target-ms", o.target_ms, "Most Redis may add per job at the median")->capture_default_str();
  add_report_options(app, o.report, "failed jobs");
  if (auto code = parse_or_exit(app, argc, argv)) return *code;
  if (o.workers.empty() || o.jobs == 0 || o.rounds == 0 || o.latency_runs == 0 || o.slots == 0) {
    std::cerr << "workers: --workers, --jobs, --rounds, --latency-runs and --slots must not be empty or 0\n";
    return 2;
  }

  const std::string scratch = "/run/cellblock/bench-workers-" + std::to_string(::getpid());
  std::filesystem::create_directories(scratch);
  RemoveAtEnd remove_at_end{scratch};  // declared first, so that it goes after the workers and Redis
  write_file(scratch + "/defaults.json", json{{"rootfs", o.rootfs}}.dump() + "\n");
  auto say = [&](const std::string& what) {
    if (o.report.progress) std::cerr << "workers: " << what << "\n";
  };

  RedisProcess redis(o.redis_server, scratch + "/redis");
  auto client = redis.client();
  const std::string redis_version = [&] {
    const std::string text = reply_string(client->command({"INFO", "server"}).get());
    const size_t at = text.find("redis_version:");
    return at == std::string::npos ? std::string("?") : text.substr(at + 14, text.find('\r', at) - at - 14);
  }();

  say("memory and COUNT: " + std::to_string(o.memory_jobs) + " jobs queued on a queue no worker reads");
  const Memory memory = measure_memory(*client, o.memory_jobs);
  const std::vector<CountCost> count_costs = measure_counts(*client, o.counts, o.memory_jobs);
  client->command({"DEL", QueueKeys("bench-memory").jobs});

  say("starting the workers");
  std::vector<std::unique_ptr<WorkerQueue>> queues;
  for (size_t k : o.workers) queues.push_back(std::make_unique<WorkerQueue>(o, redis, k, scratch));
  LocalQueues local(o, scratch + "/local");
  for (auto& q : queues) q->wait_ready();

  // Warm-up, not counted: each path's first jobs (page cache, pools).
  const size_t fewest = o.workers[0] * o.slots;  // the in-process queue's slots for jobs one at a time
  for (size_t i = 0; i < 5; ++i) {
    local.run(fewest, 1);
    for (auto& q : queues) q->run(1);
  }

  Path in_process{"in-process", {}, {}};
  std::vector<Path> through_redis;
  for (size_t k : o.workers) through_redis.push_back({std::to_string(k) + " worker" + (k > 1 ? "s" : ""), {}, {}});

  // One round trip to Redis on this host, in the same blocks: the unit of what the Redis path adds.
  std::vector<double> ping_ms;
  for (size_t done = 0; done < o.latency_runs;) {
    const size_t block = std::min<size_t>(10, o.latency_runs - done);
    for (size_t i = 0; i < block; ++i) in_process.latency_ms.push_back(local.run(fewest, 1) * 1e3);
    for (size_t q = 0; q < queues.size(); ++q)
      for (size_t i = 0; i < block; ++i) through_redis[q].latency_ms.push_back(queues[q]->run(1) * 1e3);
    for (size_t i = 0; i < block; ++i) {
      const uint64_t t0 = monotonic_ns();
      client->command({"PING"});
      ping_ms.push_back(seconds_since(t0) * 1e3);
    }
    done += block;
    if (o.report.progress) std::cerr << "\rworkers: latency " << done << "/" << o.latency_runs << std::flush;
  }
  if (o.report.progress) std::cerr << "\n";

  // What the idle workers' blocking reads cost Redis, per second, to take out of the rounds' figures.
  const RedisSpend idle_before = RedisSpend::now(*client);
  const uint64_t idle_t0 = monotonic_ns();
  std::this_thread::sleep_for(std::chrono::seconds(2));
  const RedisSpend idle = RedisSpend::now(*client) - idle_before;
  const double idle_s = seconds_since(idle_t0);

  std::map<size_t, std::vector<double>> local_jobs_per_s;  // by slots
  RedisSpend redis_spent;
  double redis_seconds = 0;
  size_t redis_jobs = 0;
  for (size_t round = 0; round < o.rounds; ++round) {
    for (size_t q = 0; q < queues.size(); ++q) {
      const size_t slots = o.workers[q] * o.slots;
      local_jobs_per_s[slots].push_back(static_cast<double>(o.jobs) / local.run(slots, o.jobs));
      const RedisSpend before = RedisSpend::now(*client);
      const double s = queues[q]->run(o.jobs);
      redis_spent = redis_spent + (RedisSpend::now(*client) - before);
      redis_seconds += s;
      redis_jobs += o.jobs;
      through_redis[q].jobs_per_s.push_back(static_cast<double>(o.jobs) / s);
    }
    say("throughput round " + std::to_string(round + 1) + "/" + std::to_string(o.rounds));
  }
  for (auto& q : queues) q->stop();
  redis.stop();

  // Per job, less the idle workers' share of the same seconds.
  const double cpu_us_per_job =
      std::max(0.0, redis_spent.cpu_s - idle.cpu_s / idle_s * redis_seconds) * 1e6 / static_cast<double>(redis_jobs);
  const double commands_per_job =
      std::max(0.0, redis_spent.commands - idle.commands / idle_s * redis_seconds) / static_cast<double>(redis_jobs);
  const double added_ms = median(through_redis[0].latency_ms) - median(in_process.latency_ms);
  // The same from jobs paired by their place in the interleaved blocks (the i-th in-process job
  // against the i-th through one worker).
  const double added_paired_ms = median_paired_difference(in_process.latency_ms, through_redis[0].latency_ms);
  const bool met = added_ms <= o.target_ms;

  json out = {{"date", utc_now()}, {"kernel", kernel_release()}, {"cgroup_version", local.cgroup_version()},
              {"redis_version", redis_version}, {"jobs", o.jobs}, {"rounds", o.rounds}, {"latency_runs", o.latency_runs},
              {"slots_per_worker", o.slots}, {"target_ms", o.target_ms}, {"added_ms_at_median", added_ms},
              {"added_ms_paired_median", added_paired_ms}, {"met", met},
              {"redis_cpu_us_per_job", cpu_us_per_job}, {"redis_commands_per_job", commands_per_job},
              {"redis_idle_commands_per_s", idle.commands / idle_s}, {"ping_median_ms", median(ping_ms)},
              {"memory", {{"jobs", o.memory_jobs}, {"stream_length", memory.length}, {"job_json_bytes", memory.job_json},
                          {"used_memory_per_job", memory.used_per_job}, {"stream_bytes_per_job", memory.stream_per_job},
                          {"job_key_bytes", memory.job_key}}},
              {"xreadgroup_count", json::array()}};
  std::string md = markdown_heading("cellblock worker on Redis against the in-process queue", out["date"], local.cgroup_version()) +
                   "- redis-server " + redis_version + " on 127.0.0.1, AOF on (everysec); workers of " +
                   std::to_string(o.slots) + " slot" + (o.slots > 1 ? "s" : "") + " each, started before timing\n"
                   "- `/bin/true` per job; latency: " + std::to_string(o.latency_runs) +
                   " jobs one at a time per path, interleaved; throughput: " + std::to_string(o.jobs) +
                   " jobs at once, median of " + std::to_string(o.rounds) + " interleaved rounds\n\n"
                   "| path | slots | median ms | p99 ms | jobs/s (median round) | jobs/s against in-process |\n"
                   "|---|---:|---:|---:|---:|---:|\n";
  const double local_one = median(local_jobs_per_s[o.workers[0] * o.slots]);
  md += markdown_row({"in-process queue (`cellblock batch`)", std::to_string(o.workers[0] * o.slots), fmt(median(in_process.latency_ms)),
                      fmt(percentile(in_process.latency_ms, 0.99)), fmt(local_one, 0), "1"});
  out["in_process"] = {{"median_ms", median(in_process.latency_ms)}, {"p99_ms", percentile(in_process.latency_ms, 0.99)},
                       {"latency_ms", in_process.latency_ms}, {"jobs_per_s_by_slots", json::object()}};
  for (auto& [slots, rounds] : local_jobs_per_s) out["in_process"]["jobs_per_s_by_slots"][std::to_string(slots)] = rounds;
  for (size_t q = 0; q < queues.size(); ++q) {
    const size_t slots = o.workers[q] * o.slots;
    const Path& p = through_redis[q];
    const double local_median = median(local_jobs_per_s[slots]), redis_median = median(p.jobs_per_s);
    if (q > 0)
      md += markdown_row({"in-process queue", std::to_string(slots), "", "", fmt(local_median, 0), "1"});
    md += markdown_row({p.name + " (`cellblock worker`)", std::to_string(slots), fmt(median(p.latency_ms)),
                        fmt(percentile(p.latency_ms, 0.99)), fmt(redis_median, 0), fmt(redis_median / local_median, 2)});
    out["workers"][std::to_string(o.workers[q])] = {
        {"slots", slots}, {"median_ms", median(p.latency_ms)}, {"p99_ms", percentile(p.latency_ms, 0.99)},
        {"latency_ms", p.latency_ms}, {"jobs_per_s", p.jobs_per_s}, {"in_process_jobs_per_s", local_jobs_per_s[slots]},
        {"ratio_to_in_process", redis_median / local_median},
        // Per job and slot: what the Redis path's wall time adds to the in-process queue's.
        {"added_ms_per_job_slot", (1 / redis_median - 1 / local_median) * 1e3 * static_cast<double>(slots)}};
  }
  md += "\nThe Redis round trips add " + fmt(added_ms, 3) + " ms per job at the median through one worker (target: at most " +
        fmt(o.target_ms, 1) + " ms): " + (met ? "met" : "**missed**") + "; the median of the paired differences is " +
        fmt(added_paired_ms, 3) + " ms. A `PING` round trip took " + fmt(median(ping_ms), 3) +
        " ms at the median in the same blocks; a job waits for two scripts in a row (the submitter's `EVAL` that adds it, the "
        "worker's that writes its result) and for three blocked readers to wake (the worker's `XREAD` with its read script "
        "behind it, its writer thread, the submitter's `XREAD`).\n"
        "Redis itself spent " + fmt(cpu_us_per_job, 0) + " µs of CPU and " + fmt(commands_per_job, 1) +
        " commands per job in the throughput rounds: one Redis core would feed about " +
        fmt(cpu_us_per_job > 0 ? 1e6 / cpu_us_per_job : 0, 0) + " jobs/s.\n\n"
        "Queued on a stream no worker reads, " + std::to_string(o.memory_jobs) + " jobs of " + fmt(memory.job_json, 0) +
        " bytes of JSON: stream length " + std::to_string(memory.length) + ", `used_memory` +" + fmt(memory.used_per_job, 0) +
        " bytes per job (the stream " + fmt(memory.stream_per_job, 0) + ", `NAME:job:<id>` " + fmt(memory.job_key, 0) + ").\n\n"
        "| XREADGROUP COUNT | wall µs per entry | Redis CPU µs per entry |\n|---:|---:|---:|\n";
  for (const CountCost& c : count_costs) {
    md += markdown_row({std::to_string(c.count), fmt(c.wall_us, 1), fmt(c.cpu_us, 1)});
    out["xreadgroup_count"].push_back({{"count", c.count}, {"wall_us_per_entry", c.wall_us}, {"redis_cpu_us_per_entry", c.cpu_us}});
  }
  std::cout << md;
  write_file(o.report.json_path, out.dump(2) + "\n");
  write_file(o.report.md_path, md);
  if (!met && o.report.targets) {
    std::cerr << "workers: Redis adds " << fmt(added_ms, 3) << " ms at the median, more than " << o.target_ms << " ms\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace cellblock::bench

int main(int argc, char** argv) { return cellblock::bench::main_guarded("workers", cellblock::bench::run, argc, argv); }
