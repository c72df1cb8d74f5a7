// Limits and statistics through the job's cgroup (issue: cgroups, "Behaviour that must hold").
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <filesystem>
#include <regex>
#include <thread>

#include <gmock/gmock.h>

#include "tests/integration/calibration.h"
#include "tests/integration/cell_test_util.h"

namespace cellblock::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
constexpr uint64_t MiB = 1 << 20;

double result_number(const std::string& out, const std::string& key) {
  std::smatch m;
  if (!std::regex_search(out, m, std::regex(key + "=([0-9.]+)"))) return -1;
  return std::stod(m[1]);
}

JobSpec program(std::vector<std::string> argv) { return with_programs(job(std::move(argv))); }

TEST(MemoryLimit, AHogIsOomKilledAtTheLimit) {
  JobSpec j = program({"/t/memory_bomb", "8"});
  j.limits.memory_bytes = 64 * MiB;
  Result r = run(j);
  EXPECT_EQ(r.status, Status::memory_limit) << describe(r);
  EXPECT_GE(r.stats.oom_kills, 1u);
  EXPECT_GE(r.stats.memory_peak_bytes, 64 * MiB * 95 / 100);
  EXPECT_LE(r.stats.memory_peak_bytes, 64 * MiB * 105 / 100);
  // The next job is unaffected.
  Result next = run(sh("echo fine"));
  EXPECT_EQ(next.stdout_data, "fine\n") << describe(next);
}

TEST(MemoryLimit, PeakOfAModestJobMatchesWhatItTouched) {
  JobSpec j = program({"/t/burn", "memory", "20"});
  j.limits.memory_bytes = 64 * MiB;
  Result r = run(j);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.stats.oom_kills, 0u);
  EXPECT_GE(r.stats.memory_peak_bytes, 20 * MiB);
  EXPECT_LE(r.stats.memory_peak_bytes, 22 * MiB) << "more than 10% above what the job touched";
}

TEST(PidsLimit, AShellForkBombNeverExceedsItsPids) {
  JobSpec j = sh("bomb() { bomb | bomb & }; bomb; sleep 5");
  j.limits.pids = 32;
  j.limits.wall_time_ms = 1500;
  Result r = run(j);
  EXPECT_THAT(r.status, ::testing::AnyOf(Status::wall_time_limit, Status::exited)) << describe(r);
  EXPECT_LE(r.stats.pids_peak, 32u);
  EXPECT_GE(r.stats.pids_peak, 2u);
  Result next = run(sh("echo fine"));
  EXPECT_EQ(next.stdout_data, "fine\n") << describe(next);
}

TEST(PidsLimit, ACForkBombNeverExceedsItsPids) {
  JobSpec j = program({"/t/fork_bomb"});
  j.limits.pids = 32;
  j.limits.wall_time_ms = wall_ms_for_processes(1000, 32, 4);  // the bomb must reach its limit first
  Result r = run(j);
  EXPECT_EQ(r.status, Status::wall_time_limit) << describe(r);
  EXPECT_THAT(r.stdout_data, HasSubstr("RESULT fork_bomb EAGAIN"));
  EXPECT_LE(r.stats.pids_peak, 32u);
  EXPECT_GE(r.stats.pids_peak, 30u);
  EXPECT_TRUE(executor().cgroups().supervisor_dirs().size() > 0);
  Result next = run(sh("echo fine"));
  EXPECT_EQ(next.stdout_data, "fine\n") << describe(next);
}

TEST(CpuTimeLimit, ASpinnerEndsAtTheLimit) {
  JobSpec j = program({"/t/burn", "spin"});
  j.limits.cpu_time_ms = 1000;
  Result r = run(j);
  EXPECT_EQ(r.status, Status::cpu_time_limit) << describe(r);
  EXPECT_GE(r.stats.cpu_time_ms, 1000);
  EXPECT_LE(r.stats.cpu_time_ms, 1000 + promptly_ms(100));
}

// The limit is on the whole cell's CPU time: every thread counts. (Four spinning threads also end
// sooner in wall time where the machine gives the job more than one CPU; that depends on what else
// runs, even on cgroup weights, so it is not what this test asserts.)
TEST(CpuTimeLimit, EveryThreadCountsTowardsIt) {
  JobSpec spin = program({"/t/burn", "spin", "4"});
  spin.limits.cpu_time_ms = 1000;
  Result r = run(spin);
  EXPECT_EQ(r.status, Status::cpu_time_limit) << describe(r);
  EXPECT_GE(r.stats.cpu_time_ms, 1000);
  EXPECT_LE(r.stats.cpu_time_ms, 1000 + promptly_ms(100));
  // Four threads burning 300 ms each: the cell reports what the program counts for all of them.
  Result burn = run(program({"/t/burn", "cpu", "300", "4"}));
  ASSERT_EQ(burn.status, Status::exited) << describe(burn);
  const double self = result_number(burn.stdout_data, "cpu_ms");
  EXPECT_GE(self, 1199);
  EXPECT_NEAR(burn.stats.cpu_time_ms, self, 1 + self * 0.02) << describe(burn);
}

