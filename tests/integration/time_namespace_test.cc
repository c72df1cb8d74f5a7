// "time_namespace": true gives the job clocks of its own that start near 0 (issue 17, "Time
// namespace"); without it the job's clocks are the host's.
#include <time.h>

#include <regex>

#include <gmock/gmock.h>

#include "executor/time_namespace.h"
#include "tests/integration/cell_test_util.h"

namespace cellblock::test {
namespace {

using ::testing::HasSubstr;

double number_after(const std::string& text, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(key + "([0-9.]+)"))) return -1;
  return std::stod(m[1]);
}

double host_seconds(clockid_t id) {
  timespec ts;
  clock_gettime(id, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// The cell's clocks start at the init's whole second (time_apply.cc), before the command runs,
// so the command reads at most the job's whole wall time plus that one second.
double near_zero_bound_s(const Result& r) { return r.stats.wall_time_ms / 1000.0 + 1.0; }

#define SKIP_WITHOUT_TIME_NAMESPACES()                                                                  \
  if (!kernel_has_time_namespaces())                                                                     \
  GTEST_SKIP() << "this kernel has no time namespaces (/proc/self/ns/time is missing)"

TEST(TimeNamespace, UptimeStartsNearZeroWhileTheHostsIsLarge) {
  SKIP_WITHOUT_TIME_NAMESPACES();
  JobSpec j = sh("cat /proc/uptime");
  j.time_namespace = true;
  Result r = run(j);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  const double cell_uptime = number_after(r.stdout_data, "^");
  const double host_uptime = number_after(read_file("/proc/uptime"), "^");
  ASSERT_GE(cell_uptime, 0) << r.stdout_data;
  EXPECT_LE(cell_uptime, near_zero_bound_s(r)) << r.stdout_data;
  EXPECT_GT(host_uptime, near_zero_bound_s(r)) << "the host has been up too briefly to tell the clocks apart";
}

TEST(TimeNamespace, MonotonicAndBootClocksStartNearZero) {
  SKIP_WITHOUT_TIME_NAMESPACES();
  JobSpec j = with_programs(job({"/t/clocks"}));
  j.time_namespace = true;
  Result r = run(j);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  const double monotonic = number_after(r.stdout_data, "monotonic_s=");
  const double boottime = number_after(r.stdout_data, "boottime_s=");
  ASSERT_GE(monotonic, 0) << r.stdout_data;
  ASSERT_GE(boottime, 0) << r.stdout_data;
  EXPECT_LE(monotonic, near_zero_bound_s(r)) << r.stdout_data;
  EXPECT_LE(boottime, near_zero_bound_s(r)) << r.stdout_data;
}

TEST(TimeNamespace, AlsoWithAUserNamespace) {
  SKIP_WITHOUT_TIME_NAMESPACES();
  JobSpec j = with_programs(job({"/t/clocks"}));
  j.time_namespace = true;
  j.user_namespace = true;
  Result r = run(j);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  const double monotonic = number_after(r.stdout_data, "monotonic_s=");
  ASSERT_GE(monotonic, 0) << r.stdout_data;
  EXPECT_LE(monotonic, near_zero_bound_s(r)) << r.stdout_data;
}

TEST(TimeNamespace, WithoutTheFieldTheClocksAreTheHosts) {
  const double host_before = host_seconds(CLOCK_MONOTONIC);
  Result r = run(with_programs(job({"/t/clocks"})));
  const double host_after = host_seconds(CLOCK_MONOTONIC);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  const double monotonic = number_after(r.stdout_data, "monotonic_s=");
  EXPECT_GE(monotonic, host_before - 0.001) << r.stdout_data;
  EXPECT_LE(monotonic, host_after + 0.001) << r.stdout_data;
}

TEST(TimeNamespace, TheBreakdownStaysOnTheSupervisorsClock) {
  SKIP_WITHOUT_TIME_NAMESPACES();
  JobSpec j = sh("true");
  j.time_namespace = true;
  j.breakdown = true;
  Result r = run(j);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  ASSERT_FALSE(r.breakdown.empty());
  // The command's stamps are shifted back by the offset: no step lasts longer than the job did.
  for (const StepTime& s : r.breakdown) EXPECT_LE(s.ms, r.stats.wall_time_ms + 1000.0) << s.step << " " << describe(r);
}

TEST(TimeNamespace, WhereTheKernelLacksItTheJobIsASetupErrorNamingTheField) {
  if (kernel_has_time_namespaces()) GTEST_SKIP() << "this kernel has time namespaces: the error cannot happen here";
  JobSpec j = sh("true");
  j.time_namespace = true;
  Result r = run(j);
  EXPECT_EQ(r.status, Status::setup_error) << describe(r);
  EXPECT_THAT(r.error.value_or(""), HasSubstr("time_namespace")) << describe(r);
}

}  // namespace
}  // namespace cellblock::test
