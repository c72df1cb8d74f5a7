// Problems the hostile suite found in executor/ and jobs/, each kept as the regression test that
// failed before its fix.
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>

#include <gmock/gmock.h>

#include "tests/integration/hostile_test.h"

namespace cellblock::test {
namespace {

namespace fs = std::filesystem;

using HostileFinding = HostUntouched;

// executor/cell_init.cc, kill_and_reap_all(): after the command exits, init called kill(-1, SIGKILL)
// again after every single child it reaped. kill(-1) walks every process on the host, so N processes
// left behind cost N^2 steps: 1000 take 0.3 s, 2000 1.1 s, 4000 4.1 s (measured), all of it CPU
// time charged to the job and wall time before the result. A job that exits normally ends late, or
// as cpu_time_limit / wall_time_limit.
TEST_F(HostileFinding, InitKillsWhatTheCommandLeftInLinearTime) {
  JobSpec j = hostile_job({"/t/zombies", "4000", "leave"}, "default");
  j.limits.pids = 4100;
  j.limits.memory_bytes = 1024 * MiB;  // ~90 KiB of kernel memory per live task
  j.limits.wall_time_ms = 30'000;
  Result r = run(j);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.stdout_data, "RESULT zombies_left RUNNING n=4000 of=4000\n");
  // Forking 4000 children takes ~0.3 s here; killing and reaping them should take about as long.
  EXPECT_LT(r.stats.wall_time_ms, 1500) << describe(r);
  EXPECT_LT(r.stats.cpu_time_ms, 1500) << describe(r);
}

// A default- or build-policy job is root in the cell without a user namespace and keeps
// CAP_FOWNER/CAP_FSETID: it can leave a setuid-root executable in a writable bind, which is a
// setuid-root executable on the host unless the host's file system is mounted nosuid (the cell's
// own nosuid bind protects only the cell). The default policy now answers EPERM to any mode with
// the set-user-ID bit (chmod family, open/creat/mknod family; openat2 is not allowed).
TEST_F(HostileFinding, ASetuidFileInAWritableBindIsNotSetuidRootOnTheHost) {
  char dir[] = "/tmp/cellblock-setuid.XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  JobSpec j = hostile_job({"/bin/sh", "-c", "cp /bin/busybox /out/sh && chmod 4755 /out/sh"}, "default");
  j.mounts.push_back({dir, "/out", false});
  Result r = run(j);
  struct stat st {};
  int found = ::stat((std::string(dir) + "/sh").c_str(), &st);
  fs::remove_all(dir);
  if (r.status == Status::setup_error) return;  // refusing such a bind is one acceptable fix
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  ASSERT_EQ(found, 0);
  EXPECT_FALSE((st.st_mode & S_ISUID) && st.st_uid == 0)
      << "the job left a setuid-root executable on the host: mode " << std::oct << st.st_mode;
}

// jobs/job_flags.cc: --mount/-m and --env/-e are vector options; CLI11 (2.1) let a following
// "--" end that option's list instead of starting the command, so "-m A:B -- sh -c x" fails with
// "The following argument was not expected: -c". Any flag between them hides the problem.
TEST_F(HostileFinding, CliCommandAfterARepeatableFlag) {
  std::string out = fs::temp_directory_path() / ("cellblock-cli-" + std::to_string(getpid()));
  std::string cmd = std::string(kCellblockBinary) + " run --rootfs " + kRootfs + " -e A=b -- /bin/sh -c 'echo $A' >" +
                    out + " 2>&1";
  int status = std::system(cmd.c_str());
  std::string text = read_file(out);
  fs::remove(out);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << text;
  EXPECT_THAT(text, ::testing::HasSubstr(R"("stdout":"b\n")"));
}

}  // namespace
}  // namespace cellblock::test
