// Bridged networking, host side: the bridge (created on demand with its gateway address and its
// nftables tables, bridge_rules.h), one address lease per job (leases.h), and per job a veth pair
// whose cell end is eth0 in the job's fresh network namespace with its address and a default
// route through the gateway, configured from here before the cell starts. docs/networking.md.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "executor/base/unique_fd.h"
#include "executor/net/bridge_rules.h"
#include "executor/net/ipv4.h"
#include "executor/net/leases.h"

namespace cellblock {

struct BridgeConfig {
  std::string name = "cellblock0";      // the bridge and its two nftables tables
  std::string subnet = "10.88.0.0/16";  // the gateway is its first host, jobs get the rest
  // Nameservers written to the cells' /etc/resolv.conf. Empty: the host's own, except loopback
  // ones (a cell cannot reach the host's 127.0.0.53).
  std::vector<std::string> resolvers;
};

class Bridge;

// One job's place on the bridge. Its destructor takes it back: the rules, then the lease (so an
// address is never leased again while its rules stand). The veth goes with the job's network
// namespace, which the kernel destroys once the cell is gone.
class BridgeLease {
 public:
  ~BridgeLease();
  BridgeLease(const BridgeLease&) = delete;
  BridgeLease& operator=(const BridgeLease&) = delete;

  uint32_t address() const { return address_; }
  const std::string& veth() const { return veth_; }
  // The job's network namespace, configured: for launch_cell to enter.
  UniqueFd take_netns() { return std::move(netns_); }

 private:
  friend class Bridge;
  explicit BridgeLease(Bridge& bridge) : bridge_(bridge) {}
  Bridge& bridge_;
  uint32_t address_ = 0;  // 0: none leased
  std::string veth_;      // empty: none made
  bool rules_ = false;
  bool egress_ = false;
  UniqueFd netns_;
};

class Bridge {
 public:
  // Makes the bridge, its address and its tables if they are missing (under a lock file, as
  // other supervisors may do the same) and the cells' resolv.conf. Throws NetworkError when the
  // subnet is bad, overlaps a host route or address, or the bridge has another address.
  // `owner` names this supervisor in its leases (sv-<pid>-<start>).
  Bridge(BridgeConfig config, const std::string& state_dir, std::string owner);

  // Leases an address and wires a namespace for it: `netns` if valid (a pooled one, loopback up),
  // else a fresh one. Throws NetworkError (no free address) or SysError/NftError.
  std::unique_ptr<BridgeLease> attach(UniqueFd netns, bool egress, const std::vector<EgressRule>& allow);

  // The file bound read-only at /etc/resolv.conf in bridged cells.
  const std::string& resolv_conf() const { return resolv_conf_; }
  const BridgeAddressing& addressing() const { return addressing_; }

  // For the cleanup after a crash (crash_cleanup.h): what a gone supervisor left of one lease.
  // Idempotent; returns what failed, empty when all is gone.
  static std::vector<std::string> release_leftover(const std::string& state_dir, const std::string& bridge,
                                                   uint32_t address);
  // Every lease of every bridge under the state directory: (bridge, address, owner).
  struct LeaseRecord {
    std::string bridge;
    uint32_t address;
    std::string owner;
  };
  static std::vector<LeaseRecord> list_leases(const std::string& state_dir);
  // Deletes a bridge, its tables and its lease directory (tests, and operators tidying up).
  static void remove(const std::string& state_dir, const std::string& name);

  static std::string veth_name(uint32_t address);  // "cbv-0a580005": unique, as subnets never overlap
  static std::string lease_dir(const std::string& state_dir, const std::string& bridge);

 private:
  friend class BridgeLease;
  void detach(BridgeLease& lease) noexcept;
  void enable_forwarding();

  BridgeConfig config_;
  BridgeAddressing addressing_;
  std::string owner_;
  std::string resolv_conf_;
  std::mutex leases_mutex_;
  LeaseDir leases_;
  std::once_flag forwarding_;
};

}  // namespace cellblock
