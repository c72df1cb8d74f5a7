// Graceful shutdown of `cellblock batch` on SIGTERM/SIGINT: it stops admitting, running jobs
// get --grace to finish and are then killed, waiting ones end as `cancelled`, every line gets
// exactly one result, and a second signal kills at once, still cleaning up.
#include <gmock/gmock.h>

#include "tests/integration/batch_test_util.h"
#include "tests/integration/calibration.h"

namespace cellblock::test {
namespace {

using ::testing::HasSubstr;

// The results by line number; fails the test if a line has none or more than one.
std::map<int, nlohmann::json> one_result_per_line(const std::string& out, int lines) {
  std::map<int, nlohmann::json> by_line;
  for (const auto& r : json_lines(out)) {
    int line = r.at("line");
    EXPECT_FALSE(by_line.count(line)) << "two results for line " << line;
    by_line[line] = r;
  }
  EXPECT_EQ(by_line.size(), static_cast<size_t>(lines)) << out;
  return by_line;
}

bool running_jobs(const Scratch& s, size_t n) {
  auto files = job_files_in(s.state_dir());
  return files.size() == n && std::all_of(files.begin(), files.end(), [](auto& f) { return f.cell_pid > 0; });
}

// Nothing of the batch is left: no process, state or cgroup.
void expect_nothing_left(const Scratch& s, const std::string& marker) {
  EXPECT_TRUE(host_processes_with(marker).empty());
  // The stage directory and the cache of compiled seccomp programs stay; nothing of a supervisor.
  EXPECT_THAT(entries(s.state_dir()), ::testing::IsSubsetOf({"seccomp", "stage"}));
  EXPECT_THAT(cgroups_below(s.subtree()), ::testing::IsEmpty());
}

TEST(BatchShutdown, RunningJobsFinishWithinTheGraceThenTheRestIsKilled) {
  Scratch s("shutdown-grace");
  const std::string marker = unique_marker("grace");
  std::string text;
  for (auto& j : {sh_job("short-1", "sleep 0.5; echo finished; : " + marker),
                  sh_job("short-2", "sleep 0.5; echo finished; : " + marker),
                  sh_job("long", "sleep 60; : " + marker), sh_job("waiting-1", "echo never"),
                  sh_job("waiting-2", "echo never"), sh_job("waiting-3", "echo never")})
    text += j.dump() + "\n";
  text += R"({"id": "broken", "command": 5})" "\n";
  const std::string jobs = s.write("jobs.jsonl", text);

  auto batch = start_batch(s, "batch", {"-p", "3", "--grace", "2s", "--defaults", s.defaults(), jobs});
  ASSERT_TRUE(eventually([&] { return running_jobs(s, 3); })) << batch->err();
  const auto term_sent = std::chrono::steady_clock::now();
  batch->signal(SIGTERM);
  const int exit_code = batch->wait(20s);
  const double after_term = std::chrono::duration<double>(std::chrono::steady_clock::now() - term_sent).count();

  EXPECT_EQ(exit_code, 128 + SIGTERM);
  // The long job was killed when the grace ran out, not before and not much after.
  EXPECT_GE(after_term, 1.9);
  EXPECT_LT(after_term, 2.0 + promptly_ms(3000) / 1000);
  auto r = one_result_per_line(batch->out(), 7);
  for (int line : {1, 2}) {
    EXPECT_EQ(r[line]["status"], "exited") << r[line];
    EXPECT_EQ(r[line]["exit_code"], 0);
    EXPECT_EQ(r[line]["stdout"], "finished\n");
  }
  EXPECT_EQ(r[3]["id"], "long");
  EXPECT_EQ(r[3]["status"], "cancelled");
  EXPECT_EQ(r[3]["signal"], SIGKILL);
  EXPECT_EQ(r[3]["error"], "the queue shut down and the job outlived the grace period");
  for (int line : {4, 5, 6}) {
    EXPECT_EQ(r[line]["status"], "cancelled") << r[line];
    EXPECT_EQ(r[line]["error"], "the queue shut down before the job started");
    EXPECT_EQ(r[line]["stdout"], "");
  }
  EXPECT_EQ(r[7]["id"], "broken");
  EXPECT_EQ(r[7]["status"], "invalid_job");
  const std::string err = batch->err();
  EXPECT_THAT(err, HasSubstr("cellblock batch: SIGTERM: stopping; running jobs get the grace period\n"));
  EXPECT_THAT(err, HasSubstr("7 jobs in "));
  EXPECT_THAT(err, HasSubstr("cancelled 4, exited 2, invalid_job 1 (stopped by SIGTERM)\n"));
  expect_nothing_left(s, marker);
}

TEST(BatchShutdown, ASecondSignalKillsAtOnce) {
  Scratch s("shutdown-twice");
  const std::string marker = unique_marker("twice");
  const std::string jobs = s.write_jobs("jobs.jsonl", {sh_job("long-1", "sleep 60; : " + marker),
                                                       sh_job("long-2", "sleep 60; : " + marker),
                                                       sh_job("waiting", "echo never")});
  auto batch = start_batch(s, "batch", {"-p", "2", "--grace", "60s", "--defaults", s.defaults(), jobs});
  ASSERT_TRUE(eventually([&] { return running_jobs(s, 2); })) << batch->err();
  batch->signal(SIGTERM);
  // The first signal cancels the waiting job at once; the running ones carry on in their grace.
  ASSERT_TRUE(eventually([&] { return json_lines(batch->out()).size() == 1; })) << batch->out();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(host_processes_with(marker).size(), 2u);
  EXPECT_EQ(json_lines(batch->out()).size(), 1u);

  const auto int_sent = std::chrono::steady_clock::now();
  batch->signal(SIGINT);
  const int exit_code = batch->wait(20s);
  const double after_int = std::chrono::duration<double>(std::chrono::steady_clock::now() - int_sent).count();
  EXPECT_EQ(exit_code, 128 + SIGTERM);  // the first signal decides
  EXPECT_LT(after_int, promptly_ms(2000) / 1000);
  auto r = one_result_per_line(batch->out(), 3);
  EXPECT_EQ(r[3]["status"], "cancelled");
  EXPECT_EQ(r[3]["error"], "the queue shut down before the job started");
  for (int line : {1, 2}) {
    EXPECT_EQ(r[line]["status"], "cancelled") << r[line];
    EXPECT_EQ(r[line]["error"], "the queue shut down while the job ran");
    EXPECT_EQ(r[line]["signal"], SIGKILL);
  }
  EXPECT_THAT(batch->err(), HasSubstr("cellblock batch: SIGINT: killing running jobs\n"));
  expect_nothing_left(s, marker);
}

// Ctrl-C on the terminal signals the whole foreground process group. The jobs must not get it
// (their cells are in process groups of their own): the batch decides, with the grace period.
TEST(BatchShutdown, CtrlCOnTheTerminalLeavesRunningJobsTheirGrace) {
  Scratch s("shutdown-ctrlc");
  const std::string marker = unique_marker("ctrlc");
  const std::string jobs = s.write_jobs(
      "jobs.jsonl", {sh_job("trapper", "trap 'echo got SIGINT; exit 7' INT; sleep 1 & wait; echo finished; : " + marker)});
  auto batch = start_batch_on_terminal(s, "batch", {"--grace", "10s", "--out", s.path("results"), "--defaults", s.defaults(), jobs});
  ASSERT_TRUE(eventually([&] { return running_jobs(s, 1); })) << read_file(s.path("batch.out"));
  batch->type("\x03");
  EXPECT_EQ(batch->wait(20s), 128 + SIGINT);
  auto r = json_lines(read_file(s.path("results")));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0]["status"], "exited") << r[0];
  EXPECT_EQ(r[0]["stdout"], "finished\n");
  EXPECT_EQ(r[0]["exit_code"], 0);
  EXPECT_THAT(read_file(s.path("batch.out")), HasSubstr("SIGINT: stopping; running jobs get the grace period"));
  expect_nothing_left(s, marker);
}

}  // namespace
}  // namespace cellblock::test
