// PID 1 is cellblock's init: it reaps zombies, forwards SIGTERM/SIGINT, kills what the command
// leaves behind, and reports the command's own exit code or signal (issue: cell, item 3).
#include <signal.h>

#include <chrono>
#include <thread>

#include <gmock/gmock.h>

#include "tests/integration/calibration.h"
#include "tests/integration/cell_test_util.h"

namespace cellblock::test {
namespace {

using ::testing::HasSubstr;

TEST(Init, ReportsTheCommandsExitCode) {
  Result r = run(sh("exit 42"));
  EXPECT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.exit_code, 42);
  EXPECT_FALSE(r.signal.has_value());
}

TEST(Init, ReportsTheCommandsSignal) {
  Result r = run(sh("kill -SEGV $$"));
  EXPECT_EQ(r.status, Status::signaled) << describe(r);
  EXPECT_EQ(r.signal, SIGSEGV);
  EXPECT_FALSE(r.exit_code.has_value());
}

TEST(Init, ReapsOrphanedZombies) {
  // 1000 orphans: each inner shell starts `true` in the background and exits at once, so `true`
  // is re-parented to PID 1 and becomes a zombie until the init reaps it.
  // Two processes an orphan: the wall limit is what 2,000 forks take here (calibration.h).
  JobSpec j = sh("i=0; while [ $i -lt 1000 ]; do sh -c 'true & exit 0'; i=$((i+1)); done; "
                 "sleep 0.2; ps -o stat | grep -c '^Z'");
  j.limits.wall_time_ms = wall_ms_for_processes(5000, 2000);
  Result r = run(j);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.stdout_data, "0\n");
}

TEST(Init, KillsADaemonLeftBehind) {
  std::string marker = unique_marker("daemon");
  Result r = run(sh("setsid sh -c 'while :; do sleep 1; done' " + marker + " </dev/null >/dev/null 2>&1 & "
                    "sleep 0.1; echo started"));
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.stdout_data, "started\n");
  EXPECT_TRUE(host_processes_with(marker).empty()) << "the daemon outlived its job";
}

TEST(Init, KillsADoubleForkedDaemonThatHoldsStdout) {
  // The daemon keeps stdout open: the job must still end when the command exits.
  std::string marker = unique_marker("stdout-daemon");
  JobSpec j = sh("( setsid sh -c 'while :; do sleep 1; done' " + marker + " & ) ; echo started");
  j.limits.wall_time_ms = 5000;
  Result r = run(j);
  EXPECT_EQ(r.status, Status::exited) << describe(r);
  // It ends when the command does, not when something gives up waiting for the daemon's stdout.
  EXPECT_LT(r.stats.wall_time_ms, promptly_ms(1000));
  EXPECT_TRUE(host_processes_with(marker).empty());
}

// Finds the init of the job this process is running (a child named cellblock-init).
int find_cell_init() {
  for (int attempt = 0; attempt < 200; ++attempt) {
    DIR* d = opendir("/proc");
    while (dirent* e = readdir(d)) {
      int pid = atoi(e->d_name);
      if (pid <= 0) continue;
      std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
      auto close = stat.rfind(')');
      if (close == std::string::npos || stat.find("(cellblock-init)") == std::string::npos) continue;
      int ppid = atoi(stat.c_str() + close + 4);
      if (ppid == getpid()) {
        closedir(d);
        return pid;
      }
    }
    closedir(d);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

class SignalForwarding : public ::testing::TestWithParam<int> {};

TEST_P(SignalForwarding, ReachesTheCommand) {
  int sig = GetParam();
  JobSpec j = sh("trap 'echo got $1; exit 7' " + std::string(sig == SIGTERM ? "TERM" : "INT") +
                 "; echo ready; while :; do sleep 0.02; done");
  j.limits.wall_time_ms = 5000;
  std::thread signaller([&] {
    int init = find_cell_init();
    ASSERT_GT(init, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the trap be installed
    kill(init, sig);
  });
  Result r = run(j);
  signaller.join();
  EXPECT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_THAT(r.stdout_data, HasSubstr("ready\ngot"));
}

INSTANTIATE_TEST_SUITE_P(TermAndInt, SignalForwarding, ::testing::Values(SIGTERM, SIGINT));

TEST(Init, CannotBeKilledFromInside) {
  Result r = run(sh("kill -KILL 1; kill -TERM 1; kill -SEGV 1; sleep 0.1; echo alive"));
  EXPECT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.stdout_data, "alive\n");
}

}  // namespace
}  // namespace cellblock::test
