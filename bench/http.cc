// http: what the HTTP service adds to a job, and what go-judge's /run adds (issue 13, "Bench").
//
//   http [--runs 300] [--warmup 30] [--throughput 400] [--connections 2] [--parallel 2]
//        [--rootfs DIR] [--state-dir DIR] [--json FILE] [--markdown FILE] [--no-targets]
//
// One Executor in this process serves three front ends side by side, measured in the same run:
//   queue  the in-process JobQueue, as `cellblock batch` uses it: submit() to the result callback;
//   http   `cellblock serve`'s Service (jobs/service/service.h) on a unix socket in a temporary
//          directory, with a real HTTP/1.1 client (Boost.Beast, synchronous) on a keep-alive
//          connection: POST /v1/jobs?wait=60 of the same job, timed from the request's first
//          byte to the last byte of the 200 with the result. This path includes parsing, the
//          journal (the job appended to its log and fdatasync'd while the job is queued and runs;
//          the answer waits for both; its start and result appended after), and the answer;
//   gojudge the same service's go-judge POST /run (jobs/gojudge/, docs/go-judge.md) of one cmd
//          `/bin/true` in the service's --defaults rootfs, on a keep-alive connection of its
//          own: not journaled, but each cmd gets a private tmpfs working directory at /w,
//          mounted before and unmounted after the job. Reported as ratios to the native /v1
//          path (medians, jobs/s), so the figure holds whatever the machine's speed.
// The job is /bin/true in the busybox test rootfs with the default policy. Latency: --runs jobs
// one at a time, interleaved in blocks of 10 (queue, http, gojudge, queue, ...) so that the machine's
// load falls on both alike; median and p99, and the median of the differences of paired jobs
// (the i-th of each front end), which drifts less with the machine's load than the difference of
// the medians. Throughput: --throughput jobs through each front end
// with --connections clients at once (threads submitting to the queue, or keep-alive
// connections), --parallel workers; jobs/s and requests/s.
// Target: the HTTP path adds at most 0.3 ms per job at the median (--target-ms); the go-judge
// ratios are reported, not judged.
// Exit status: 0 target met; 1 missed or a job failed; 2 bad usage. --no-targets: only a failed
// job fails the run (smoke tests).
#include <sys/vfs.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <filesystem>
#include <future>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include <spdlog/spdlog.h>

#include "bench/report_util.h"
#include "executor/executor.h"
#include "executor/protocol/step_clock.h"
#include "jobs/format/job_json.h"
#include "jobs/format/policy_json.h"
#include "jobs/format/result_json.h"
#include "jobs/gojudge/gojudge_routes.h"
#include "jobs/queue/job_queue.h"
#include "jobs/service/service.h"

namespace cellblock::bench {
namespace {

namespace beast = boost::beast;
namespace net = boost::asio;
using nlohmann::json;
using local = net::local::stream_protocol;

struct Options {
  size_t runs = 300, warmup = 30, throughput = 400, connections = 2, parallel = 2;
  std::string rootfs = CELLBLOCK_BENCH_ROOTFS;
  std::string state_dir;  // default: a temporary directory under /run/cellblock
  double target_ms = 0.3;
  ReportOptions report;
};

// One keep-alive HTTP/1.1 connection to the service's unix socket.
class HttpClient {
 public:
  explicit HttpClient(const std::string& socket) : stream_(io_) { stream_.connect(local::endpoint(socket)); }
  // POSTs `body` to /v1/jobs?wait=60; returns the latency in ns, or throws naming what was wrong.
  int64_t run(const std::string& body) {
    return post("/v1/jobs?wait=60", body, [](const json& record) {
      return record["result"]["status"] == "exited" && record["result"]["exit_code"] == 0;
    });
  }
  // POSTs `body` to go-judge's /run; every cmd must be Accepted.
  int64_t run_gojudge(const std::string& body) {
    return post("/run", body, [](const json& results) {
      for (const json& r : results)
        if (r["status"] != "Accepted") return false;
      return !results.empty();
    });
  }

 private:
  int64_t post(const char* target, const std::string& body, const std::function<bool(const json&)>& ran_well) {
    beast::http::request<beast::http::string_body> req{beast::http::verb::post, target, 11};
    req.set(beast::http::field::host, "localhost");
    req.set(beast::http::field::content_type, "application/json");
    req.keep_alive(true);
    req.body() = body;
    req.prepare_payload();
    const uint64_t t0 = monotonic_ns();
    beast::http::write(stream_, req);
    beast::http::response<beast::http::string_body> res;
    beast::http::read(stream_, buffer_, res);
    const uint64_t t1 = monotonic_ns();
    if (res.result() != beast::http::status::ok) throw std::runtime_error("HTTP " + std::to_string(res.result_int()) + ": " + res.body());
    if (!ran_well(json::parse(res.body()))) throw std::runtime_error("job failed: " + res.body());
    if (!res.keep_alive()) throw std::runtime_error("the service closed the keep-alive connection");
    return static_cast<int64_t>(t1 - t0);
  }

