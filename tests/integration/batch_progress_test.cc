// The progress line of `cellblock batch`: drawn on stderr when stderr is a terminal, never when it
// is not, and not with --quiet. The terminal is a pseudo-terminal made by script(1).
#include <regex>

#include <gmock/gmock.h>

#include "tests/integration/batch_test_util.h"

namespace cellblock::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

bool contains(const std::string& text, const char* re) { return std::regex_search(text, std::regex(re)); }

std::string sleepers(const Scratch& s) {
  std::vector<nlohmann::json> jobs;
  for (int i = 1; i <= 5; ++i) jobs.push_back(sh_job("p-" + std::to_string(i), "sleep 0.3"));
  return s.write_jobs("jobs.jsonl", jobs);
}

TEST(BatchProgress, ALiveLineOnATerminal) {
  Scratch s("progress-tty");
  auto batch = start_batch_on_terminal(s, "batch", {"-p", "2", "--out", s.path("results"), "--defaults", s.defaults(), sleepers(s)});
  ASSERT_EQ(batch->wait(), 0);
  EXPECT_EQ(json_lines(read_file(s.path("results"))).size(), 5u);
  const std::string tty = batch->out();
  // Redrawn in place (carriage return, erase line), first before any job ended ...
  EXPECT_THAT(tty, HasSubstr("\r\033[K[0/5] running "));
  EXPECT_TRUE(contains(tty, R"(\r\x1b\[K\[[0-4]/5\] running [0-2], failed 0, [0-9.]+ jobs/s, ETA [0-9]+ s)")) << tty;
  // ... and for the last time when all are done, before the summary.
  EXPECT_TRUE(contains(tty, R"(\r\x1b\[K\[5/5\] running 0, failed 0, [0-9.]+ jobs/s, done\r?\ncellblock batch: 5 jobs in )")) << tty;
}

TEST(BatchProgress, NoneWhenStderrIsNotATerminal) {
  Scratch s("progress-file");
  auto batch = start_batch(s, "batch", {"-p", "2", "--defaults", s.defaults(), sleepers(s)});
  ASSERT_EQ(batch->wait(), 0);
  EXPECT_EQ(json_lines(batch->out()).size(), 5u);
  EXPECT_THAT(batch->err(), Not(HasSubstr("running")));
  EXPECT_THAT(batch->err(), Not(HasSubstr("\r")));
  EXPECT_THAT(batch->err(), HasSubstr("cellblock batch: 5 jobs in "));
}

TEST(BatchProgress, NoneWithQuietEvenOnATerminal) {
  Scratch s("progress-quiet");
  auto batch = start_batch_on_terminal(s, "batch",
                                       {"-p", "2", "--quiet", "--out", s.path("results"), "--defaults", s.defaults(), sleepers(s)});
  ASSERT_EQ(batch->wait(), 0);
  EXPECT_EQ(json_lines(read_file(s.path("results"))).size(), 5u);
  EXPECT_EQ(batch->out(), "");  // nothing at all on the terminal
}

}  // namespace
}  // namespace cellblock::test
