// Pods (issue 17, "Pods"): services beside a job, sharing its network and IPC namespaces, each in
// a cell of its own with its own cgroup and limits. Busybox's httpd and nc are the services.
#include <gmock/gmock.h>

#include "tests/integration/cell_test_util.h"

namespace cellblock::test {
namespace {

using ::testing::HasSubstr;

PodService service(const std::string& name, const std::string& script, uint16_t ready_port = 0,
                   uint64_t ready_timeout_ms = 60'000) {
  PodService s;
  s.name = name;
  s.command = {"/bin/sh", "-c", script};
  s.ready_tcp_port = ready_port;
  s.ready_timeout_ms = ready_timeout_ms;
  s.limits.wall_time_ms = 120'000;
  return s;
}

// A web server on 127.0.0.1:port that serves `body` at /.
PodService web(uint16_t port, const std::string& body) {
  return service("web", "mkdir -p /tmp/www && echo " + body + " > /tmp/www/index.html && exec httpd -f -p " +
                            std::to_string(port) + " -h /tmp/www",
                 port);
}

const Result* service_result(const Result& r, const std::string& name) {
  for (const ServiceResult& s : r.services)
    if (s.name == name) return &s.result;
  return nullptr;
}

TEST(PodNetwork, TheJobTalksToItsServiceOverLoopback) {
  JobSpec j = sh("wget -q -O- http://127.0.0.1:8080/");
  j.services.push_back(web(8080, "hello-from-the-pod"));
  Result r = run(j);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_EQ(r.stdout_data, "hello-from-the-pod\n");
  const Result* s = service_result(r, "web");
  ASSERT_NE(s, nullptr) << describe(r);
  // Still serving when the job ended: stopped by the pod, as a cancelled job is.
  EXPECT_EQ(s->status, Status::cancelled) << describe(r);
}

TEST(PodNetwork, AJobWithoutThePodCannotReachTheService) {
  // Two pods on the same port: each job reaches its own service only.
  JobSpec a = sh("wget -q -O- http://127.0.0.1:8081/");
  a.services.push_back(web(8081, "pod-a"));
  JobSpec b = sh("wget -q -O- http://127.0.0.1:8081/");
  b.services.push_back(web(8081, "pod-b"));
  Result ra = run(a), rb = run(b);
  EXPECT_EQ(ra.stdout_data, "pod-a\n") << describe(ra);
  EXPECT_EQ(rb.stdout_data, "pod-b\n") << describe(rb);
  Result alone = run(sh("wget -q -O- http://127.0.0.1:8081/"));
  EXPECT_EQ(alone.status, Status::exited);
  EXPECT_NE(alone.exit_code, 0) << describe(alone);
}

TEST(PodNetwork, ServicesShareTheJobsIpcNamespace) {
  JobSpec j = sh("readlink /proc/self/ns/ipc; readlink /proc/self/ns/pid");
  j.services.push_back(service("ns", "readlink /proc/self/ns/ipc; readlink /proc/self/ns/pid; exec nc -l -p 7100", 7100));
  Result r = run(j);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  const Result* s = service_result(r, "ns");
  ASSERT_NE(s, nullptr);
  auto job_ns = lines(r.stdout_data), service_ns = lines(s->stdout_data);
  ASSERT_EQ(job_ns.size(), 2u) << describe(r);
  ASSERT_EQ(service_ns.size(), 2u) << describe(r);
  EXPECT_EQ(job_ns[0], service_ns[0]) << "one IPC namespace";
  EXPECT_NE(job_ns[1], service_ns[1]) << "a pid namespace each";
}

TEST(PodReady, ATimeoutIsASetupErrorNamingTheService) {
  const std::string marker = unique_marker("pod-never-ran");
  JobSpec j = sh("echo " + marker);
  j.services.push_back(service("db", "exec sleep 1000", 5432, 300));
  Result r = run(j);
  EXPECT_EQ(r.status, Status::setup_error) << describe(r);
  EXPECT_THAT(r.error.value_or(""), HasSubstr("pod.services[0] \"db\""));
  EXPECT_THAT(r.error.value_or(""), HasSubstr("tcp port 5432 within 300 ms"));
  EXPECT_THAT(r.stdout_data, ::testing::Not(HasSubstr(marker))) << "the job's command must not start";
  const Result* s = service_result(r, "db");
  ASSERT_NE(s, nullptr) << describe(r);
  EXPECT_EQ(s->status, Status::cancelled) << describe(r);
}

// A service without a ready check does not hold the job's command back: the command runs and
// ends while the service still runs (it is stopped by the pod, not ended by its wall time), and
// only the service with a ready check is waited for.
TEST(PodReady, AServiceWithoutAReadyCheckDoesNotDelayTheCommand) {
  JobSpec j = sh("wget -q -O- http://127.0.0.1:8082/; echo main-ran");
  j.services.push_back(service("idle", "exec sleep 1000"));
  j.services.push_back(web(8082, "ready-one"));
  Result r = run(j);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.stdout_data, "ready-one\nmain-ran\n");
  const Result* idle = service_result(r, "idle");
  ASSERT_NE(idle, nullptr) << describe(r);
  EXPECT_EQ(idle->status, Status::cancelled) << describe(r);
  EXPECT_LT(idle->stats.wall_time_ms, 120'000.0) << describe(r);
}

TEST(PodReady, AServiceThatEndsBeforeItIsReadyIsNamed) {
  JobSpec j = sh("echo main");
  j.services.push_back(service("db", "echo starting; exit 3", 5432));
  Result r = run(j);
  EXPECT_EQ(r.status, Status::setup_error) << describe(r);
  EXPECT_THAT(r.error.value_or(""), HasSubstr("pod.services[0] \"db\": ended before it was ready"));
  EXPECT_THAT(r.error.value_or(""), HasSubstr("exited 3"));
  const Result* s = service_result(r, "db");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->exit_code, 3);
  EXPECT_EQ(s->stdout_data, "starting\n");
}

TEST(PodService, OneThatDiesEarlyIsReportedAndTheJobGetsItsOwnResult) {
  // The service answers one connection (the ready check's) and exits 4; the job waits until
  // nothing listens any more, so the service has surely ended before the job.
  JobSpec j = sh("while echo | nc 127.0.0.1 7200 2>/dev/null; do sleep 0.05; done; echo main-done");
  j.services.push_back(service("once", "nc -l -p 7200 </dev/null; exit 4", 7200));
  Result r = run(j);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.stdout_data, "main-done\n");
  const Result* s = service_result(r, "once");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->status, Status::exited) << describe(r);
  EXPECT_EQ(s->exit_code, 4) << describe(r);
}

