// The cell has its own pid, mount, network, ipc, uts and cgroup namespaces (issue: cell, item 1).
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <gmock/gmock.h>

#include "tests/integration/cell_test_util.h"

namespace cellblock::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

TEST(Namespaces, EveryNamespaceIsNew) {
  Result r = run(sh("for n in pid mnt net ipc uts cgroup; do echo $n $(readlink /proc/self/ns/$n); done"));
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  auto out = lines(r.stdout_data);
  ASSERT_EQ(out.size(), 6u) << r.stdout_data;
  for (const std::string& line : out) {
    std::string name = line.substr(0, line.find(' '));
    char host[128] = {0};
    ASSERT_GT(readlink(("/proc/self/ns/" + name).c_str(), host, sizeof host - 1), 0);
    EXPECT_THAT(line, Not(HasSubstr(host))) << name << " namespace is the host's";
  }
}

TEST(Namespaces, PsShowsOnlyTheJobsProcesses) {
  Result r = run(sh("ps -o pid,comm; true"));  // "; true" keeps the shell alive beside ps
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  auto out = lines(r.stdout_data);
  // Header, the init (PID 1), the shell (PID 2), and ps itself.
  ASSERT_EQ(out.size(), 4u) << r.stdout_data;
  EXPECT_THAT(out[1], HasSubstr("1 cellblock-init"));
  EXPECT_THAT(out[2], HasSubstr("2 sh"));
  EXPECT_THAT(out[3], HasSubstr("ps"));
}

TEST(Namespaces, ProcListsOnlyCellPids) {
  Result r = run(sh("ls /proc | grep '^[0-9]'"));
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  for (const std::string& pid : lines(r.stdout_data)) EXPECT_LT(std::stoi(pid), 10) << r.stdout_data;
}

TEST(Namespaces, HostnameIsTheJobsAndTheHostsIsUnchanged) {
  utsname before;
  uname(&before);
  // The default policy refuses sethostname; the name stays the job's and the host's stays too.
  JobSpec j = sh("hostname; hostname changed-inside 2>&1; hostname");
  j.hostname = "judge-42";
  Result r = run(j);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.stdout_data, "judge-42\nhostname: sethostname: Operation not permitted\njudge-42\n");
  utsname after;
  uname(&after);
  EXPECT_STREQ(before.nodename, after.nodename);
}

TEST(Namespaces, OnlyLoopbackExistsAndIsUp) {
  Result r = run(sh("ls /sys/class/net 2>/dev/null; tail -n +3 /proc/net/dev | cut -d: -f1; ip -o link"));
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  auto out = lines(r.stdout_data);
  ASSERT_EQ(out.size(), 2u) << r.stdout_data;
  EXPECT_THAT(out[0], ::testing::MatchesRegex(" *lo"));
  EXPECT_THAT(out[1], HasSubstr("lo: <LOOPBACK,UP,LOWER_UP>"));
  // Loopback carries traffic: a TCP server and client inside the cell.
  // The client retries until the server listens: how long that takes depends on the machine's load.
  Result tcp = run(sh("nc -l -p 5555 & until echo over-loopback | nc 127.0.0.1 5555 2>/dev/null; do sleep 0.05; done; wait"));
  EXPECT_EQ(tcp.stdout_data, "over-loopback\n") << describe(tcp);
}

TEST(Namespaces, HostSysvIpcIsInvisible) {
  int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
  ASSERT_GE(id, 0);
  std::string host_view = read_file("/proc/sysvipc/shm");
  ASSERT_THAT(host_view, HasSubstr(" " + std::to_string(id) + " "));
  Result r = run(sh("tail -n +2 /proc/sysvipc/shm | wc -l"));
  shmctl(id, IPC_RMID, nullptr);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.stdout_data, "0\n");
}

TEST(Namespaces, CgroupNamespaceIsRootedAtTheJob) {
  Result r = run(sh("cat /proc/self/cgroup"));
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  // Inside its own cgroup namespace the job sees itself at the root of every hierarchy.
  for (const std::string& line : lines(r.stdout_data))
    EXPECT_TRUE(line.ends_with(":/")) << r.stdout_data;
}

}  // namespace
}  // namespace cellblock::test
