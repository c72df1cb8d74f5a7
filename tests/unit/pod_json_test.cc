// "pod" in the job format: services read strictly, every error names the field.
#include "jobs/format/job_json.h"
#include "jobs/format/result_json.h"

#include <gmock/gmock.h>

namespace cellblock {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

json with_services(json services) {
  return {{"rootfs", "/srv/root"}, {"command", {"/bin/true"}}, {"limits", {{"wall_time_ms", 2000}}},
          {"pod", {{"services", std::move(services)}}}};
}

json db() { return {{"name", "db"}, {"command", {"/bin/db", "--port", "5432"}}, {"ready", {{"tcp", 5432}, {"timeout_ms", 3000}}}}; }

std::string error_of(const json& j) {
  try {
    job_from_json(j);
  } catch (const FieldError& e) {
    return e.what();
  }
  return "(accepted)";
}

TEST(PodJson, ServicesAreReadWithTheirDefaults) {
  json web = {{"name", "web-1"}, {"command", {"httpd"}}, {"rootfs", "/srv/web"}, {"env", {{"A", "b"}}},
              {"limits", {{"memory_bytes", 64 << 20}, {"wall_time_ms", 500}}}};
  JobSpec job = job_from_json(with_services({db(), web}));
  ASSERT_EQ(job.services.size(), 2u);
  const PodService& d = job.services[0];
  EXPECT_EQ(d.name, "db");
  EXPECT_EQ(d.command, (std::vector<std::string>{"/bin/db", "--port", "5432"}));
  EXPECT_EQ(d.rootfs, "");
  EXPECT_FALSE(d.env.has_value());
  EXPECT_EQ(d.ready_tcp_port, 5432);
  EXPECT_EQ(d.ready_timeout_ms, 3000u);
  EXPECT_EQ(d.limits.wall_time_ms, 2000u + 3000u);  // the job's wall time and its ready timeout
  EXPECT_EQ(d.limits.memory_bytes, Limits{}.memory_bytes);
  const PodService& w = job.services[1];
  EXPECT_EQ(w.rootfs, "/srv/web");
  EXPECT_EQ(w.env->at("A"), "b");
  EXPECT_EQ(w.ready_tcp_port, 0);
  EXPECT_EQ(w.limits.memory_bytes, 64u << 20);
  EXPECT_EQ(w.limits.wall_time_ms, 500u);
}

TEST(PodJson, RoundTripsThroughJobToJson) {
  JobSpec job = job_from_json(with_services({db()}));
  JobSpec again = job_from_json(job_to_json(job));
  ASSERT_EQ(again.services.size(), 1u);
  EXPECT_EQ(again.services[0].name, "db");
  EXPECT_EQ(again.services[0].ready_tcp_port, 5432);
  EXPECT_EQ(again.services[0].limits.wall_time_ms, job.services[0].limits.wall_time_ms);
}

TEST(PodJson, BadServicesAreRejectedByField) {
  json twice = db();
  EXPECT_THAT(error_of(with_services({db(), twice})), HasSubstr("pod.services[1].name"));
  EXPECT_THAT(error_of(with_services({db(), twice})), HasSubstr("names two services"));
  json bad_name = db();
  bad_name["name"] = "Data Base";
  EXPECT_THAT(error_of(with_services({bad_name})), HasSubstr("pod.services[0].name"));
  json no_command = db();
  no_command.erase("command");
  EXPECT_THAT(error_of(with_services({no_command})), HasSubstr("pod.services[0]"));
  EXPECT_THAT(error_of(with_services({no_command})), HasSubstr("command"));
  json empty_command = db();
  empty_command["command"] = json::array();
  EXPECT_THAT(error_of(with_services({empty_command})), HasSubstr("pod.services[0].command"));
  json port_zero = db();
  port_zero["ready"]["tcp"] = 0;
  EXPECT_THAT(error_of(with_services({port_zero})), HasSubstr("pod.services[0].ready.tcp"));
  json port_big = db();
  port_big["ready"]["tcp"] = 70000;
  EXPECT_THAT(error_of(with_services({port_big})), HasSubstr("pod.services[0].ready.tcp"));
  json no_port = db();
  no_port["ready"] = {{"timeout_ms", 10}};
  EXPECT_THAT(error_of(with_services({no_port})), HasSubstr("pod.services[0].ready"));
  json bad_timeout = db();
  bad_timeout["ready"]["timeout_ms"] = 0;
  EXPECT_THAT(error_of(with_services({bad_timeout})), HasSubstr("pod.services[0].ready.timeout_ms"));
  json unknown = db();
  unknown["volumes"] = json::array();
  EXPECT_THAT(error_of(with_services({unknown})), HasSubstr("volumes"));
  json bad_limit = db();
  bad_limit["limits"] = {{"memory_bytes", 1}};
  EXPECT_THAT(error_of(with_services({bad_limit})), HasSubstr("pod.services[0].limits.memory_bytes"));
  EXPECT_THAT(error_of(with_services(json::array())), HasSubstr("pod.services"));
}

TEST(PodJson, ServiceResultsAreObjectsByName) {
  Result r;
  r.status = Status::exited;
  r.exit_code = 0;
  Result service;
  service.status = Status::cancelled;
  service.stdout_data = "listening\n";
  r.services.push_back({"db", service});
  json j = result_to_json(r);
  EXPECT_EQ(j["services"]["db"]["status"], "cancelled");
  EXPECT_EQ(j["services"]["db"]["stdout"], "listening\n");
  Result back = result_from_json(j);
  ASSERT_EQ(back.services.size(), 1u);
  EXPECT_EQ(back.services[0].name, "db");
  EXPECT_EQ(back.services[0].result.stdout_data, "listening\n");
}

}  // namespace
}  // namespace cellblock
