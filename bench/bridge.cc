// bridge: what `"network": "bridge"` adds to a job's launch, against `"none"`, in the same run
// (issue 17, "Bench").
//
//   bridge [--runs 200] [--warmup 10] [--json FILE] [--markdown FILE]
//
// One Executor with its own bridge (cbbench0, 10.231.2.0/24, state in
// /run/cellblock-bridge-bench), deleted at the end. Jobs of /bin/true in the busybox rootfs, in
// rounds of three interleaved so that the machine's load falls on all kinds alike: none; bridge
// without egress; bridge with egress (a chain of rules more). For each kind: the median and p90
// of the whole Executor::run() (launch to result), and of the bridge's own steps from the launch
// breakdown: attach (lease, namespace, veth, addresses, route, rules) and detach (rules, veth,
// lease); the overhead is the difference of the medians. Runs one job at a time: the cost of one launch, not throughput.
//
// Exit status: 0 when every job exited 0; 1 otherwise; 2 bad usage or no executor.
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "bench/report_util.h"
#include "executor/executor.h"
#include "jobs/format/policy_json.h"

namespace cellblock::bench {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

struct Kind {
  std::string name;
  NetworkMode network;
  bool egress;
  std::vector<double> run_ms, attach_ms, detach_ms;
};

int main_bench(int argc, char** argv) {
  CLI::App app{"Per-job launch overhead of bridged networking against none"};
  int runs = 200, warmup = 10;
  std::string json_path, markdown_path;
  app.add_option("--runs", runs, "Jobs of each kind")->capture_default_str();
  app.add_option("--warmup", warmup, "Rounds run first and not counted")->capture_default_str();
  app.add_option("--json", json_path, "Write the figures as JSON here");
  app.add_option("--markdown", markdown_path, "Write a Markdown table here");
  CLI11_PARSE(app, argc, argv);

  ExecutorConfig config;
  config.state_dir = "/run/cellblock-bridge-bench";
  config.bridge.name = "cbbench0";
  config.bridge.subnet = "10.231.2.0/24";
  std::unique_ptr<Executor> executor;
  try {
    executor = std::make_unique<Executor>(config);
  } catch (const std::exception& e) {
    std::cerr << "bridge: no executor: " << e.what() << "\n";
    return 2;
  }
  PolicyRegistry policies;
  std::vector<Kind> kinds = {{"none", NetworkMode::none, false, {}, {}},
                             {"bridge", NetworkMode::bridge, false, {}, {}},
                             {"bridge+egress", NetworkMode::bridge, true, {}, {}}};
  int failed = 0;
  for (int round = 0; round < warmup + runs; ++round) {
    for (Kind& k : kinds) {
      JobSpec job;
      job.rootfs = CELLBLOCK_BENCH_ROOTFS;
      job.command = {"/bin/true"};
      job.security = policies.get(job.policy);
      job.network = k.network;
      job.egress = k.egress;
      job.breakdown = true;
      const Clock::time_point t0 = Clock::now();
      Result r = executor->run(job);
      const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      if (r.status != Status::exited || r.exit_code != 0) {
        if (failed++ == 0) std::cerr << "bridge: a " << k.name << " job failed: " << r.error.value_or("") << "\n";
        continue;
      }
      if (round < warmup) continue;
      k.run_ms.push_back(ms);
      for (const StepTime& s : r.breakdown)
        if (s.step == "network_attach") k.attach_ms.push_back(s.ms);
        else if (s.step == "network_detach") k.detach_ms.push_back(s.ms);
    }
  }
  executor.reset();
  try {
    Bridge::remove(config.state_dir, config.bridge.name);
  } catch (const std::exception& e) {
    std::cerr << "bridge: removing cbbench0: " << e.what() << "\n";
  }

  json out = {{"when", utc_now()}, {"runs", runs}, {"failed", failed}, {"kinds", json::object()}};
  const double base = median(kinds[0].run_ms);
  std::string md = "| network | run() median ms | p90 ms | overhead vs none (median) ms | attach median ms | detach median ms |\n"
                   "|---|---|---|---|---|---|\n";
  for (const Kind& k : kinds) {
    const double m = median(k.run_ms);
    out["kinds"][k.name] = {{"run_median_ms", m},
                            {"run_p90_ms", percentile(k.run_ms, 0.9)},
                            {"overhead_median_ms", m - base},
                            {"attach_median_ms", median(k.attach_ms)},
                            {"attach_p90_ms", percentile(k.attach_ms, 0.9)},
                            {"detach_median_ms", median(k.detach_ms)},
                            {"detach_p90_ms", percentile(k.detach_ms, 0.9)}};
    md += "| " + k.name + " | " + fmt(m) + " | " + fmt(percentile(k.run_ms, 0.9)) + " | " + fmt(m - base) + " | " +
          (k.attach_ms.empty() ? std::string("-") : fmt(median(k.attach_ms))) + " | " +
          (k.detach_ms.empty() ? std::string("-") : fmt(median(k.detach_ms))) + " |\n";
  }
  std::cout << md;
  write_file(json_path, out.dump(2) + "\n");
  write_file(markdown_path, md);
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace cellblock::bench

int main(int argc, char** argv) { return cellblock::bench::main_bench(argc, argv); }
