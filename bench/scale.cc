// scale: what one supervisor costs when it holds many jobs (issue 6, "Benchmarks").
//
//   scale [--jobs 1000] [--queue-parallel 2] [--concurrent 200] [--sleep-s 2]
//         [--json FILE] [--markdown FILE] [--no-targets]
//
// (a) A deep queue. --jobs jobs of /bin/true with the default limits are submitted at once to one
//     JobQueue with --queue-parallel workers, as `cellblock batch` would hold them. This
//     process's resident memory (VmRSS, VmHWM from /proc/self/status) is taken before the
//     submission, right after the last submit and at the end. The queue's cost is VmHWM at the
//     end (the peak over the whole run; reset after the warm-up job) minus VmRSS before.
//     Target: < 50 MiB (--rss-target-mib). Every job must end `exited` with code 0.
// (b) Many cells at once. A JobQueue with parallel = --concurrent and a memory budget that fits
//     them all runs --concurrent jobs of `/bin/sleep S`, each limited to 16 MiB and 8 pids.
//     Every job must end `exited` 0, and every cell must have been alive at the same moment.
//     The check for the latter needs no sampling: for each job the runner (below) notes when
//     the job went to the executor (b) and its result came back (a), and the cell reports how long it lived (w,
//     stats.wall_time_ms, from launch to the end of its init). The cell was surely alive
//     during [a - w, b + w]: it started no later than a - w and ended no earlier than b + w.
//     If the latest of the starts comes before the earliest of the ends, all cells were alive
//     together for at least that long. The queue's running count is sampled as well (it counts
//     jobs inside Executor::run, set-up and teardown included) and must reach --concurrent.
//     Wall time, peak RSS, threads and fds of this process and the host's limits that bear on
//     it (pid_max, threads-max, max_net_namespaces, RLIMIT_NOFILE, ...) are reported.
//
// Each part uses its own Executor with a pool of fresh network namespaces of parallel + 1, as
// `cellblock batch --parallel P` sets it, and runs one warm-up job first (not counted).
//
// Exit status: 0 every target met; 1 a target missed or a job failed (stderr says which);
// 2 bad usage or no executor. --no-targets: missed targets (memory, concurrency) no longer
// change the exit status (for smoke tests); failed jobs still do.
#include <dirent.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "bench/report_util.h"
#include "executor/executor.h"
#include "jobs/format/job_json.h"
#include "jobs/queue/job_queue.h"
#include "jobs/format/policy_json.h"

namespace cellblock::bench {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Settings {
  std::string rootfs = CELLBLOCK_BENCH_ROOTFS;
  std::string policy = "default";
  size_t jobs = 1000, queue_parallel = 2;
  size_t concurrent = 200;
  unsigned sleep_s = 2;
  unsigned cell_memory_mib = 16, cell_pids = 8;
  double rss_target_mib = 50;
  unsigned timeout_s = 300;  // per part
  bool targets_enforced = true;
};
// The JSON report's "settings": every field under its own name.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Settings, rootfs, policy, jobs, queue_parallel, concurrent, sleep_s, cell_memory_mib,
                                   cell_pids, rss_target_mib, timeout_s, targets_enforced)

double seconds_between(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double>(b - a).count(); }

size_t open_fds() {
  size_t n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
  }
  return n > 0 ? n - 1 : 0;  // the directory's own fd
}