TEST(PodService, ServicesAreKilledWhenTheJobEnds) {
  const std::string marker = unique_marker("pod-service");
  JobSpec j = sh("true");
  PodService daemon = service("daemon", "sleep 1000 & nc -l -p 7300; wait", 7300);
  daemon.command.push_back(marker);  // $0 of the script: on every process's command line
  j.services.push_back(daemon);
  const auto cgroups_before = job_cgroups();
  Result r = run(j);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  const Result* s = service_result(r, "daemon");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->status, Status::cancelled) << describe(r);
  EXPECT_THAT(host_processes_with(marker), ::testing::IsEmpty());
  EXPECT_EQ(job_cgroups(), cgroups_before);
}

TEST(PodLimits, EachServiceHasItsOwnCgroupAndLimits) {
  // The service's memory limit is 32 MiB: dd with a 64 MiB buffer is OOM-killed there; then the
  // service listens. The job itself, with its own 512 MiB, does the same and is fine.
  const std::string hog = "dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null";
  JobSpec j = sh(hog + " && echo job-fine");
  PodService small = service("small", hog + "; exec nc -l -p 7400", 7400);
  small.limits.memory_bytes = 32 << 20;
  j.services.push_back(small);
  Result r = run(j);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.stdout_data, "job-fine\n") << describe(r);
  EXPECT_EQ(r.stats.oom_kills, 0u) << describe(r);
  const Result* s = service_result(r, "small");
  ASSERT_NE(s, nullptr);
  EXPECT_GE(s->stats.oom_kills, 1u) << describe(r);
  EXPECT_LE(s->stats.memory_peak_bytes, 32u << 20) << describe(r);
  EXPECT_GT(r.stats.memory_peak_bytes, 32u << 20) << describe(r);
}

TEST(PodSetup, AServiceThatCannotStartIsNamed) {
  JobSpec j = sh("echo main");
  PodService s = service("db", "true", 5432);
  s.rootfs = "/nonexistent-rootfs";
  j.services.push_back(s);
  Result r = run(j);
  EXPECT_EQ(r.status, Status::setup_error) << describe(r);
  EXPECT_THAT(r.error.value_or(""), HasSubstr("pod.services[0] \"db\""));
  EXPECT_THAT(r.error.value_or(""), HasSubstr("/nonexistent-rootfs"));
}

}  // namespace
}  // namespace cellblock::test