  net::io_context io_;
  beast::basic_stream<local> stream_;
  beast::flat_buffer buffer_;
};

struct Front {
  std::string name;
  std::vector<double> latency_ms;
  double jobs_per_s = 0;
};

std::string filesystem_of(const std::string& path) {
  struct statfs st {};
  if (::statfs(path.c_str(), &st) != 0) return "?";
  switch (st.f_type) {
    case 0x01021994: return "tmpfs";
    case 0xEF53: return "ext4";
    case 0x9123683E: return "btrfs";
    case 0x58465342: return "xfs";
    case 0x794c7630: return "overlayfs";
    default: return "other";
  }
}

int run(int argc, char** argv) {
  Options o;
  CLI::App app{"What cellblock serve's HTTP path adds to a job, against the in-process queue"};
  app.add_option("--runs", o.runs, "Jobs one at a time per front end")->capture_default_str();
  app.add_option("--warmup", o.warmup, "Jobs first, not counted")->capture_default_str();
  app.add_option("--throughput", o.throughput, "Jobs per front end for jobs/s")->capture_default_str();
  app.add_option("--connections", o.connections, "Clients at once for jobs/s")->capture_default_str();
  app.add_option("--parallel", o.parallel, "Workers of each queue")->capture_default_str();
  app.add_option("--rootfs", o.rootfs, "Root filesystem with /bin/true")->capture_default_str();
  app.add_option("--state-dir", o.state_dir, "State directory (the journal lives here)");
  app.add_option("--target-ms", o.target_ms, "Most the HTTP path may add at the median")->capture_default_str();
  add_report_options(app, o.report, "failed jobs");
  if (auto code = parse_or_exit(app, argc, argv)) return *code;

  const std::string scratch = o.state_dir.empty() ? "/run/cellblock/bench-http-" + std::to_string(::getpid()) : o.state_dir;
  std::filesystem::create_directories(scratch);
  // Also when the run fails half-way (a job failed, no policy): it used to stay in /run/cellblock.
  RemoveAtEnd remove_at_end{o.state_dir.empty() ? scratch : ""};
  ExecutorConfig config;
  config.state_dir = scratch;
  config.netns_pool = o.parallel * 2 + 1;
  Executor executor(config);
  PolicyRegistry policies;
  JobSpec job;
  job.rootfs = o.rootfs;
  job.command = {"/bin/true"};
  prepare_job(job, policies);
  const std::string body = json{{"rootfs", o.rootfs}, {"command", {"/bin/true"}}}.dump();
  const std::string run_body = json{{"cmd", {{{"args", {"/bin/true"}}}}}}.dump();

  ExecutorRunner runner(executor);
  JobQueue queue(runner, QueueOptions{o.parallel, 0});
  auto queue_one = [&]() -> int64_t {
    std::promise<Result> done;
    Submission s;
    s.job = job;
    s.on_done = [&done](Result& r) { done.set_value(std::move(r)); };
    const uint64_t t0 = monotonic_ns();
    queue.submit(std::move(s));
    Result r = done.get_future().get();
    const uint64_t t1 = monotonic_ns();
    if (r.status != Status::exited || r.exit_code != 0)
      throw std::runtime_error("queue job failed: " + std::string(to_string(r.status)) + " " + r.error.value_or(""));
    return static_cast<int64_t>(t1 - t0);
  };

  service::ServiceOptions so;
  so.unix_path = scratch + "/api.sock";
  so.state_dir = scratch;
  so.queue = QueueOptions{o.parallel, 0};
  so.keep_results = std::chrono::minutes(10);
  so.defaults = json{{"rootfs", o.rootfs}};  // where go-judge's cmds run
  so.client_paths = ClientHostPaths({o.rootfs});  // the /v1 jobs name it, as a client would
  so.modules.push_back([](service::Router& router, service::ServiceContext& ctx) {
    gojudge::add_gojudge_routes(router, ctx);
  });
  service::Service service(executor, policies, so);
  service.start();
  HttpClient client(*so.unix_path), gojudge_client(*so.unix_path);

  Front q{"queue", {}, 0}, h{"http", {}, 0}, g{"gojudge", {}, 0};
  for (size_t i = 0; i < o.warmup; ++i) {
    queue_one();
    client.run(body);
    gojudge_client.run_gojudge(run_body);
  }
  for (size_t done = 0; done < o.runs;) {
    const size_t block = std::min<size_t>(10, o.runs - done);
    for (size_t i = 0; i < block; ++i) q.latency_ms.push_back(static_cast<double>(queue_one()) / 1e6);
    for (size_t i = 0; i < block; ++i) h.latency_ms.push_back(static_cast<double>(client.run(body)) / 1e6);
    for (size_t i = 0; i < block; ++i) g.latency_ms.push_back(static_cast<double>(gojudge_client.run_gojudge(run_body)) / 1e6);
    done += block;
    if (o.report.progress) std::cerr << "\rhttp: " << done << "/" << o.runs << std::flush;
  }
  if (o.report.progress) std::cerr << "\n";

  auto throughput = [&](const std::function<void()>& one) {
    std::atomic<size_t> next{0};
    std::vector<std::thread> threads;
    std::vector<std::string> errors(o.connections);
    const uint64_t t0 = monotonic_ns();
    for (size_t c = 0; c < o.connections; ++c)
      threads.emplace_back([&, c] {
        try {
          while (next.fetch_add(1) < o.throughput) one();
        } catch (const std::exception& e) {
          errors[c] = e.what();
        }
      });
    for (auto& t : threads) t.join();
    for (const auto& e : errors)
      if (!e.empty()) throw std::runtime_error(e);
    return static_cast<double>(o.throughput) / (static_cast<double>(monotonic_ns() - t0) / 1e9);
  };
  q.jobs_per_s = throughput([&] { queue_one(); });
  // Over keep-alive connections, one per client thread, made at its first request.
  auto http_throughput = [&](const std::function<void(HttpClient&)>& one) {
    std::vector<std::unique_ptr<HttpClient>> clients;
    std::mutex m;
    return throughput([&] {
      thread_local HttpClient* c = nullptr;  // throughput() starts fresh threads each time
      if (!c) {
        std::lock_guard lock(m);
        clients.push_back(std::make_unique<HttpClient>(*so.unix_path));
        c = clients.back().get();
      }
      one(*c);
    });
  };
  h.jobs_per_s = http_throughput([&](HttpClient& c) { c.run(body); });
  g.jobs_per_s = http_throughput([&](HttpClient& c) { c.run_gojudge(run_body); });
  service.shutdown(std::chrono::milliseconds(0));
  service.wait_idle();

  const double added = median(h.latency_ms) - median(q.latency_ms);
  // The same from jobs paired by their place in their blocks (the i-th queue job against the i-th
  // HTTP job run right after its block).
  const double added_paired = median_paired_difference(q.latency_ms, h.latency_ms);
  const bool met = added <= o.target_ms;
  // go-judge's /run against the native /v1 path, both over HTTP in the same run.
  const double gojudge_latency_ratio = median(g.latency_ms) / median(h.latency_ms);
  const double gojudge_throughput_ratio = g.jobs_per_s / h.jobs_per_s;
  json out = {{"date", utc_now()}, {"kernel", kernel_release()}, {"state_dir_fs", filesystem_of(scratch)},
              {"runs", o.runs}, {"throughput_jobs", o.throughput}, {"connections", o.connections},
              {"parallel", o.parallel}, {"added_ms_at_median", added}, {"added_ms_paired_median", added_paired},
              {"target_ms", o.target_ms}, {"met", met},
              {"gojudge_to_http_median_ratio", gojudge_latency_ratio},
              {"gojudge_to_http_jobs_per_s_ratio", gojudge_throughput_ratio}};
  std::string md = "### HTTP service against the in-process queue\n\n"
                   "`/bin/true` per job, " + std::to_string(o.runs) + " jobs one at a time per front end (interleaved), "
                   "then " + std::to_string(o.throughput) + " jobs over " + std::to_string(o.connections) +
                   " clients at once, " + std::to_string(o.parallel) + " workers; journal on " + filesystem_of(scratch) + ".\n\n"
                   "| front end | median | p99 | jobs/s |\n|---|---:|---:|---:|\n";
  for (const Front* f : {&q, &h, &g}) {
    out[f->name] = {{"median_ms", median(f->latency_ms)}, {"p99_ms", percentile(f->latency_ms, 0.99)},
                    {"jobs_per_s", f->jobs_per_s}, {"latency_ms", f->latency_ms}};
    const std::string label = f->name == "queue" ? "in-process queue (`cellblock batch`)"
                              : f->name == "http" ? "HTTP `/v1/jobs`, keep-alive (`cellblock serve`)"
                                                  : "go-judge `POST /run`, keep-alive (`cellblock serve`)";
    md += "| " + label +
          " | " + fmt(median(f->latency_ms)) + " ms | " + fmt(percentile(f->latency_ms, 0.99)) + " ms | " +
          fmt(f->jobs_per_s, 0) + " |\n";
  }
  md += "\nThe HTTP path adds " + fmt(added, 3) + " ms per job at the median (target: at most " + fmt(o.target_ms, 1) +
        " ms): " + (met ? "met" : "missed") + "; the median of the paired differences is " + fmt(added_paired, 3) +
        " ms.\n"
        "go-judge's `/run` against `/v1/jobs`: " + fmt(gojudge_latency_ratio, 2) + "x the median latency, " +
        fmt(gojudge_throughput_ratio, 2) + "x the jobs/s (its own tmpfs working directory per cmd, no journal).\n";
  std::cout << md;
  write_file(o.report.json_path, out.dump(2) + "\n");
  write_file(o.report.md_path, md);
  if (!met && o.report.targets) {
    std::cerr << "http: the HTTP path adds " << fmt(added, 3) << " ms at the median, more than " << o.target_ms << " ms\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace cellblock::bench

int main(int argc, char** argv) { return cellblock::bench::main_guarded("http", cellblock::bench::run, argc, argv); }
