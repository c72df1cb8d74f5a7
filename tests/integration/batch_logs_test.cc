// Logs of `cellblock batch` (spdlog, --log-level): at info one line when a job starts and one
// when it ends, with its id, status and duration; at the default level (warn) nothing per job.
#include <regex>

#include <gmock/gmock.h>

#include "tests/integration/batch_test_util.h"

namespace cellblock::test {
namespace {

using ::testing::HasSubstr;

std::string jobs_file(const Scratch& s) {
  std::string text;
  for (auto& j : {sh_job("ok-1", "sleep 0.3; echo one"), sh_job("ok-2", "sleep 0.3; echo two"),
                  sh_job("fails", "exit 3"), nlohmann::json{{"id", "no-such-command"}, {"command", {"/bin/nope"}}}})
    text += j.dump() + "\n";
  nlohmann::json late = sh_job("late", "true");
  late["queue_timeout_ms"] = 1;  // behind the two sleepers with -p 2: never starts
  text += late.dump() + "\n";
  text += R"({"id": "broken", "command": 5})" "\n";
  return s.write("jobs.jsonl", text);
}

TEST(BatchLogs, AtInfoEachJobLogsOneStartAndOneEndLine) {
  Scratch s("logs-info");
  auto batch = start_batch(s, "batch", {"-p", "2", "--defaults", s.defaults(), jobs_file(s)}, s.global_args({"--log-level", "info"}));
  ASSERT_EQ(batch->wait(), 0);
  std::map<std::string, std::string> status_of;
  for (const auto& r : json_lines(batch->out())) status_of[r["id"]] = r["status"];
  ASSERT_EQ(status_of.size(), 6u) << batch->out();
  EXPECT_EQ(status_of["late"], "queue_timeout");

  const std::regex start(R"re(.*\[info\] job (\d+) "([^"]*)" started)re");
  const std::regex end(R"re(.*\[info\] job (\d+) "([^"]*)" ended: ([a-z_]+) in ([0-9]+\.[0-9]) ms)re");
  const std::regex end_unstarted(R"re(.*\[info\] job (\d+) "([^"]*)" ended without starting: ([a-z_]+) after ([0-9]+\.[0-9]) ms in the queue)re");
  std::map<std::string, int> starts, ends;
  std::map<std::string, std::string> queue_id;
  for (const std::string& line : lines(batch->err())) {
    std::smatch m;
    if (std::regex_match(line, m, start)) {
      starts[m[2]]++;
      queue_id[m[2]] = m[1];
    } else if (std::regex_match(line, m, end) || std::regex_match(line, m, end_unstarted)) {
      ends[m[2]]++;
      EXPECT_EQ(m[3], status_of[m[2]]) << line;
      if (queue_id.count(m[2])) {
        EXPECT_EQ(m[1], queue_id[m[2]]) << line;
      }
      EXPECT_GT(std::stod(m[4]), 0.0) << line;
    } else {
      EXPECT_THAT(line, HasSubstr("cellblock batch: 6 jobs in ")) << "unexpected line on stderr";
    }
  }
  for (const char* id : {"ok-1", "ok-2", "fails", "no-such-command"}) {
    EXPECT_EQ(starts[id], 1) << id << "\n" << batch->err();
    EXPECT_EQ(ends[id], 1) << id << "\n" << batch->err();
  }
  EXPECT_EQ(starts["late"], 0);
  EXPECT_EQ(ends["late"], 1) << batch->err();
  // An invalid line never reaches the queue: its result says why, the log says nothing.
  EXPECT_EQ(status_of["broken"], "invalid_job");
  EXPECT_EQ(starts["broken"] + ends["broken"], 0);
}

TEST(BatchLogs, AtTheDefaultLevelNothingPerJob) {
  Scratch s("logs-default");
  const std::string jobs = jobs_file(s);
  auto batch = start_batch(s, "batch", {"-p", "2", "--defaults", s.defaults(), jobs});
  ASSERT_EQ(batch->wait(), 0);
  EXPECT_EQ(json_lines(batch->out()).size(), 6u);
  auto err = lines(batch->err());
  ASSERT_EQ(err.size(), 1u) << batch->err();
  EXPECT_THAT(err[0], ::testing::MatchesRegex(
                          R"(cellblock batch: 6 jobs in [0-9.]+ s \([0-9.]+ jobs/s\): exited 3, invalid_job 1, queue_timeout 1, setup_error 1)"));

  auto quiet = start_batch(s, "quiet", {"-p", "2", "--quiet", "--defaults", s.defaults(), jobs});
  ASSERT_EQ(quiet->wait(), 0);
  EXPECT_EQ(json_lines(quiet->out()).size(), 6u);
  EXPECT_EQ(quiet->err(), "");
}

}  // namespace
}  // namespace cellblock::test
