// Executor::run_pod: the steps of pod.h, in order.
#include "executor/pod.h"

#include <csignal>
#include <memory>
#include <thread>

#include "executor/executor.h"
#include "executor/base/sys_error.h"
#include "executor/plan.h"

namespace cellblock {
namespace {

using Clock = std::chrono::steady_clock;

// A service as a job of its own: the job's file system (its rootfs, or its image's layers),
// environment and security unless it names its own rootfs; its own limits.
JobSpec service_job(const JobSpec& job, const PodService& s) {
  JobSpec j;
  j.id = job.id.empty() ? s.name : job.id + "/" + s.name;
  j.rootfs = s.rootfs.empty() ? job.rootfs : s.rootfs;
  if (s.rootfs.empty()) j.lower_dirs = job.lower_dirs;  // the layers stay locked while the job runs
  j.command = s.command;
  j.env = s.env ? *s.env : job.env;
  j.hostname = job.hostname;
  j.limits = s.limits;
  j.policy = job.policy;
  j.security = job.security;
  j.user_namespace = job.user_namespace;
  j.user = job.user;
  j.time_namespace = job.time_namespace;
  return j;
}

struct RunningService {
  explicit RunningService(const PodService& s) : spec(s) {}
  const PodService& spec;
  StopToken stop;
  std::atomic<bool> ended{false};  // set after `result` is written
  Result result;
  std::thread thread;
};

// Step 5, and the clean-up on every way out: each service still running is stopped and joined
// before the pod's namespaces go.
struct StopServices {
  std::vector<std::unique_ptr<RunningService>>& services;
  ~StopServices() {
    for (auto& s : services) s->stop.request();
    for (auto& s : services)
      if (s->thread.joinable()) s->thread.join();
  }
};

std::string field_of(size_t i, const PodService& s) {
  return "pod.services[" + std::to_string(i) + "] " + cellblock::quoted(s.name);
}

// How a service ended, for the error that names it: "exited 1", "signaled 9", "setup_error: ...".
std::string how_it_ended(const Result& r) {
  std::string text(to_string(r.status));
  if (r.exit_code) text += " " + std::to_string(*r.exit_code);
  if (r.signal) text += " (signal " + std::to_string(*r.signal) + ")";
  if (r.error) text += ": " + *r.error;
  return text;
}

}  // namespace

uint64_t memory_bytes_with_services(const JobSpec& job) {
  uint64_t total = job.limits.memory_bytes;
  for (const PodService& s : job.services) total += s.limits.memory_bytes;
  return total;
}

Result Executor::run_pod(const JobSpec& job, const StopToken* stop, OutputListener* output) {
  const Clock::time_point started = Clock::now();
  Result result;
  result.id = job.id;
  result.stats.cgroup_version = cgroup_version();
  std::vector<std::unique_ptr<RunningService>> services;
  try {
    // 1. the pod's namespaces
    const PodNamespaces ns = make_pod_namespaces();
    StopServices stop_services{services};  // destroyed before `ns`: no cell is left to use it
    // 2. every service, each supervised on its own thread
    for (const PodService& spec : job.services) {
      auto& s = services.emplace_back(std::make_unique<RunningService>(spec));
      s->thread = std::thread([this, &ns, s = s.get(), sj = service_job(job, spec)] {
        s->result = run_cell(sj, &s->stop, nullptr, &ns, CellRole::service);
        s->ended.store(true);
      });
    }
    // 3. the ready checks, each against its timeout from the pod's start
    std::optional<std::string> not_ready;
    for (size_t i = 0; i < services.size() && !not_ready; ++i) {
      RunningService& s = *services[i];
      if (s.spec.ready_tcp_port == 0) continue;
      const Readiness r = wait_until_ready(ns.net.get(), s.spec.ready_tcp_port,
                                           started + std::chrono::milliseconds(s.spec.ready_timeout_ms),
                                           [&] { return s.ended.load() || (stop && stop->requested()); });
      const std::string what = field_of(i, s.spec) + ": ";
      const std::string port = "tcp port " + std::to_string(s.spec.ready_tcp_port);
      if (r == Readiness::timed_out)
        not_ready = what + "not ready: nothing accepted on " + port + " within " +
                    std::to_string(s.spec.ready_timeout_ms) + " ms";
      else if (r == Readiness::gave_up && s.ended.load())
        not_ready = what + "ended before it was ready on " + port + " (" + how_it_ended(s.result) + ")";
      else if (r == Readiness::gave_up)
        not_ready = "";  // the job was cancelled
    }
    if (not_ready && not_ready->empty()) {
      result.status = Status::cancelled;
      result.error = "cancelled while the pod's services were starting";
    } else if (not_ready) {
      result.status = Status::setup_error;
      result.error = *not_ready;
    } else {
      // 4. the job's command, in the pod's namespaces
      JobSpec main = job;
      main.services.clear();
      result = run_cell(main, stop, output, &ns);
    }
  } catch (const std::exception& e) {
    result.status = Status::internal_error;
    result.error = std::string("pod: ") + e.what();
  }
  // 5. (StopServices has stopped and joined them) their results join the job's
  for (auto& s : services) result.services.push_back({s->spec.name, std::move(s->result)});
  if (result.stats.wall_time_ms == 0)
    result.stats.wall_time_ms = std::chrono::duration<double, std::milli>(Clock::now() - started).count();
  return result;
}

}  // namespace cellblock
