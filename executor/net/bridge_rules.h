// The nftables rules of one cellblock bridge, as nft text (run by nft.h). Two tables named like
// the bridge, owned by cellblock and by nothing else:
//
//   table bridge <name>   frames between the bridge's ports: dropped, so bridged jobs never reach
//                         each other; a port may only send from the address it leased (no
//                         spoofing another job's egress).
//   table inet <name>     what jobs send to the host (input) and through it (forward): dropped
//                         unless the sending address jumps to its job's egress chain, which
//                         accepts the job's allowed destinations; replies come back
//                         (established,related); outbound NAT (masquerade) for the subnet.
//
// Each job with egress adds a chain j-<address in hex> and one element of the `egress` verdict
// map; every job adds its port to the bridge table's two sets. Detaching removes exactly those.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "executor/net/ipv4.h"

namespace cellblock {

struct BridgeAddressing {
  std::string name;  // the bridge, and both tables
  Ipv4Net subnet;
  uint32_t gateway = 0;  // the bridge's own address: the subnet's first host
};

// Both tables with their base chains, sets and map, in one transaction.
std::string bridge_tables_rules(const BridgeAddressing& b);
// Deletes both tables (and with them every job's chain and element).
std::string delete_bridge_tables_rules(const std::string& name);

// A job's port and, if it has egress, its chain and map element. An empty `allow` with egress
// means anywhere except the host's own addresses other than the gateway.
std::string attach_job_rules(const std::string& bridge, const std::string& veth, uint32_t address, bool egress,
                             const std::vector<EgressRule>& allow);
// The same, removed: one command per line, so that a caller can run them one by one when the
// whole fails (part already gone after a crash). `egress`: whether the job had an egress chain
// (after a crash, unknown: pass true and run the lines one by one).
std::vector<std::string> detach_job_rules(const std::string& bridge, const std::string& veth, uint32_t address,
                                          bool egress);

// The egress chain's name for an address: "j-0a580005".
std::string job_chain_name(uint32_t address);

}  // namespace cellblock