TEST(CpuBandwidth, HalfACoreDoublesTheWallTime) {
  JobSpec j = program({"/t/burn", "cpu", "1000"});
  j.limits.cpus = 0.5;
  Result r = run(j);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  // The quota is a ceiling, not a promise: on a busy machine the job may get less than half a
  // core, never more. So the bound is on the rate it used CPU, which no other load can raise.
  EXPECT_GT(r.stats.wall_time_ms, 1800);
  EXPECT_LE(r.stats.cpu_time_ms / r.stats.wall_time_ms, 0.55) << describe(r);
}

TEST(CpuTime, ReportedTimeMatchesWhatTheProgramMeasures) {
  JobSpec j = program({"/t/burn", "cpu", "300"});
  Result r = run(j);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  double self = result_number(r.stdout_data, "cpu_ms");
  ASSERT_GT(self, 299);
  EXPECT_NEAR(r.stats.cpu_time_ms, self, 1 + self * 0.02) << describe(r);
  EXPECT_NEAR(r.stats.cpu_user_ms + r.stats.cpu_system_ms, r.stats.cpu_time_ms, 15);
}

TEST(IoThrottle, DirectWritesToABoundHostDirectoryAreThrottled) {
  fs::path dir = fs::current_path() / ("cellblock-io-" + std::to_string(getpid()));
  fs::create_directories(dir);
  struct stat st;
  ASSERT_EQ(stat(dir.c_str(), &st), 0);
  if (major(st.st_dev) == 0) {
    fs::remove_all(dir);
    GTEST_SKIP() << dir << " is not on a block device";
  }
  // The same 64 MiB unthrottled first, so that the bound above the throttled time is what this
  // disk and machine take now, not what they took where the test was written.
  JobSpec free = sh("dd if=/dev/zero of=/out/f bs=1M count=64 oflag=direct 2>&1");
  free.mounts.push_back({dir.string(), "/out", false});
  free.limits.wall_time_ms = 60000;
  Result unthrottled = run(free);
  JobSpec j = free;
  j.limits.io.push_back({dir.string(), 0, 16 * MiB, 0, 0});
  Result r = run(j);
  fs::remove_all(dir);
  ASSERT_EQ(unthrottled.status, Status::exited) << describe(unthrottled);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  // 64 MiB at 16 MiB/s is 4 s (the kernel lets a little through at first); the throttle adds that
  // much to what the write takes anyway, and not much more.
  EXPECT_GT(r.stats.wall_time_ms, 3500);
  EXPECT_LT(r.stats.wall_time_ms, 4000 + 2 * unthrottled.stats.wall_time_ms + promptly_ms(1000)) << describe(unthrottled);
  EXPECT_GE(r.stats.io_write_bytes, 64 * MiB);
}

TEST(IoThrottle, ADeviceThatIsNotABlockDeviceIsASetupError) {
  JobSpec j = sh("true");
  j.limits.io.push_back({"/proc", 0, 16 * MiB, 0, 0});
  Result r = run(j);
  EXPECT_EQ(r.status, Status::setup_error) << describe(r);
  EXPECT_THAT(r.error.value_or(""), HasSubstr("limits.io[0].device"));
}

TEST(Stats, EveryResultCarriesTheCgroupStatistics) {
  Result r = run(program({"/t/burn", "cpu", "50"}));
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.stats.cgroup_version, executor().cgroup_version());
  EXPECT_GT(r.stats.cpu_time_ms, 45);
  EXPECT_GT(r.stats.memory_peak_bytes, 0u);
  EXPECT_GE(r.stats.pids_peak, 1u);
  EXPECT_EQ(r.stats.oom_kills, 0u);
}

TEST(WholeCellKill, ProcessesForkingWhileKilledAreAllCleanedUp) {
  std::string marker = unique_marker("forker");
  // A marked sleeper beside a C fork bomb that keeps forking while it is being killed.
  JobSpec j = with_programs(sh("sh -c 'sleep 10' " + marker + " & exec /t/fork_bomb"));
  j.limits.pids = 64;
  j.limits.wall_time_ms = 500;
  Result r = run(j);
  EXPECT_EQ(r.status, Status::wall_time_limit) << describe(r);
  EXPECT_TRUE(host_processes_with(marker).empty());
  for (const auto& dir : executor().cgroups().supervisor_dirs())
    for (const auto& entry : fs::directory_iterator(dir)) EXPECT_FALSE(entry.is_directory()) << entry.path();
}

}  // namespace
}  // namespace cellblock::test
