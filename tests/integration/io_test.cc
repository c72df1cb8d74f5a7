// The environment is only the job's; stdin is the job's text; stdout and stderr are captured
// separately and capped (issue: cell, items 4 and 5).
#include <fcntl.h>

#include <thread>

#include <gmock/gmock.h>

#include "tests/integration/cell_test_util.h"

namespace cellblock::test {
namespace {

using ::testing::HasSubstr;

TEST(Io, CommandStartsWithExactlyFdsZeroOneTwo) {
  // The shell lists its own descriptors: nothing of the supervisor's reached the command.
  Result r = run(sh("ls /proc/$$/fd; true"));  // "; true": the shell must not exec ls itself
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.stdout_data, "0\n1\n2\n");
}

TEST(Io, SupervisorFdsOpenDuringAJobAreCloseOnExec) {
  // The executor opens what it keeps for the whole process (the nftables context's netlink
  // socket, executor/net/nft.cc) when it is made, before any job; the first job makes it. Those
  // must be close-on-exec too.
  run(sh("true"));
  for (const std::string& fd : open_fds()) {
    if (fd.find("socket:") == std::string::npos) continue;
    const int flags = fcntl(std::stoi(fd), F_GETFD);
    EXPECT_TRUE(flags >= 0 && (flags & FD_CLOEXEC)) << "fd " << fd << " is open without O_CLOEXEC";
  }
  std::set<std::string> before = open_fds();
  std::atomic<bool> done{false};
  std::vector<std::string> leaky;
  std::thread watcher([&] {
    while (!done) {
      for (const std::string& fd : open_fds()) {
        if (before.count(fd)) continue;
        int flags = fcntl(std::stoi(fd), F_GETFD);
        if (flags >= 0 && !(flags & FD_CLOEXEC)) leaky.push_back(fd);
      }
    }
  });
  for (int i = 0; i < 20; ++i) run(sh("true"));
  done = true;
  watcher.join();
  EXPECT_TRUE(leaky.empty()) << "fd " << leaky.front() << " was open without O_CLOEXEC";
}

TEST(Io, EnvironmentIsExactlyTheJobs) {
  setenv("CELLBLOCK_HOST_SECRET", "leak", 1);
  JobSpec j = job({"/bin/env"});
  j.env = {{"A", "1"}, {"B", "two words"}};
  Result r = run(j);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.stdout_data, "A=1\nB=two words\n");
}

TEST(Io, StdinIsTheJobsText) {
  JobSpec j = job({"/bin/cat"});
  j.stdin_data = std::string("line one\nline two\n") + std::string(200000, 'x');
  Result r = run(j);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.stdout_data, j.stdin_data);
}

TEST(Io, StdinIsEmptyByDefault) {
  Result r = run(job({"/bin/cat"}));
  EXPECT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.stdout_data, "");
}

TEST(Io, StdoutAndStderrAreSeparate) {
  Result r = run(sh("echo out; echo err >&2; echo out2"));
  EXPECT_EQ(r.stdout_data, "out\nout2\n");
  EXPECT_EQ(r.stderr_data, "err\n");
  EXPECT_FALSE(r.stdout_truncated);
  EXPECT_FALSE(r.stderr_truncated);
}

TEST(Io, AnOutputFloodIsCutAtTheCapAndKilled) {
  JobSpec j = job({"/bin/yes"});
  j.limits.output_bytes = 100000;
  Result r = run(j);
  EXPECT_EQ(r.status, Status::output_limit) << describe(r);
  EXPECT_EQ(r.stdout_data.size(), 100000u);
  EXPECT_TRUE(r.stdout_truncated);
  EXPECT_EQ(r.stdout_data.substr(0, 4), "y\ny\n");
}

TEST(Io, AStderrFloodIsCutToo) {
  JobSpec j = sh("yes >&2");
  j.limits.output_bytes = 4096;
  Result r = run(j);
  EXPECT_EQ(r.status, Status::output_limit) << describe(r);
  EXPECT_EQ(r.stderr_data.size(), 4096u);
  EXPECT_TRUE(r.stderr_truncated);
  EXPECT_FALSE(r.stdout_truncated);
}

TEST(Io, OutputExactlyAtTheCapIsNotALimit) {
  JobSpec j = sh("head -c 1000 /dev/zero");
  j.limits.output_bytes = 1000;
  Result r = run(j);
  EXPECT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.stdout_data.size(), 1000u);
  EXPECT_FALSE(r.stdout_truncated);
}

TEST(Io, WorkingDirectoryIsTheJobs) {
  JobSpec j = sh("pwd");
  j.cwd = "/etc";
  Result r = run(j);
  EXPECT_EQ(r.stdout_data, "/etc\n") << describe(r);
}

}  // namespace
}  // namespace cellblock::test
