#include "executor/net/bridge_rules.h"

#include <cstdio>

namespace cellblock {
namespace {

std::string q(const std::string& s) { return "\"" + s + "\""; }

}  // namespace

std::string job_chain_name(uint32_t address) {
  char name[16];
  std::snprintf(name, sizeof name, "j-%08x", address);
  return name;
}

std::string bridge_tables_rules(const BridgeAddressing& b) {
  const std::string br = q(b.name);
  const std::string gw = ipv4_to_string(b.gateway);
  // Priority filter - 1: before the host's own filter chains, so that what we drop is dropped
  // whatever they accept. An accept here does not override a drop elsewhere (nftables runs every
  // base chain), which is why the host's firewall keeps the last word for egress.
  return "table inet " + b.name + " {\n"
         "  map egress { type ipv4_addr : verdict; }\n"
         "  chain input {\n"
         "    type filter hook input priority filter - 1; policy accept;\n"
         "    iifname " + br + " ct state established,related accept\n"
         "    iifname " + br + " ip daddr " + gw + " ip saddr vmap @egress\n"
         "    iifname " + br + " drop\n"
         "  }\n"
         "  chain forward {\n"
         "    type filter hook forward priority filter - 1; policy accept;\n"
         "    iifname " + br + " oifname " + br + " drop\n"
         "    oifname " + br + " ct state established,related accept\n"
         "    oifname " + br + " drop\n"
         "    iifname " + br + " ip saddr vmap @egress\n"
         "    iifname " + br + " drop\n"
         "  }\n"
         "  chain postrouting {\n"
         "    type nat hook postrouting priority srcnat; policy accept;\n"
         "    ip saddr " + b.subnet.to_string() + " oifname != " + br + " masquerade\n"
         "  }\n"
         "}\n"
         "table bridge " + b.name + " {\n"
         "  set port_names { type ifname; }\n"
         "  set ports { type ifname . ipv4_addr; }\n"
         "  chain forward {\n"
         "    type filter hook forward priority filter; policy accept;\n"
         "    iifname @port_names drop\n"
         "  }\n"
         "  chain input {\n"
         "    type filter hook input priority filter; policy accept;\n"
         "    iifname @port_names ether type ip iifname . ip saddr != @ports drop\n"
         "  }\n"
         "}\n";
}

std::string delete_bridge_tables_rules(const std::string& name) {
  return "delete table inet " + name + "\ndelete table bridge " + name + "\n";
}

std::string attach_job_rules(const std::string& bridge, const std::string& veth, uint32_t address, bool egress,
                             const std::vector<EgressRule>& allow) {
  const std::string ip = ipv4_to_string(address);
  std::string out = "add element bridge " + bridge + " port_names { " + q(veth) + " }\n"
                    "add element bridge " + bridge + " ports { " + q(veth) + " . " + ip + " }\n";
  if (!egress) return out;
  const std::string chain = "inet " + bridge + " " + job_chain_name(address);
  out += "add chain " + chain + "\n";
  if (allow.empty()) out += "add rule " + chain + " accept\n";
  for (const EgressRule& r : allow)
    out += "add rule " + chain + " ip daddr " + r.net.to_string() +
           (r.port ? " meta l4proto { tcp, udp } th dport " + std::to_string(*r.port) : "") + " accept\n";
  out += "add element inet " + bridge + " egress { " + ip + " : jump " + job_chain_name(address) + " }\n";
  return out;
}

std::vector<std::string> detach_job_rules(const std::string& bridge, const std::string& veth, uint32_t address,
                                          bool egress) {
  const std::string ip = ipv4_to_string(address);
  const std::string chain = "inet " + bridge + " " + job_chain_name(address);
  std::vector<std::string> out;
  // The map element first: a chain that is still jumped to cannot be deleted.
  if (egress) {
    out.push_back("delete element inet " + bridge + " egress { " + ip + " }\n");
    out.push_back("flush chain " + chain + "\ndelete chain " + chain + "\n");
  }
  out.push_back("delete element bridge " + bridge + " ports { " + q(veth) + " . " + ip + " }\n");
  out.push_back("delete element bridge " + bridge + " port_names { " + q(veth) + " }\n");
  return out;
}

}  // namespace cellblock
