// go-judge's /run request is read strictly, in go-judge's words and units.
#include <gmock/gmock.h>

#include "jobs/format/cell_path.h"
#include "jobs/format/json_reader.h"
#include "jobs/gojudge/run_request.h"

namespace cellblock::gojudge {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

std::string error_of(const json& request) {
  try {
    read_run_request(request.dump());
  } catch (const FieldError& e) {
    return e.what();
  }
  return "(accepted)";
}

json one(json cmd) { return {{"cmd", {std::move(cmd)}}}; }

TEST(GoJudgeRequest, ACmdInGoJudgesUsualShape) {
  RunRequest r = read_run_request(one({{"args", {"/bin/cat", "-"}},
                                       {"env", {"PATH=/bin", "A=b=c"}},
                                       {"files", {{{"content", "in"}}, {{"name", "stdout"}, {"max", 100}}, nullptr}},
                                       {"cpuLimit", 1'000'000'000},
                                       {"clockLimit", 0},
                                       {"memoryLimit", 64 << 20},
                                       {"copyIn", {{"src/a.c", {{"content", "int main;"}}}, {"b", {{"fileId", "X"}}}}},
                                       {"copyOut", {"stdout", "out?"}},
                                       {"copyOutCached", {"a.out"}}})
                                      .dump());
  ASSERT_EQ(r.cmds.size(), 1u);
  const RunCmd& c = r.cmds[0];
  EXPECT_EQ(c.args, (std::vector<std::string>{"/bin/cat", "-"}));
  EXPECT_EQ(c.env.at("A"), "b=c");
  EXPECT_EQ(*c.stdin_file->content, "in");
  EXPECT_EQ(c.stdout_collector->name, "stdout");
  EXPECT_EQ(*c.stdout_collector->max, 100u);
  EXPECT_FALSE(c.stderr_collector);
  EXPECT_EQ(*c.cpu_limit_ns, 1'000'000'000u);
  EXPECT_FALSE(c.clock_limit_ns) << "0 is go-judge's \"not set\"";
  EXPECT_EQ(*c.copy_in.at("b").file_id, "X");
  ASSERT_EQ(c.copy_out.size(), 2u);
  EXPECT_EQ(c.copy_out[1].name, "out");
  EXPECT_TRUE(c.copy_out[1].optional);
  EXPECT_FALSE(c.copy_out[0].optional);
}

TEST(GoJudgeRequest, ErrorsNameTheFieldTheValueAndWhy) {
  const json ok{{"args", {"/bin/true"}}};
  auto with = [&](const std::string& key, json v) {
    json c = ok;
    c[key] = std::move(v);
    return one(c);
  };
  EXPECT_EQ(error_of(with("cpuLimit", -1)), "cmd[0].cpuLimit: must not be negative, got -1");
  EXPECT_THAT(error_of(with("memoryLimit", 4096)), HasSubstr("cmd[0].memoryLimit: 4096 is too small"));
  EXPECT_THAT(error_of(with("files", {{{"src", 5}}})), HasSubstr("cmd[0].files[0].src: expected a string"));
  EXPECT_THAT(error_of(with("files", {{{"src", "/a"}, {"content", "x"}}})), HasSubstr("exactly one of content, fileId or src"));
  EXPECT_THAT(error_of(with("files", {nullptr, {{"content", "x"}}})), HasSubstr("cmd[0].files[1]: "));
  EXPECT_THAT(error_of(with("files", {nullptr, nullptr, nullptr, nullptr})), HasSubstr("only fd 0, 1 and 2"));
  EXPECT_THAT(error_of(with("copyIn", {{"a", {{"content", "x"}, {"fileId", "y"}}}})), HasSubstr("exactly one of"));
  EXPECT_THAT(error_of(with("copyIn", {{"a", {{"symlink", "/etc"}}}})), HasSubstr("cmd[0].copyIn.\"a\".symlink: unknown key"));
  EXPECT_THAT(error_of(with("copyOut", {"a//b"})), HasSubstr("cmd[0].copyOut[0]"));
  EXPECT_THAT(error_of(with("copyOut", {"/w/a"})), HasSubstr("is absolute"));
  EXPECT_THAT(error_of(with("copyOutTruncate", true)), HasSubstr("not supported by cellblock"));
  EXPECT_EQ(error_of(with("copyOutTruncate", false)), "(accepted)") << "go-judge's zero value: not asked for";
  EXPECT_EQ(error_of(with("strictMemoryLimit", "yes")), "cmd[0].strictMemoryLimit: expected true or false, got \"yes\"");
  EXPECT_EQ(error_of(with("realCpuLimit", 1000)),
            "cmd[0].realCpuLimit: 1000 is too small (at least 1000000: 1 ms: cellblock counts wall time in ms)");
  EXPECT_EQ(error_of(with("cpuSetLimit", "")), "(accepted)");
  EXPECT_THAT(error_of({{"cmd", {ok}}, {"pipeMapping", {{{"name", "x"}}}}}),
              HasSubstr("pipeMapping[0].name: \"x\": cellblock joins the cmds directly"));
  EXPECT_THAT(error_of({{"cmd", {ok}}, {"pipeMapping", {{{"in", {{"index", 0}, {"fd", 1}}}, {"out", {{"index", 1}, {"fd", 0}}}}}}}),
              HasSubstr("pipeMapping[0].out.index: 1 is not a cmd: the request has 1"));
  EXPECT_EQ(error_of({{"cmd", {ok, ok}}, {"pipeMapping", {{{"in", {{"index", 0}, {"fd", 1}}}, {"out", {{"index", 1}, {"fd", 0}}}}}}}),
            "(accepted)");
  EXPECT_EQ(error_of({{"cmd", {ok}}, {"pipeMapping", json::array()}}), "(accepted)");
  EXPECT_THAT(error_of(json::array()), HasSubstr("expected an object"));
}

TEST(GoJudgeRequest, RelativePathsStayInsideTheWorkingDirectory) {
  for (const char* good : {"a", "a.c", "src/main.cpp", "..a", "a..", ".hidden"})
    EXPECT_NO_THROW(check_relative_path(good, "p")) << good;
  for (const char* bad : {"", "/a", "..", "../a", "a/..", "a/../b", ".", "./a", "a/", "a//b", "a\r\nX: y", "a\tb"})
    EXPECT_THROW(check_relative_path(bad, "p"), FieldError) << bad;
}


}  // namespace
}  // namespace cellblock::gojudge
