// The job format is strict: every error names the field, the value and why.
#include "jobs/format/job_json.h"
#include "jobs/format/result_json.h"

#include <gmock/gmock.h>

namespace cellblock {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

json minimal() { return {{"rootfs", "/srv/root"}, {"command", {"/bin/true"}}}; }

std::string error_of(const json& j, const json& defaults = nullptr) {
  try {
    job_from_json(j, defaults);
  } catch (const FieldError& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(JobJson, MinimalJobGetsTheDefaults) {
  JobSpec j = job_from_json(minimal());
  EXPECT_EQ(j.rootfs, "/srv/root");
  EXPECT_EQ(j.command, std::vector<std::string>{"/bin/true"});
  EXPECT_TRUE(j.env.empty());
  EXPECT_EQ(j.cwd, "/");
  EXPECT_EQ(j.hostname, "cellblock");
  EXPECT_EQ(j.limits.wall_time_ms, 10000u);
  EXPECT_EQ(j.limits.output_bytes, 1u << 20);
  EXPECT_EQ(j.limits.writable_bytes, 64u << 20);
  EXPECT_EQ(j.limits.open_files, 256u);
  EXPECT_EQ(j.limits.file_size_bytes, 64u << 20);
  EXPECT_FALSE(j.limits.cpu_time_ms.has_value());
}

TEST(JobJson, FullJobIsRead) {
  json j = minimal();
  j["id"] = "job-1";
  j["env"] = {{"PATH", "/usr/bin:/bin"}};
  j["cwd"] = "/work";
  j["hostname"] = "box";
  j["stdin"] = "text";
  j["mounts"] = {{{"source", "/host/in"}, {"target", "/in"}, {"readonly", true}},
                 {{"source", "/host/out"}, {"target", "/out"}, {"readonly", false}}};
  j["network"] = "none";
  j["limits"] = {{"wall_time_ms", 500},     {"output_bytes", 100},     {"writable_bytes", 1 << 20},
                 {"open_files", 64},        {"file_size_bytes", 4096}, {"memory_bytes", 64 << 20},
                 {"cpu_time_ms", 1000},     {"cpus", 0.5},             {"pids", 32},
                 {"data_bytes", 32 << 20},  {"address_space_bytes", 1ull << 30},
                 {"io", {{{"device", "/dev/vda"}, {"write_bps", 16 << 20}}}}};
  JobSpec s = job_from_json(j);
  EXPECT_EQ(s.id, "job-1");
  EXPECT_EQ(s.env.at("PATH"), "/usr/bin:/bin");
  EXPECT_EQ(s.cwd, "/work");
  EXPECT_EQ(s.stdin_data, "text");
  ASSERT_EQ(s.mounts.size(), 2u);
  EXPECT_FALSE(s.mounts[1].readonly);
  EXPECT_EQ(s.limits.wall_time_ms, 500u);
  EXPECT_EQ(s.limits.cpu_time_ms, 1000u);
  EXPECT_EQ(s.limits.cpus, 0.5);
  EXPECT_EQ(s.limits.pids, 32u);
  EXPECT_EQ(s.limits.data_bytes, 32u << 20);
  EXPECT_EQ(s.limits.address_space_bytes, 1ull << 30);
  ASSERT_EQ(s.limits.io.size(), 1u);
  EXPECT_EQ(s.limits.io[0].write_bps, 16u << 20);
  // And back: the JSON form of a job parses to the same job.
  JobSpec again = job_from_json(job_to_json(s));
  EXPECT_EQ(job_to_json(again), job_to_json(s));
}

TEST(JobJson, UnknownKeysAreRejectedByName) {
  json j = minimal();
  j["comand"] = {"x"};
  EXPECT_THAT(error_of(j), HasSubstr("comand: unknown key"));
  j = minimal();
  j["limits"] = {{"wall_time", 5}};
  EXPECT_THAT(error_of(j), HasSubstr("limits.wall_time: unknown key"));
  j = minimal();
  j["mounts"] = {{{"source", "/a"}, {"target", "/b"}, {"ro", true}}};
  EXPECT_THAT(error_of(j), HasSubstr("mounts[0].ro: unknown key"));
}

TEST(JobJson, RequiredFieldsAndTypes) {
  EXPECT_EQ(error_of(json{{"command", {"x"}}}), "rootfs: is required");
  EXPECT_EQ(error_of(json{{"rootfs", "/r"}}), "command: is required");
  EXPECT_EQ(error_of(json{{"rootfs", "/r"}, {"command", json::array()}}), "command: must not be empty");
  EXPECT_EQ(error_of(json{{"rootfs", "/r"}, {"command", "ls"}}), "command: expected an array of strings, got \"ls\"");
  EXPECT_EQ(error_of(json{{"rootfs", 5}, {"command", {"x"}}}), "rootfs: expected a string, got 5");
  EXPECT_EQ(error_of(json::array()), "expected an object, got []");
  json j = minimal();
  j["env"] = {{"A", 1}};
  EXPECT_EQ(error_of(j), "env.A: expected a string, got 1");
  j = minimal();
  j["network"] = "host";
  EXPECT_EQ(error_of(j), "network: \"host\" is not supported (supported: \"none\", \"bridge\")");
  j = minimal();
  j["hostname"] = "bad host!";
  EXPECT_THAT(error_of(j), HasSubstr("hostname: \"bad host!\" is not a hostname"));
}

TEST(JobJson, AbsurdLimitsAreRejectedWithTheReason) {
  auto with_limit = [](const char* key, json value) {
    json j = minimal();
    j["limits"][key] = value;
    return error_of(j);
  };
  EXPECT_EQ(with_limit("wall_time_ms", -5), "limits.wall_time_ms: must not be negative, got -5");
  EXPECT_EQ(with_limit("wall_time_ms", 0), "limits.wall_time_ms: 0 is too small (at least 1)");
  EXPECT_EQ(with_limit("wall_time_ms", "10s"), "limits.wall_time_ms: expected a whole number, got \"10s\"");
  EXPECT_EQ(with_limit("memory_bytes", 1000),
            "limits.memory_bytes: 1000 is too small (at least 1048576: a process needs more than that to start)");
  EXPECT_EQ(with_limit("pids", 0), "limits.pids: 0 is too small (at least 1: the command itself is one task)");
  EXPECT_THAT(with_limit("cpus", 0), HasSubstr("limits.cpus: 0 is out of range"));
  EXPECT_THAT(with_limit("cpus", -1), HasSubstr("limits.cpus: -1 is out of range"));
  EXPECT_THAT(with_limit("open_files", 2), HasSubstr("limits.open_files: 2 is too small"));
  EXPECT_THAT(with_limit("data_bytes", 4096), HasSubstr("limits.data_bytes: 4096 is too small"));
  EXPECT_THAT(with_limit("address_space_bytes", "1G"), HasSubstr("limits.address_space_bytes: expected a whole number"));
  EXPECT_THAT(with_limit("wall_time_ms", 1e300), HasSubstr("is too large"));
  EXPECT_THAT(with_limit("io", json::array({{{"device", "/dev/vda"}}})),
              HasSubstr("limits.io[0]: sets no limit"));
  EXPECT_THAT(with_limit("io", json::array({{{"write_bps", 100000}}})), HasSubstr("limits.io[0].device: is required"));
}

TEST(JobJson, TimeNamespaceIsABooleanAndRoundTrips) {
  EXPECT_FALSE(job_from_json(minimal()).time_namespace);
  json j = minimal();
  j["time_namespace"] = true;
  JobSpec job = job_from_json(j);
  EXPECT_TRUE(job.time_namespace);
  EXPECT_TRUE(job_from_json(job_to_json(job)).time_namespace);
  j["time_namespace"] = "yes";
  EXPECT_THAT(error_of(j), HasSubstr("time_namespace"));
}

TEST(JobJson, DefaultsAreMergedUnderTheJob) {
  json defaults = {{"rootfs", "/default/root"}, {"limits", {{"memory_bytes", 64 << 20}, {"pids", 16}}}};
  json j = {{"command", {"/bin/true"}}, {"limits", {{"pids", 8}}}};
  JobSpec s = job_from_json(j, defaults);
  EXPECT_EQ(s.rootfs, "/default/root");
  EXPECT_EQ(s.limits.memory_bytes, 64u << 20);
  EXPECT_EQ(s.limits.pids, 8u);
}

TEST(JobJson, SyntaxErrorsNameTheLine) {
  try {
    job_from_text("{\n\"rootfs\": \"/r\",\n\"command\": [\"x\"],\n}");
    FAIL() << "accepted";
  } catch (const FieldError& e) {
    EXPECT_THAT(e.what(), HasSubstr("invalid JSON"));
    EXPECT_THAT(e.what(), HasSubstr("line 4"));
  }
}

TEST(ResultJson, RoundTripsAndUsesNullForAbsentValues) {
  Result r;
  r.id = "x";
  r.status = Status::signaled;
  r.signal = 9;
  r.stdout_data = "out";
  r.stats.wall_time_ms = 3.5;
  r.stats.memory_peak_bytes = 1234;
  r.stats.cgroup_version = 1;
  json j = result_to_json(r);
  EXPECT_TRUE(j["exit_code"].is_null());
  EXPECT_TRUE(j["error"].is_null());
  EXPECT_EQ(j["signal"], 9);
  EXPECT_EQ(j["status"], "signaled");
  Result back = result_from_json(j);
  EXPECT_EQ(result_to_json(back), j);
}

TEST(ResultJson, InvalidUtf8OutputIsReplacedNotFatal) {
  Result r;
  r.stdout_data = std::string("ok \xff\xfe bytes");
  std::string text = dump_json(result_to_json(r));
  EXPECT_THAT(text, HasSubstr("ok "));
  EXPECT_NO_THROW(json::parse(text));
}

}  // namespace
}  // namespace cellblock

namespace cellblock {
namespace {

TEST(JobRequest, ReadsTheQueueKeys) {
  nlohmann::json j = {{"rootfs", "/r"}, {"command", {"x"}}, {"priority", 5}, {"queue_timeout_ms", 2000}};
  JobRequest r = request_from_json(j);
  EXPECT_EQ(r.priority, 5);
  EXPECT_EQ(r.queue_timeout_ms, 2000u);
  EXPECT_EQ(r.job.rootfs, "/r");
  j["priority"] = "high";
  EXPECT_THROW(request_from_json(j), FieldError);
  // The plain job parser does not know them: they belong to the queue.
  EXPECT_THROW(job_from_json({{"rootfs", "/r"}, {"command", {"x"}}, {"priority", 1}}), FieldError);
}

TEST(JobRequest, DefaultsCanSetThem) {
  JobRequest r = request_from_json({{"command", {"x"}}}, {{"rootfs", "/r"}, {"priority", -2}});
  EXPECT_EQ(r.priority, -2);
}

}  // namespace
}  // namespace cellblock