// The host's limits that many cells at once may run into.
json host_limits() {
  json j;
  for (const char* path : {"/proc/sys/kernel/pid_max", "/proc/sys/kernel/threads-max", "/proc/sys/user/max_net_namespaces",
                           "/proc/sys/user/max_mnt_namespaces", "/proc/sys/user/max_pid_namespaces",
                           "/proc/sys/user/max_cgroup_namespaces", "/proc/sys/fs/nr_open"}) {
    std::string v = read_first_line(path);
    j[std::string(path).substr(10)] = v.empty() ? json(nullptr) : json(v);
  }
  rlimit nofile{}, nproc{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  getrlimit(RLIMIT_NPROC, &nproc);
  auto lim = [](rlim_t v) { return v == RLIM_INFINITY ? json("unlimited") : json(uint64_t(v)); };
  j["RLIMIT_NOFILE"] = {{"soft", lim(nofile.rlim_cur)}, {"hard", lim(nofile.rlim_max)}};
  j["RLIMIT_NPROC"] = {{"soft", lim(nproc.rlim_cur)}, {"hard", lim(nproc.rlim_max)}};
  return j;
}

// Runs jobs on an Executor and notes, per job, when run() was entered and left.
class TimedRunner : public JobRunner {
 public:
  explicit TimedRunner(Executor& e) : executor_(e) {}
  struct Span {
    Clock::time_point entered, left;
    double cell_ms = 0;
  };
  Result run(const JobSpec& job, const StopToken* stop, OutputListener*) override {
    const Clock::time_point entered = enter();
    Result r = executor_.run(job, stop);
    leave(job.id, entered, r);
    return r;
  }
  // As the queue runs jobs in a supervisor: launched here, watched by the executor's one
  // watching thread (executor/cell_watcher.h), so the threads measured are the product's.
  bool runs_async(const JobSpec& job) const override { return executor_.runs_async(job); }
  void run_async(const JobSpec& job, const StopToken* stop, OutputListener*, std::function<void(Result)> done,
                 std::function<void()> released) override {
    const Clock::time_point entered = enter();
    executor_.run_async(
        job, stop, nullptr,
        [this, &job, entered, done = std::move(done)](Result r) {
          leave(job.id, entered, r);
          done(std::move(r));
        },
        std::move(released));
  }
  std::optional<uint64_t> memory_limit() const override { return executor_.cgroups().memory_limit(); }
  size_t peak_inside() const { return peak_; }

 private:
  Clock::time_point enter() {
    const size_t now = ++inside_;
    for (size_t peak = peak_.load(); now > peak && !peak_.compare_exchange_weak(peak, now);) {
    }
    return Clock::now();
  }
  void leave(const std::string& id, Clock::time_point entered, const Result& r) {
    Span span{entered, Clock::now(), r.stats.wall_time_ms};
    --inside_;
    std::lock_guard lock(mutex_);
    spans_[id] = span;
  }

 public:
  // Forgets what ran so far (the warm-up job).
  void reset() {
    std::lock_guard lock(mutex_);
    spans_.clear();
    peak_ = inside_.load();
  }
  std::map<std::string, Span> spans() const {
    std::lock_guard lock(mutex_);
    return spans_;
  }

 private:
  Executor& executor_;
  std::atomic<size_t> inside_{0}, peak_{0};
  mutable std::mutex mutex_;
  std::map<std::string, Span> spans_;
};

// One part's run: what was submitted, how it ended, what this process looked like meanwhile.
struct PartResult {
  size_t submitted = 0, ok = 0;
  std::map<std::string, size_t> failures;  // "status: error" -> count
  ProcMemory before, after_submit, at_end;
  uint64_t max_rss_kib = 0;  // sampled while the jobs ran
  size_t max_running = 0, max_threads = 0, max_fds = 0, fds_before = 0;
  double submit_s = 0, total_s = 0;
  bool timed_out = false;
};

// How a job failed, with job and supervisor numbers in paths blanked out so that alike
// failures count together.
std::string failure_key(const Result& r) {
  std::string s(to_string(r.status));
  if (r.exit_code) s += " (exit " + std::to_string(*r.exit_code) + ")";
  if (r.error) {
    static const std::regex numbered("(job|sv)-[0-9-]+");
    s += ": " + std::regex_replace(*r.error, numbered, "$1-N");
  }
  return s;
}

JobSpec make_job(const Settings& s, PolicyRegistry& policies, std::vector<std::string> argv) {
  JobSpec job;
  job.rootfs = s.rootfs;
  job.command = std::move(argv);
  job.env["PATH"] = "/bin";
  job.policy = s.policy;
  prepare_job(job, policies);
  return job;
}

// Submits `count` jobs made by `make(i)` at once to `queue` (each made right before its submit,
// so the jobs the queue holds count in its cost), then samples this process every 10 ms until
// all are done.
PartResult run_part(const Settings& s, JobQueue& queue, size_t count, const std::function<JobSpec(size_t)>& make,
                    const char* what, bool progress) {
  PartResult p;
  std::mutex mutex;
  std::atomic<size_t> done{0};
  reset_peak_rss();
  p.before = proc_memory();
  p.fds_before = open_fds();
  const Clock::time_point t0 = Clock::now();
  for (size_t i = 0; i < count; ++i) {
    Submission sub;
    sub.job = make(i);
    sub.on_done = [&](Result& r) {
      {
        std::lock_guard lock(mutex);
        if (r.status == Status::exited && r.exit_code == 0) ++p.ok;
        else ++p.failures[failure_key(r)];
      }
      ++done;
    };
    queue.submit(std::move(sub));
    ++p.submitted;
  }
  p.after_submit = proc_memory();
  p.submit_s = seconds_between(t0, Clock::now());
  const Clock::time_point deadline = t0 + std::chrono::seconds(s.timeout_s);
  while (done < p.submitted) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const ProcMemory m = proc_memory();
    p.max_rss_kib = std::max(p.max_rss_kib, m.rss_kib);
    p.max_threads = std::max<size_t>(p.max_threads, m.threads);
    p.max_fds = std::max(p.max_fds, open_fds());
    p.max_running = std::max(p.max_running, queue.counts().running);
    if (progress) std::fprintf(stderr, "\rscale: %s: %zu/%zu done, %zu running   ", what, done.load(), p.submitted, queue.counts().running);
    if (Clock::now() > deadline && !p.timed_out) {
      p.timed_out = true;
      queue.shutdown(std::chrono::milliseconds(0));
    }
  }
  queue.wait_idle();
  p.total_s = seconds_between(t0, Clock::now());
  p.at_end = proc_memory();
  if (progress) std::fprintf(stderr, "\r\033[K");
  return p;
}

