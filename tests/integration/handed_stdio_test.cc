// A pipe end the host made, handed to the command as its fd 0 or fd 1 (JobSpec::handed, the
// executor half of go-judge's pipeMapping): the command reads or writes it directly, still
// with only fds 0-2 open, and the peer sees end-of-file once the job is over.
#include <fcntl.h>
#include <unistd.h>

#include <future>

#include "tests/integration/cell_test_util.h"

namespace cellblock::test {
namespace {

struct HostPipe {
  std::shared_ptr<const UniqueFd> read, write;
};

HostPipe host_pipe() {
  int fds[2];
  EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
  return {std::make_shared<const UniqueFd>(fds[0]), std::make_shared<const UniqueFd>(fds[1])};
}

std::string read_to_end(int fd) {
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

TEST(HandedStdio, StdoutGoesToTheHandedPipeAndTheCommandSeesOnlyFds0To2) {
  HostPipe p = host_pipe();
  JobSpec j = with_programs(job({"/t/fds"}));
  j.handed.stdout_write = std::move(p.write);
  const Result r = run(j);
  j = JobSpec{};  // drops the host's last write end: the read below ends
  EXPECT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.stdout_data, "") << "a handed stdout is not captured";
  const std::string out = read_to_end(p.read->get());
  EXPECT_NE(out.find("RESULT fds CLEAN open=0,1,2 "), std::string::npos) << out;
  EXPECT_NE(out.find("fd=1 target=pipe:["), std::string::npos) << out;
}

TEST(HandedStdio, StdinReadsTheHandedPipeToItsEnd) {
  HostPipe p = host_pipe();
  JobSpec j = sh("cat; echo end");
  j.handed.stdin_read = std::move(p.read);
  ASSERT_EQ(::write(p.write->get(), "from the host\n", 14), 14);
  p.write.reset();
  const Result r = run(j);
  EXPECT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.stdout_data, "from the host\nend\n");
}

// Two jobs at once, the first's stdout the second's stdin, the way a gang of go-judge cmds runs:
// the reader gets everything and then end-of-file when the writer's job is over, because only
// the writer's JobSpec held the host's write end.
TEST(HandedStdio, TwoJobsJoinedByAPipe) {
  HostPipe p = host_pipe();
  JobSpec writer = sh("for i in 1 2 3; do echo line $i; done");
  writer.handed.stdout_write = std::move(p.write);
  JobSpec reader = sh("wc -l");
  reader.handed.stdin_read = std::move(p.read);
  auto write_job = std::async(std::launch::async, [w = std::move(writer)]() mutable {
    Result r = run(w);
    w = JobSpec{};
    return r;
  });
  const Result rr = run(reader);
  const Result wr = write_job.get();
  EXPECT_EQ(wr.status, Status::exited) << describe(wr);
  EXPECT_EQ(rr.status, Status::exited) << describe(rr);
  EXPECT_EQ(rr.stdout_data.substr(rr.stdout_data.find_first_not_of(' ')), "3\n");
}

}  // namespace
}  // namespace cellblock::test
