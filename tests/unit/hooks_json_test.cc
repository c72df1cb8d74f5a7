// The hooks file (`--hooks FILE`): read strictly at start-up, every error names the field and
// the value; the hook's stdin and the result's "hooks" as JSON.
#include "jobs/format/hooks_json.h"
#include "jobs/format/json_reader.h"

#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>

namespace cellblock {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

std::string error_of(const json& j) {
  try {
    read_hooks(j, "hooks.json");
  } catch (const FieldError& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(HooksJson, HooksAreReadWithTheirDefaults) {
  HookSet h = read_hooks(json::parse(R"({
    "prestart": [{"path": "/bin/sh", "args": ["-c", "exit 0"]},
                 {"name": "wire", "path": "/bin/true", "env": {"A": "b"}, "timeout_ms": 2500}],
    "poststop": [{"path": "/bin/false"}]})"));
  ASSERT_EQ(h.prestart.size(), 2u);
  EXPECT_EQ(h.prestart[0].name, "sh");  // the executable's name
  EXPECT_EQ(h.prestart[0].path, "/bin/sh");
  EXPECT_EQ(h.prestart[0].args, (std::vector<std::string>{"-c", "exit 0"}));
  EXPECT_EQ(h.prestart[0].timeout_ms, 10000u);
  EXPECT_EQ(h.prestart[0].env.size(), 1u);
  EXPECT_THAT(h.prestart[0].env.at("PATH"), HasSubstr("/usr/sbin"));
  EXPECT_EQ(h.prestart[1].name, "wire");
  EXPECT_EQ(h.prestart[1].env, (std::map<std::string, std::string>{{"A", "b"}}));
  EXPECT_EQ(h.prestart[1].timeout_ms, 2500u);
  ASSERT_EQ(h.poststop.size(), 1u);
  EXPECT_EQ(h.poststop[0].name, "false");
  EXPECT_TRUE(h.encode_input);
  EXPECT_TRUE(read_hooks(json::object()).empty());
}

TEST(HooksJson, BadHooksNameTheFieldAndTheValue) {
  EXPECT_EQ(error_of(json::array()), "hooks.json: expected an object, got []");
  EXPECT_THAT(error_of({{"prestop", json::array()}}), HasSubstr("hooks.json: prestop: unknown key"));
  EXPECT_THAT(error_of({{"prestart", {{{"path", "/no/such/hook"}}}}}),
              HasSubstr("hooks.json: prestart[0].path: \"/no/such/hook\": No such file or directory"));
  EXPECT_THAT(error_of({{"prestart", {{{"path", "bin/sh"}}}}}),
              HasSubstr("prestart[0].path: \"bin/sh\" is not an absolute path"));
  EXPECT_THAT(error_of({{"prestart", {{{"path", "/etc"}}}}}), HasSubstr("prestart[0].path: \"/etc\" is not a regular file"));
  const std::string plain = ::testing::TempDir() + "hooks-json-plain-file";
  std::ofstream(plain) << "not a program\n";
  std::filesystem::permissions(plain, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  EXPECT_THAT(error_of({{"poststop", {{{"path", plain}}}}}),
              HasSubstr("poststop[0].path: \"" + plain + "\" is not executable"));
  std::filesystem::remove(plain);
  EXPECT_THAT(error_of({{"prestart", {{{"path", "/bin/sh"}, {"timeout_ms", 0}}}}}), HasSubstr("prestart[0].timeout_ms: "));
  EXPECT_THAT(error_of({{"prestart", {{{"path", "/bin/sh"}, {"args", {1}}}}}}), HasSubstr("prestart[0].args[0]: "));
  EXPECT_THAT(error_of({{"prestart", {{{"path", "/bin/sh"}, {"user", "root"}}}}}), HasSubstr("prestart[0].user: unknown key"));
  EXPECT_THAT(error_of({{"prestart", {{{"path", "/bin/sh"}, {"name", "a b"}}}}}),
              HasSubstr("prestart[0].name: \"a b\" is not a hook name"));
  EXPECT_THAT(error_of({{"prestart", {{{"path", "/bin/sh"}}, {{"path", "/usr/bin/sh"}, {"name", "sh"}}}}}),
              HasSubstr("prestart[1].name: \"sh\" names two hooks"));
}

TEST(HooksJson, TheInputAndTheRunsAreJson) {
  HookInput in{"prestart", "job \"1\"", 4242, {{"net", "/proc/4242/ns/net"}}, {"/sys/fs/cgroup/pids/cellblock/job-1"}};
  const json j = json::parse(encode_hook_input(in));
  EXPECT_EQ(j, json::parse(R"({"stage": "prestart", "id": "job \"1\"", "pid": 4242,
                               "namespaces": {"net": "/proc/4242/ns/net"},
                               "cgroups": ["/sys/fs/cgroup/pids/cellblock/job-1"]})"));
  HookRun a;
  a.stage = "prestart";
  a.name = "wire";
  a.ok = true;
  a.exit_code = 0;
  a.timeout_ms = 100;
  HookRun b;
  b.stage = "poststop";
  b.name = "upload";
  b.timed_out = true;
  b.signal = 9;
  b.stderr_data = "slow";
  const json runs = hook_runs_to_json({a, b});
  EXPECT_EQ(runs["prestart"][0]["name"], "wire");
  EXPECT_EQ(runs["poststop"][0]["signal"], 9);
  const std::vector<HookRun> back = hook_runs_from_json(runs);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[1].stage, "poststop");
  EXPECT_TRUE(back[1].timed_out);
  EXPECT_EQ(back[1].stderr_data, "slow");
  EXPECT_EQ(back[0].exit_code, 0);
}

}  // namespace
}  // namespace cellblock
