// A job that cannot start ends as setup_error with the thing and the reason; never a hang or
// a crash (issue: cell, item 7).
#include <gmock/gmock.h>

#include "tests/integration/cell_test_util.h"

namespace cellblock::test {
namespace {

void expect_setup_error(const JobSpec& j, const std::string& error) {
  Result r = run(j);
  EXPECT_EQ(r.status, Status::setup_error) << describe(r);
  ASSERT_TRUE(r.error.has_value()) << describe(r);
  EXPECT_EQ(*r.error, error);
  EXPECT_FALSE(r.exit_code.has_value());
}

TEST(SetupErrors, MissingRootfs) {
  JobSpec j = sh("true");
  j.rootfs = "/nonexistent/rootfs";
  expect_setup_error(j, "rootfs \"/nonexistent/rootfs\": No such file or directory");
}

TEST(SetupErrors, RootfsIsAFile) {
  JobSpec j = sh("true");
  j.rootfs = std::string(kRootfs) + "/bin/busybox";  // a file wherever the tests run (also the VM)
  expect_setup_error(j, "rootfs \"" + j.rootfs + "\": Not a directory");
}

TEST(SetupErrors, CommandDoesNotExistInTheRootfs) {
  expect_setup_error(job({"/bin/nope"}), "exec \"/bin/nope\": No such file or directory");
}

TEST(SetupErrors, CommandNotInPath) {
  expect_setup_error(job({"nope"}), "exec \"nope\" (searched PATH \"/bin\"): No such file or directory");
}

TEST(SetupErrors, CommandIsNotExecutable) {
  expect_setup_error(job({"/etc/passwd"}), "exec \"/etc/passwd\": Permission denied");
}

TEST(SetupErrors, MountSourceDoesNotExist) {
  JobSpec j = sh("true");
  j.mounts.push_back({"/nonexistent/source", "/data", true});
  expect_setup_error(j, "mounts[0].source \"/nonexistent/source\": No such file or directory");
}

TEST(SetupErrors, RelativeMountTarget) {
  JobSpec j = sh("true");
  j.mounts.push_back({"/tmp", "data", true});
  expect_setup_error(j, "mounts[0].target \"data\": must be an absolute path");
}

TEST(SetupErrors, DotDotMountTarget) {
  JobSpec j = sh("true");
  j.mounts.push_back({"/tmp", "/data/../../etc", true});
  expect_setup_error(j, "mounts[0].target \"/data/../../etc\": must not contain \"..\"");
}

TEST(SetupErrors, WorkingDirectoryMissing) {
  JobSpec j = sh("true");
  j.cwd = "/no/such/dir";
  expect_setup_error(j, "chdir \"/no/such/dir\": No such file or directory");
}

TEST(SetupErrors, OtherJobsRunNormallyAfterwards) {
  expect_setup_error(job({"/bin/nope"}), "exec \"/bin/nope\": No such file or directory");
  Result r = run(sh("echo fine"));
  EXPECT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.stdout_data, "fine\n");
}

}  // namespace
}  // namespace cellblock::test