double mib(uint64_t kib) { return double(kib) / 1024.0; }

json part_json(const PartResult& p) {
  json failures = json::object();
  for (const auto& [k, v] : p.failures) failures[k] = v;
  return {{"submitted", p.submitted},
          {"exited_0", p.ok},
          {"failures", failures},
          {"timed_out", p.timed_out},
          {"seconds_to_submit", p.submit_s},
          {"seconds_total", p.total_s},
          {"rss_kib", {{"before", p.before.rss_kib}, {"after_submit", p.after_submit.rss_kib}, {"at_end", p.at_end.rss_kib},
                       {"max_sampled", p.max_rss_kib}, {"hwm_at_end", p.at_end.hwm_kib}}},
          {"max_running_sampled", p.max_running},
          {"threads", {{"before", p.before.threads}, {"max_sampled", p.max_threads}}},
          {"fds", {{"before", p.fds_before}, {"max_sampled", p.max_fds}}}};
}

struct Concurrency {
  size_t spans = 0;
  double overlap_ms = 0;      // how long all cells were surely alive together (< 0: not shown)
  double launch_spread_ms = 0;  // from the first entry into run() to the last
  double median_cell_ms = 0, max_cell_ms = 0;
  size_t peak_inside = 0;
};

Concurrency concurrency(const TimedRunner& runner) {
  Concurrency c;
  const auto spans = runner.spans();
  c.spans = spans.size();
  c.peak_inside = runner.peak_inside();
  if (spans.empty()) return c;
  Clock::time_point latest_start = Clock::time_point::min(), earliest_end = Clock::time_point::max();
  Clock::time_point first_entry = Clock::time_point::max(), last_entry = Clock::time_point::min();
  std::vector<double> cells;
  for (const auto& [id, sp] : spans) {
    const auto w = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, std::milli>(sp.cell_ms));
    latest_start = std::max(latest_start, sp.left - w);
    earliest_end = std::min(earliest_end, sp.entered + w);
    first_entry = std::min(first_entry, sp.entered);
    last_entry = std::max(last_entry, sp.entered);
    cells.push_back(sp.cell_ms);
  }
  c.overlap_ms = seconds_between(latest_start, earliest_end) * 1e3;
  c.launch_spread_ms = seconds_between(first_entry, last_entry) * 1e3;
  c.median_cell_ms = median(cells);
  c.max_cell_ms = max_of(cells);
  return c;
}

