// Two executors in one process: a service's and a test's, or the hooks tests' own beside the
// suite's. The sv- cgroup directories and the sv- state directory are named after the process,
// so the executors share them (executor/base/process_wide.h), and destroying one must leave
// them, and the jobs running under the other, alone.
#include <unistd.h>

#include <filesystem>
#include <future>

#include <gmock/gmock.h>

#include "tests/integration/cell_test_util.h"

namespace cellblock::test {
namespace {

using namespace std::chrono_literals;

TEST(ExecutorsInOneProcess, DestroyingOneLeavesTheOthersDirectoriesAndJobsWorking) {
  Executor& first = executor();
  const std::vector<std::filesystem::path> sv_dirs = first.cgroups().supervisor_dirs();
  const std::string state_dir = ExecutorConfig{}.state_dir + "/" + own_supervisor_dir_name();
  ASSERT_FALSE(sv_dirs.empty());
  ASSERT_TRUE(std::filesystem::is_directory(state_dir)) << state_dir;

  // A job of the first executor runs while the second is made, used and destroyed.
  const std::string marker = unique_marker("first");
  auto running = std::async(std::launch::async, [&] {
    return first.run(sh("echo " + marker + " > /tmp/m; sleep 2; cat /tmp/m"));
  });
  ASSERT_TRUE(eventually([&] { return !job_cgroups().empty(); }, 20s)) << "the first job never started";

  {
    Executor second{ExecutorConfig{}};
    EXPECT_EQ(second.cgroups().supervisor_dirs(), sv_dirs) << "the process's sv- directories are shared";
    Result r = second.run(job({"/bin/echo", "from the second"}));
    ASSERT_EQ(r.status, Status::exited) << describe(r);
    EXPECT_EQ(r.stdout_data, "from the second\n");
  }

  for (const auto& dir : sv_dirs) EXPECT_TRUE(std::filesystem::is_directory(dir)) << dir << " went with the second executor";
  EXPECT_TRUE(std::filesystem::is_directory(state_dir)) << state_dir << " went with the second executor";

  Result during = running.get();
  ASSERT_EQ(during.status, Status::exited) << describe(during);
  EXPECT_EQ(during.exit_code, 0) << describe(during);
  EXPECT_EQ(during.stdout_data, marker + "\n");

  Result after = run(job({"/bin/echo", "after"}));
  ASSERT_EQ(after.status, Status::exited) << describe(after);
  EXPECT_EQ(after.stdout_data, "after\n");
  EXPECT_TRUE(job_cgroups().empty()) << "a job's cgroup outlived its job";
}

// The same with the executors' lifetimes crossed: the first made is the first destroyed, and a
// third made after both is whole (its directories exist again and its jobs run).
TEST(ExecutorsInOneProcess, AnExecutorMadeAfterOthersWereDestroyedStartsWhole) {
  auto a = std::make_unique<Executor>(ExecutorConfig{});
  auto b = std::make_unique<Executor>(ExecutorConfig{});
  const auto sv_dirs = a->cgroups().supervisor_dirs();
  a.reset();
  Result r = b->run(job({"/bin/true"}));
  EXPECT_EQ(r.status, Status::exited) << describe(r);
  b.reset();
  Executor c{ExecutorConfig{}};
  for (const auto& dir : c.cgroups().supervisor_dirs()) EXPECT_TRUE(std::filesystem::is_directory(dir)) << dir;
  Result again = c.run(job({"/bin/echo", "whole"}));
  ASSERT_EQ(again.status, Status::exited) << describe(again);
  EXPECT_EQ(again.stdout_data, "whole\n");
}

}  // namespace
}  // namespace cellblock::test
