// Pods (docs/executor.md, "Pods"): a job's services (JobSpec::services) run beside its command,
// each in a cell of its own (own pid and mount namespaces, own cgroup and limits), all sharing
// one network and one IPC namespace made for the pod. The pod's order:
//   1. the pod's namespaces (make_pod_namespaces), loopback up;
//   2. every service launched, each supervised on a thread of its own;
//   3. each service's ready check: a TCP connect to 127.0.0.1:port inside the pod's network
//      namespace (wait_until_ready), until its timeout; one that fails or a service that ends
//      first makes the job a setup_error naming the service, and its command never starts;
//   4. the job's command, in the same namespaces;
//   5. when it has ended, every service still running is stopped (killed as a job is on cancel)
//      and its result joins the job's (Result::services).
// Executor::run_pod (pod.cc) walks these steps.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "executor/base/unique_fd.h"
#include "executor/job_spec.h"

namespace cellblock {

struct PodNamespaces {
  UniqueFd net;  // loopback up
  UniqueFd ipc;
};

// Throws SysError when the namespaces cannot be made.
PodNamespaces make_pod_namespaces();

enum class Readiness { ready, timed_out, gave_up };

// Connects to 127.0.0.1:port from inside the network namespace `netns` until a connect succeeds
// (ready), `deadline` passes (timed_out) or `give_up()` says so (gave_up: the service ended, or
// the job was cancelled).
Readiness wait_until_ready(int netns, uint16_t port, std::chrono::steady_clock::time_point deadline,
                           const std::function<bool()>& give_up);

// The memory a job holds while it runs: its own limit and each service's. The queue admits a
// job by this figure.
uint64_t memory_bytes_with_services(const JobSpec& job);

}  // namespace cellblock