// The most frequent kinds of failure first, at most `kinds` of them.
std::string failures_text(const PartResult& p, size_t kinds = 5) {
  std::vector<std::pair<size_t, std::string>> by_count;
  for (const auto& [k, v] : p.failures) by_count.push_back({v, k});
  std::sort(by_count.begin(), by_count.end(), [](auto& a, auto& b) { return a.first > b.first; });
  std::string s;
  for (size_t i = 0; i < by_count.size() && i < kinds; ++i)
    s += (s.empty() ? "" : "; ") + std::to_string(by_count[i].first) + "× " + by_count[i].second;
  if (by_count.size() > kinds) s += "; and " + std::to_string(by_count.size() - kinds) + " more kinds (see the JSON)";
  return s;
}

std::string to_markdown(const Settings& s, const std::string& date, int cgroup_version, const json& limits,
                        const std::optional<PartResult>& a, const std::optional<PartResult>& b, const Concurrency& c,
                        const std::vector<std::string>& missed) {
  std::ostringstream md;
  md << markdown_heading("Scale: one supervisor, many jobs (bench/scale)", date, cgroup_version);
  md << "- one process, one JobQueue and one Executor per part (fresh network namespaces kept ready: parallel + 1, as "
        "`cellblock batch` does), policy `"
     << s.policy << "`, busybox rootfs; one warm-up job per part, not counted\n";
  auto limit = [&](const char* key) { return limits[key].is_string() ? limits[key].get<std::string>() : "?"; };
  md << "- host limits: pid_max " << limit("kernel/pid_max") << ", threads-max " << limit("kernel/threads-max")
     << ", max_net_namespaces " << limit("user/max_net_namespaces") << ", RLIMIT_NOFILE "
     << limits["RLIMIT_NOFILE"]["soft"].dump() << "/" << limits["RLIMIT_NOFILE"]["hard"].dump() << "\n";
  if (a) {
    md << "\n### " << s.jobs << " jobs queued at once, " << s.queue_parallel << " at a time\n\n";
    md << "`/bin/true`, default limits; this process's memory (MiB) from /proc/self/status; target: peak − before < "
       << fmt(s.rss_target_mib, 0) << " MiB.\n\n";
    md << "| VmRSS before | VmRSS after " << s.jobs << " submits | VmRSS at end | VmHWM (peak) | peak − before | "
          "submit time | total | jobs/s | exited 0 |\n";
    md << "|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    md << "| " << fmt(mib(a->before.rss_kib), 1) << " | " << fmt(mib(a->after_submit.rss_kib), 1) << " | "
       << fmt(mib(a->at_end.rss_kib), 1) << " | " << fmt(mib(a->at_end.hwm_kib), 1) << " | "
       << fmt(mib(a->at_end.hwm_kib) - mib(a->before.rss_kib), 1) << " | " << fmt(a->submit_s * 1e3, 1) << " ms | "
       << fmt(a->total_s, 2) << " s | " << fmt(a->total_s > 0 ? double(a->submitted) / a->total_s : 0, 0) << " | "
       << a->ok << "/" << a->submitted << " |\n";
    if (!a->failures.empty()) md << "\nFailures: " << failures_text(*a) << "\n";
  }
  if (b) {
    md << "\n### " << s.concurrent << " cells at once\n\n";
    md << "`/bin/sleep " << s.sleep_s << "`, " << s.cell_memory_mib << " MiB and " << s.cell_pids
       << " pids each; queue parallel = " << s.concurrent << ". \"All alive together\" is proven from when each job "
       << "went to the executor, when its result came back and the cell's own wall time (see bench/scale.cc), not sampled.\n\n";
    md << "| wall time | queue's running peak | all alive together for at least | launch spread | median cell wall | "
          "VmRSS before | VmHWM (peak) | threads peak | fds peak | exited 0 |\n";
    md << "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
    md << "| " << fmt(b->total_s, 2) << " s | " << b->max_running << " | "
       << (c.overlap_ms > 0 ? fmt(c.overlap_ms, 0) + " ms" : "no (" + fmt(c.overlap_ms, 0) + " ms)") << " | "
       << fmt(c.launch_spread_ms, 0) << " ms | " << fmt(c.median_cell_ms, 0) << " ms | "
       << fmt(mib(b->before.rss_kib), 1) << " MiB | " << fmt(mib(b->at_end.hwm_kib), 1) << " MiB | " << b->max_threads
       << " | " << b->max_fds << " | " << b->ok << "/" << b->submitted << " |\n";
    // The supervisor keeps fds per running cell (pipes, pidfd, cgroup files, a network namespace
    // waiting in the pool); a soft RLIMIT_NOFILE of 1024 is common, so say where that would end.
    const double per_cell = s.concurrent ? double(b->max_fds - std::min(b->max_fds, b->fds_before)) / double(s.concurrent) : 0;
    if (b->ok < b->submitted)  // failed jobs held no fds: no estimate per cell
      md << "\nFile descriptors: this process held up to " << b->max_fds << " against an RLIMIT_NOFILE soft limit of "
         << limits["RLIMIT_NOFILE"]["soft"].dump() << ".\n";
    else if (per_cell > 0)
      md << "\nFile descriptors: this process held up to " << b->max_fds << ", " << b->fds_before << " before the cells "
         << "started: about " << fmt(per_cell, 1) << " per running cell. Its RLIMIT_NOFILE soft limit was "
         << limits["RLIMIT_NOFILE"]["soft"].dump() << "; under a soft limit of 1024 about "
         << size_t(std::max(0.0, (1024.0 - double(b->fds_before)) / per_cell)) << " cells would fit at once.\n";
    if (!b->failures.empty()) md << "\nFailures: " << failures_text(*b) << "\n";
  }
  md << missed_markdown(missed);
  return md.str();
}

