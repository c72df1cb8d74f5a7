// Bridged networking's input, without privilege: subnets and egress_allow entries as the job
// format and the operator give them, and the nftables text a job adds and removes.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "executor/net/bridge_rules.h"
#include "executor/net/ipv4.h"
#include "executor/supervisor_state.h"
#include "jobs/format/job_json.h"

namespace cellblock {
namespace {

using nlohmann::json;

std::string error_of(const json& j) {
  try {
    job_from_json(j);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "";
}

json bridged() { return {{"rootfs", "/srv/root"}, {"command", {"/bin/true"}}, {"network", "bridge"}}; }

TEST(BridgeInput, ParsesNetworksStrictly) {
  const Ipv4Net n = parse_ipv4_net("10.88.0.0/16");
  EXPECT_EQ(n.address, 0x0a580000u);
  EXPECT_EQ(n.prefix, 16);
  EXPECT_EQ(ipv4_to_string(n.broadcast()), "10.88.255.255");
  EXPECT_EQ(parse_ipv4_net("1.2.3.4").prefix, 32);
  EXPECT_THROW(parse_ipv4_net("10.88.0.1/16"), std::invalid_argument);  // host bits
  EXPECT_THROW(parse_ipv4_net("10.88.0/16"), std::invalid_argument);
  EXPECT_THROW(parse_ipv4_net("10.88.0.256"), std::invalid_argument);
  EXPECT_THROW(parse_ipv4_net("10.88.0.0/33"), std::invalid_argument);
  EXPECT_THROW(parse_ipv4_net("010.1.1.1"), std::invalid_argument);
  EXPECT_TRUE(parse_ipv4_net("10.0.0.0/8").overlaps(parse_ipv4_net("10.88.0.0/16")));
  EXPECT_TRUE(parse_ipv4_net("10.88.0.0/16").overlaps(parse_ipv4_net("10.88.3.0/24")));
  EXPECT_FALSE(parse_ipv4_net("10.88.0.0/16").overlaps(parse_ipv4_net("10.89.0.0/16")));
}

TEST(BridgeInput, ParsesEgressRules) {
  EgressRule r = parse_egress_rule("192.0.2.0/24:443");
  EXPECT_EQ(r.net.to_string(), "192.0.2.0/24");
  ASSERT_TRUE(r.port);
  EXPECT_EQ(*r.port, 443);
  EXPECT_EQ(r.to_string(), "192.0.2.0/24:443");
  EXPECT_FALSE(parse_egress_rule("1.1.1.1").port);
  EXPECT_THROW(parse_egress_rule("1.1.1.1:0"), std::invalid_argument);
  EXPECT_THROW(parse_egress_rule("1.1.1.1:65536"), std::invalid_argument);
  EXPECT_THROW(parse_egress_rule("1.1.1.1:http"), std::invalid_argument);
}

TEST(BridgeInput, JobFormatNamesTheBadField) {
  json j = bridged();
  j["egress"] = true;
  j["egress_allow"] = {"10.0.0.0/8:53", "300.1.1.1/32"};
  EXPECT_EQ(error_of(j), "egress_allow[1]: \"300.1.1.1/32\" is not \"CIDR[:port]\": not an IPv4 address (a.b.c.d)");
  j["egress_allow"] = {"10.0.0.1/8"};
  EXPECT_EQ(error_of(j), "egress_allow[0]: \"10.0.0.1/8\" is not \"CIDR[:port]\": host bits set: the network of "
                         "10.0.0.1/8 is 10.0.0.0/8");
  json no_bridge = {{"rootfs", "/srv/root"}, {"command", {"/bin/true"}}, {"egress", true}};
  EXPECT_EQ(error_of(no_bridge), "egress: needs \"network\": \"bridge\" (a job with \"network\": \"none\" has only loopback)");
  json allow_only = bridged();
  allow_only["egress_allow"] = {"10.0.0.0/8"};
  EXPECT_EQ(error_of(allow_only), "egress_allow: needs \"egress\": true (it narrows egress, it does not grant it)");
}

TEST(BridgeInput, JobFormatRoundTrips) {
  json j = bridged();
  j["egress"] = true;
  j["egress_allow"] = {"10.0.0.0/8:53", "192.0.2.7/32"};
  JobSpec job = job_from_json(j);
  EXPECT_EQ(job.network, NetworkMode::bridge);
  EXPECT_TRUE(job.egress);
  ASSERT_EQ(job.egress_allow.size(), 2u);
  json back = job_to_json(job);
  EXPECT_EQ(back["network"], "bridge");
  EXPECT_EQ(back["egress"], true);
  EXPECT_EQ(back["egress_allow"], json({"10.0.0.0/8:53", "192.0.2.7/32"}));
  EXPECT_EQ(job_from_json(back).egress_allow[1].net.to_string(), "192.0.2.7/32");
}

TEST(BridgeInput, JobRulesAreRemovedExactly) {
  const uint32_t ip = 0x0a580005;
  const std::string add = attach_job_rules("cb9", "cbv-0a580005", ip, true, {parse_egress_rule("10.88.0.1/32:8080")});
  EXPECT_NE(add.find("add chain inet cb9 j-0a580005"), std::string::npos);
  EXPECT_NE(add.find("ip daddr 10.88.0.1/32 meta l4proto { tcp, udp } th dport 8080 accept"), std::string::npos);
  EXPECT_NE(add.find("egress { 10.88.0.5 : jump j-0a580005 }"), std::string::npos);
  const auto del = detach_job_rules("cb9", "cbv-0a580005", ip, true);
  ASSERT_EQ(del.size(), 4u);
  EXPECT_EQ(del[0], "delete element inet cb9 egress { 10.88.0.5 }\n");
  // Without egress there is no chain, so nothing of it to delete.
  EXPECT_EQ(attach_job_rules("cb9", "cbv-0a580005", ip, false, {}).find("chain"), std::string::npos);
  EXPECT_EQ(detach_job_rules("cb9", "cbv-0a580005", ip, false).size(), 2u);
}

TEST(BridgeInput, JobStateRecordsTheLease) {
  JobState s;
  s.job_id = "b-1";
  s.cell_pid = 42;
  s.cgroups = {"/sys/fs/cgroup/x/job-1"};
  s.net = JobState::Net{"cellblock0", "10.88.0.5", "cbv-0a580005"};
  const std::string text = format_job_state(s);
  EXPECT_NE(text.find("net cellblock0 10.88.0.5 cbv-0a580005\n"), std::string::npos);
  auto back = parse_job_state(text);
  ASSERT_TRUE(back);
  ASSERT_TRUE(back->net);
  EXPECT_EQ(back->net->address, "10.88.0.5");
  EXPECT_EQ(back->net->veth, "cbv-0a580005");
  // Cut short in the `net` line (a supervisor killed while writing it): not a job file.
  EXPECT_FALSE(parse_job_state(text.substr(0, text.size() - 4)));
  EXPECT_FALSE(parse_job_state("job_id x\ncell_pid 1\nnet cellblock0 10.88.0.5\n"));  // a field missing
}

}  // namespace
}  // namespace cellblock
