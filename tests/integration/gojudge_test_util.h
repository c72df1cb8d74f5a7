// Helpers for the tests of go-judge's API on `cellblock serve` (gojudge_*test.cc): POST /run
// through curl over the service's unix socket, cmds in go-judge's usual shape.
#pragma once

#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/integration/service_test_util.h"

namespace cellblock::test::gojudge_test {

using nlohmann::json;

inline constexpr uint64_t kMiB = 1 << 20;
inline constexpr uint64_t kNsPerMs = 1'000'000;

// POST /run with `request`; the status code and the body.
inline Http post_run(const Scratch& s, const Serve& serve, const json& request) {
  return curl_unix(s, serve, {"-X", "POST", "-H", "Content-Type: application/json", "--data-binary",
                              "@" + s.write("run.json", request.dump())},
                   "/run");
}

// POST /run that must answer 200 with one result per cmd.
inline json run_ok(const Scratch& s, const Serve& serve, const json& request) {
  Http h = post_run(s, serve, request);
  EXPECT_EQ(h.code, 200) << h.body;
  json results = json::parse(h.body);
  EXPECT_TRUE(results.is_array()) << h.body;
  EXPECT_EQ(results.size(), request["cmd"].size()) << h.body;
  return results;
}

// A cmd in go-judge's usual shape: stdin from `stdin`, stdout and stderr collected.
inline json cmd(std::vector<std::string> args, const std::string& stdin_text = "", uint64_t out_max = 10240) {
  return {{"args", args},
          {"env", {"PATH=/usr/bin:/bin"}},
          {"files", {{{"content", stdin_text}}, {{"name", "stdout"}, {"max", out_max}}, {{"name", "stderr"}, {"max", out_max}}}},
          {"cpuLimit", 10'000 * kNsPerMs},
          {"memoryLimit", 256 * kMiB},
          {"procLimit", 50}};
}

inline json sh(const std::string& script) { return cmd({"/bin/sh", "-c", script}); }

// The tmpfs working directories the service mounted under the scratch: none once every /run
// has answered.
inline std::vector<std::string> work_mounts(const Scratch& s) {
  std::vector<std::string> found;
  std::istringstream mounts(read_file("/proc/self/mountinfo"));
  for (std::string line; std::getline(mounts, line);)
    if (line.find(s.path("state/gojudge")) != std::string::npos) found.push_back(line);
  return found;
}

}  // namespace cellblock::test::gojudge_test