// A network namespace ready for every job that runs at once, and one to spare, as `cellblock
// batch` keeps them.
ExecutorConfig pooled_config(size_t parallel) {
  ExecutorConfig config;
  config.netns_pool = parallel + 1;
  return config;
}

int run(int argc, char** argv) {
  CLI::App app{"scale: one supervisor's memory with a deep queue, and many cells alive at once"};
  Settings s;
  ReportOptions r;
  app.add_option("--jobs", s.jobs, "part (a): /bin/true jobs submitted at once (0: skip)")->check(CLI::Range(0, 10'000'000));
  app.add_option("--queue-parallel", s.queue_parallel, "part (a): jobs run at once")->check(CLI::Range(1, 4096));
  app.add_option("--concurrent", s.concurrent, "part (b): sleeping cells at once (0: skip)")->check(CLI::Range(0, 100'000));
  app.add_option("--sleep-s", s.sleep_s, "part (b): how long each cell sleeps, s")->check(CLI::Range(1, 3600));
  app.add_option("--cell-memory-mib", s.cell_memory_mib, "part (b): memory limit per cell")->check(CLI::Range(4, 65'536));
  app.add_option("--cell-pids", s.cell_pids, "part (b): pids limit per cell")->check(CLI::Range(2, 65'536));
  app.add_option("--rss-target-mib", s.rss_target_mib, "part (a): the queue's cost must stay below this")->check(CLI::Range(1.0, 1e6));
  app.add_option("--timeout-s", s.timeout_s, "per part: cancel what is left after this long")->check(CLI::Range(1, 86'400));
  add_job_options(app, s.rootfs, s.policy);
  add_report_options(app, r, "failed jobs");
  if (auto rc = parse_or_exit(app, argc, argv)) return *rc;
  s.targets_enforced = r.targets;
  const std::string date = utc_now();
  const json limits = host_limits();
  PolicyRegistry policies;
  int cgroup_version = 0;
  std::vector<std::string> failures, missed;
  // One /bin/true with the part's limits, so that it fits the part's memory budget.
  auto warm_up = [&](JobQueue& queue, const JobSpec& like) {
    std::atomic<bool> ok{false};
    Submission sub;
    sub.job = like;
    sub.job.command = {"/bin/true"};
    sub.on_done = [&](Result& r) {
      ok = r.status == Status::exited && r.exit_code == 0;
      if (!ok) std::cerr << "scale: the warm-up job failed: " << failure_key(r) << "\n";
    };
    queue.submit(std::move(sub));
    queue.wait_idle();
    if (!ok) throw std::runtime_error("the warm-up job failed; nothing measured");
  };

  // (a) a deep queue
  std::optional<PartResult> a;
  if (s.jobs > 0) {
    Executor executor(pooled_config(s.queue_parallel));
    cgroup_version = executor.cgroup_version();
    ExecutorRunner runner(executor);
    JobQueue queue(runner, QueueOptions{s.queue_parallel, 0});
    const JobSpec job = make_job(s, policies, {"/bin/true"});
    warm_up(queue, job);
    a = run_part(s, queue, s.jobs, [&](size_t) { return job; }, "queue", r.progress);
    const double cost = mib(a->at_end.hwm_kib) - mib(a->before.rss_kib);
    std::cout << "queue: " << a->submitted << " jobs, " << s.queue_parallel << " at a time: VmRSS before "
              << fmt(mib(a->before.rss_kib), 1) << " MiB, after submitting " << fmt(mib(a->after_submit.rss_kib), 1)
              << ", at end " << fmt(mib(a->at_end.rss_kib), 1) << ", peak (VmHWM) " << fmt(mib(a->at_end.hwm_kib), 1)
              << ": cost " << fmt(cost, 1) << " MiB; " << a->ok << "/" << a->submitted << " exited 0 in "
              << fmt(a->total_s, 2) << " s\n";
    if (a->ok < a->submitted) failures.push_back("queue: " + std::to_string(a->submitted - a->ok) + " of " +
                                                 std::to_string(a->submitted) + " jobs did not exit 0: " + failures_text(*a));
    if (a->timed_out) failures.push_back("queue: not done after " + std::to_string(s.timeout_s) + " s; the rest was cancelled");
    if (cost >= s.rss_target_mib)
      missed.push_back("queue: the supervisor grew by " + fmt(cost, 1) + " MiB, target < " + fmt(s.rss_target_mib, 0) +
                       " MiB (" + fmt(cost - s.rss_target_mib, 1) + " MiB over)");
  }

  // (b) many cells at once
  std::optional<PartResult> b;
  Concurrency c;
  if (s.concurrent > 0) {
    Executor executor(pooled_config(s.concurrent));
    cgroup_version = executor.cgroup_version();
    TimedRunner runner(executor);
    const uint64_t cell_memory = uint64_t(s.cell_memory_mib) << 20;
    JobQueue queue(runner, QueueOptions{s.concurrent, cell_memory * s.concurrent});
    JobSpec sleeper = make_job(s, policies, {"/bin/sleep", std::to_string(s.sleep_s)});
    sleeper.limits.memory_bytes = cell_memory;
    sleeper.limits.pids = s.cell_pids;
    sleeper.limits.wall_time_ms = 1000ull * (s.sleep_s + 60);
    warm_up(queue, sleeper);
    runner.reset();
    auto make = [&](size_t i) {
      JobSpec job = sleeper;
      job.id = "sleep-" + std::to_string(i);  // TimedRunner's key
      return job;
    };
    b = run_part(s, queue, s.concurrent, make, "cells", r.progress);
    c = concurrency(runner);
    std::cout << "cells: " << b->submitted << " x sleep " << s.sleep_s << " s: wall " << fmt(b->total_s, 2)
              << " s, queue's running peak " << b->max_running << ", all alive together for at least "
              << fmt(c.overlap_ms, 0) << " ms (launch spread " << fmt(c.launch_spread_ms, 0) << " ms), VmRSS before "
              << fmt(mib(b->before.rss_kib), 1) << " MiB, peak " << fmt(mib(b->at_end.hwm_kib), 1) << " MiB, threads "
              << b->max_threads << ", fds " << b->max_fds << "; " << b->ok << "/" << b->submitted << " exited 0\n";
    if (b->ok < b->submitted) failures.push_back("cells: " + std::to_string(b->submitted - b->ok) + " of " +
                                                 std::to_string(b->submitted) + " jobs did not exit 0: " + failures_text(*b));
    if (b->timed_out) failures.push_back("cells: not done after " + std::to_string(s.timeout_s) + " s; the rest was cancelled");
    if (b->max_running < s.concurrent)
      missed.push_back("cells: the queue ran at most " + std::to_string(b->max_running) + " jobs at once, not " +
                       std::to_string(s.concurrent));
    if (c.spans < s.concurrent || c.overlap_ms <= 0)
      missed.push_back("cells: not all " + std::to_string(s.concurrent) + " cells were alive at the same time (" +
                       std::to_string(c.spans) + " ran; the latest start came " + fmt(-c.overlap_ms, 0) +
                       " ms after the earliest end)");
  }

  for (const std::string& f : failures) std::cerr << "scale: FAILED " << f << "\n";
  for (const std::string& m : missed) std::cerr << "scale: missed target: " << m << "\n";
  std::vector<std::string> not_met = failures;
  not_met.insert(not_met.end(), missed.begin(), missed.end());
  if (not_met.empty()) std::cout << "scale: all targets met\n";

  json j;
  j["schema"] = "cellblock-bench-scale/1";
  j["date"] = date;
  j["machine"] = {{"kernel", kernel_release()}, {"cgroup_version", cgroup_version}, {"limits", limits},
                  {"loadavg_at_end", read_first_line("/proc/loadavg")}};
  j["settings"] = s;
  if (a) {
    j["queue"] = part_json(*a);
    j["queue"]["cost_mib"] = mib(a->at_end.hwm_kib) - mib(a->before.rss_kib);
  }
  if (b) {
    j["cells"] = part_json(*b);
    j["cells"]["all_alive_together_ms"] = c.overlap_ms;
    j["cells"]["launch_spread_ms"] = c.launch_spread_ms;
    j["cells"]["median_cell_wall_ms"] = c.median_cell_ms;
    j["cells"]["max_cell_wall_ms"] = c.max_cell_ms;
    j["cells"]["max_inside_executor_run"] = c.peak_inside;
  }
  j["missed"] = not_met;
  j["all_targets_met"] = not_met.empty();
  write_file(r.json_path, j.dump(2) + "\n");
  write_file(r.md_path, to_markdown(s, date, cgroup_version, limits, a, b, c, not_met));
  if (!failures.empty()) return 1;
  return missed.empty() || !s.targets_enforced ? 0 : 1;
}

}  // namespace
}  // namespace cellblock::bench

int main(int argc, char** argv) {
  // As `cellblock` does at start (jobs/cli/main.cc): the soft open-files limit up to the hard one,
  // since every running cell holds about a dozen descriptors in the supervisor.
  struct rlimit nofile {};
  if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
  return cellblock::bench::main_guarded("scale", cellblock::bench::run, argc, argv);
}
