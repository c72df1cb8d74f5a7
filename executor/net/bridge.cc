#include "executor/net/bridge.h"

#include <fcntl.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <exception>
#include <filesystem>
#include <sstream>
#include <thread>

#include "executor/base/host_file.h"
#include "executor/base/sys_error.h"
#include "executor/cell/child_error.h"
#include "executor/cell/net_apply.h"
#include "executor/net/netlink.h"
#include "executor/net/nft.h"

namespace cellblock {
namespace {

constexpr char kCellInterface[] = "eth0";

Ipv4Net parse_subnet(const std::string& text) {
  Ipv4Net net;
  try {
    net = parse_ipv4_net(text);
  } catch (const std::invalid_argument& e) {
    throw NetworkError("bridge subnet " + cellblock::quoted(text) + ": " + e.what());
  }
  if (net.prefix > 30)
    throw NetworkError("bridge subnet " + cellblock::quoted(text) + ": too small (at most /30: a gateway and one job)");
  if (net.prefix < 8) throw NetworkError("bridge subnet " + cellblock::quoted(text) + ": too large (at least /8)");
  return net;
}

std::string link_name(const std::vector<LinkInfo>& links, int index) {
  for (const LinkInfo& l : links)
    if (l.index == index) return l.name;
  return "#" + std::to_string(index);
}

// A subnet that overlaps a route or an address of the host would make some of the host's own
// destinations unreachable for it (or jobs' for the host): refused, naming the culprit.
void check_no_overlap(Netlink& nl, const BridgeAddressing& b, int bridge_index) {
  const std::vector<LinkInfo> links = list_links(nl);
  const std::string subnet = "bridge subnet " + b.subnet.to_string();
  for (const AddressInfo& a : list_ipv4_addresses(nl))
    if (a.index != bridge_index && a.net.overlaps(b.subnet))
      throw NetworkError(subnet + " overlaps the host's address " + ipv4_to_string(a.local) + "/" +
                         std::to_string(a.net.prefix) + " on " + cellblock::quoted(link_name(links, a.index)) +
                         ": choose another subnet");
  for (const RouteInfo& r : list_ipv4_routes(nl))
    if (r.dst.prefix > 0 && r.oif != bridge_index && r.table != RT_TABLE_LOCAL && r.dst.overlaps(b.subnet))
      throw NetworkError(subnet + " overlaps the host's route to " + r.dst.to_string() +
                         (r.oif ? " on " + cellblock::quoted(link_name(links, r.oif)) : std::string()) +
                         ": choose another subnet");
}


// Who else may be making the same bridge: every supervisor on the host. An flock on a file beside
// the leases makes the check-then-create one step.
class BridgeLock {
 public:
  explicit BridgeLock(const std::string& path) : fd_(::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600)) {
    if (!fd_) throw_sys("open(" + cellblock::quoted(path) + ")");
    int rc;
    do rc = ::flock(fd_.get(), LOCK_EX); while (rc != 0 && errno == EINTR);
    if (rc != 0) throw_sys("flock(" + cellblock::quoted(path) + ", LOCK_EX)");
  }

 private:
  UniqueFd fd_;
};

void make_bridge_if_missing(const BridgeAddressing& b) {
  Netlink nl;
  std::optional<int> index = link_index(nl, b.name);
  check_no_overlap(nl, b, index.value_or(0));
  if (!index) {
    create_bridge(nl, b.name);
    index = link_index(nl, b.name);
    if (!index) throw NetworkError("bridge " + cellblock::quoted(b.name) + ": gone right after it was made");
  }
  bool has_gateway = false;
  for (const AddressInfo& a : list_ipv4_addresses(nl)) {
    if (a.index != *index) continue;
    if (a.local == b.gateway && a.net.prefix == b.subnet.prefix) has_gateway = true;
    else
      throw NetworkError("bridge " + cellblock::quoted(b.name) + " already has the address " + ipv4_to_string(a.local) +
                         "/" + std::to_string(a.net.prefix) + ", not " + ipv4_to_string(b.gateway) + "/" +
                         std::to_string(b.subnet.prefix) + " of the configured subnet " + b.subnet.to_string());
  }
  if (!has_gateway) add_ipv4_address(nl, *index, b.gateway, b.subnet.prefix, b.name);
  set_link_up(nl, *index, b.name);
  // Both tables or neither: they are made in one transaction.
  if (!nft_try("list table inet " + b.name)) nft_run(bridge_tables_rules(b));
}

std::vector<std::string> host_resolvers() {
  std::vector<std::string> out;
  std::string text;
  try {
    text = read_host_file("/etc/resolv.conf");
  } catch (const std::exception& e) {
    spdlog::warn("bridge: no resolver for cells: {}", e.what());
    return out;
  }
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string key, value;
    if (!(words >> key >> value) || key != "nameserver") continue;
    auto ip = parse_ipv4(value);
    if (ip && (*ip >> 24) != 127) out.push_back(value);
  }
  return out;
}

std::string write_resolv_conf(const std::string& dir, const std::vector<std::string>& configured) {
  std::string text = "# written by cellblock for bridged cells\n";
  const std::vector<std::string> resolvers = configured.empty() ? host_resolvers() : configured;
  for (const std::string& r : resolvers) {
    if (!parse_ipv4(r)) throw NetworkError("bridge resolver " + cellblock::quoted(r) + ": not an IPv4 address");
    text += "nameserver " + r + "\n";
  }
  // Written beside and renamed over: a cell starting meanwhile binds the old file or the new one.
  const std::string path = dir + "/resolv.conf";
  const std::string tmp = path + "." + std::to_string(::getpid());
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644));
    if (!fd) throw_sys("open(" + cellblock::quoted(tmp) + ")");
    write_all(fd.get(), text, cellblock::quoted(tmp));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) throw_sys("rename(" + cellblock::quoted(tmp) + ")");
  return path;
}

// The thread that made (or entered) the namespace leaves it when it ends; the socket it opened
// there keeps speaking for that namespace.
struct CellNetns {
  UniqueFd fd;
  std::unique_ptr<Netlink> netlink;
};

CellNetns enter_cell_netns(UniqueFd pooled) {
  CellNetns ns;
  ns.fd = std::move(pooled);
  std::exception_ptr error;
  std::thread([&] {
    try {
      if (ns.fd) {
        if (::setns(ns.fd.get(), CLONE_NEWNET) != 0) throw_sys("setns(CLONE_NEWNET) into a pooled namespace");
      } else {
        if (::unshare(CLONE_NEWNET) != 0) throw_sys("unshare(CLONE_NEWNET)");
        ns.fd.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
        if (!ns.fd) throw_sys("open(\"/proc/thread-self/ns/net\")");
        ChildError e;
        if (!bring_up_loopback(e)) throw SysError(e.err, e.what);
      }
      ns.netlink = std::make_unique<Netlink>();
    } catch (...) {
      error = std::current_exception();
    }
  }).join();
  if (error) std::rethrow_exception(error);
  return ns;
}

void run_detach_rules(const std::vector<std::string>& lines, std::vector<std::string>* failed) {
  std::string all;
  for (const std::string& l : lines) all += l;
  if (nft_try(all)) return;
  // Part of it is gone already (a crash between steps): each piece on its own.
  for (const std::string& l : lines)
    if (!nft_try(l) && failed) failed->push_back(l);
}

}  // namespace

BridgeLease::~BridgeLease() { bridge_.detach(*this); }

std::string Bridge::veth_name(uint32_t address) {
  char name[16];
  std::snprintf(name, sizeof name, "cbv-%08x", address);
  return name;
}

std::string Bridge::lease_dir(const std::string& state_dir, const std::string& bridge) {
  return state_dir + "/net/" + bridge + "/leases";
}

Bridge::Bridge(BridgeConfig config, const std::string& state_dir, std::string owner)
    : config_(std::move(config)),
      addressing_{config_.name, parse_subnet(config_.subnet), 0},
      owner_(std::move(owner)),
      leases_(lease_dir(state_dir, config_.name), addressing_.subnet) {
  addressing_.gateway = addressing_.subnet.address + 1;
  if (config_.name.empty() || config_.name.size() > 15 || config_.name.find_first_of("/ \"'") != std::string::npos)
    throw NetworkError("bridge name " + cellblock::quoted(config_.name) + ": 1-15 characters, no '/', space or quote");
  const std::string dir = state_dir + "/net/" + config_.name;
  BridgeLock lock(dir + "/lock");
  make_bridge_if_missing(addressing_);
  resolv_conf_ = write_resolv_conf(dir, config_.resolvers);
}

std::unique_ptr<BridgeLease> Bridge::attach(UniqueFd netns, bool egress, const std::vector<EgressRule>& allow) {
  std::unique_ptr<BridgeLease> lease(new BridgeLease(*this));
  {
    std::lock_guard lock(leases_mutex_);
    lease->address_ = leases_.take(owner_);
  }
  CellNetns ns = enter_cell_netns(std::move(netns));
  Netlink host;
  const std::optional<int> bridge_index = link_index(host, config_.name);
  if (!bridge_index) throw NetworkError("bridge " + cellblock::quoted(config_.name) + " is gone (deleted by hand?)");
  const std::string veth = veth_name(lease->address_);
  int err = create_veth(host, veth, *bridge_index, kCellInterface, ns.fd.get());
  if (err == EEXIST) {  // left by a supervisor that died: the lease is ours now, so is the name
    delete_link(host, veth);
    err = create_veth(host, veth, *bridge_index, kCellInterface, ns.fd.get());
  }
  if (err != 0) throw SysError(err, "netlink RTM_NEWLINK veth " + cellblock::quoted(veth));
  lease->veth_ = veth;
  const std::optional<int> host_end = link_index(host, veth);
  if (!host_end) throw NetworkError("veth " + cellblock::quoted(veth) + " is gone right after it was made");
  set_link_up(host, *host_end, veth);

  Netlink& inside = *ns.netlink;
  const std::optional<int> cell_end = link_index(inside, kCellInterface);
  if (!cell_end) throw NetworkError(std::string("the cell's ") + kCellInterface + " is missing from its namespace");
  add_ipv4_address(inside, *cell_end, lease->address_, addressing_.subnet.prefix, kCellInterface);
  set_link_up(inside, *cell_end, kCellInterface);
  add_default_route(inside, addressing_.gateway, *cell_end);

  lease->rules_ = true;  // from here on, detach tries to remove them, whatever part got made
  lease->egress_ = egress;
  nft_run(attach_job_rules(config_.name, veth, lease->address_, egress, allow));
  if (egress) enable_forwarding();
  lease->netns_ = std::move(ns.fd);
  return lease;
}

void Bridge::detach(BridgeLease& lease) noexcept {
  try {
    if (lease.rules_) {
      std::vector<std::string> failed;
      run_detach_rules(detach_job_rules(config_.name, lease.veth_, lease.address_, lease.egress_), &failed);
      for (const std::string& f : failed) spdlog::error("bridge: could not remove rule: {}", f);
    }
    // The veth is not deleted here: its cell end lives in the job's namespace, which the kernel
    // destroys once the cell's last process and descriptor are gone, and both ends with it, in
    // its own worker. Deleting it ourselves took ~25 ms per job (unregistering a device waits
    // for RCU grace periods) on the job's own thread. If the name is still taken when its
    // address is leased again, attach() deletes the old one first.
    if (lease.address_) {
      std::lock_guard lock(leases_mutex_);
      leases_.release(lease.address_);
    }
  } catch (const std::exception& e) {
    spdlog::error("bridge: releasing {}: {}", ipv4_to_string(lease.address_), e.what());
  }
}

// Forwarding is host-wide: it is switched on only when the first job that may go out starts,
// and left on (turning it off under another user of it would break them). Our forward chain
// drops everything from the bridge that no job's egress accepts.
void Bridge::enable_forwarding() {
  std::call_once(forwarding_, [] {
    const char* path = "/proc/sys/net/ipv4/ip_forward";
    try {
      if (read_host_file(path).starts_with("1")) return;
      UniqueFd fd(::open(path, O_WRONLY | O_CLOEXEC));
      if (!fd) throw_sys(std::string("open(") + path + ")");
      write_all(fd.get(), "1\n", path);
      spdlog::info("bridge: IPv4 forwarding switched on for egress ({} = 1)", path);
    } catch (const std::exception& e) {
      spdlog::error("bridge: egress jobs need IPv4 forwarding: {}", e.what());
    }
  });
}

std::vector<std::string> Bridge::release_leftover(const std::string& state_dir, const std::string& bridge,
                                                  uint32_t address) {
  std::vector<std::string> errors;
  const std::string veth = veth_name(address);
  try {
    Netlink host;
    const int err = delete_link(host, veth);
    if (err != 0 && err != ENODEV) errors.push_back("delete veth " + cellblock::quoted(veth) + ": " + std::strerror(err));
  } catch (const std::exception& e) {
    errors.push_back(e.what());
  }
  // After a crash it is not known which of the rules were made: each on its own, and the ones
  // that fail were not there (or the table is gone).
  run_detach_rules(detach_job_rules(bridge, veth, address, /*egress=*/true), nullptr);
  try {
    LeaseDir::release(lease_dir(state_dir, bridge), address);
  } catch (const std::exception& e) {
    errors.push_back(e.what());
  }
  return errors;
}

std::vector<Bridge::LeaseRecord> Bridge::list_leases(const std::string& state_dir) {
  std::vector<LeaseRecord> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(state_dir + "/net", ec)) {
    if (!entry.is_directory(ec) || entry.is_symlink(ec)) continue;
    const std::string bridge = entry.path().filename().string();
    for (auto& [address, owner] : LeaseDir::list(lease_dir(state_dir, bridge)))
      out.push_back({bridge, address, owner});
  }
  return out;
}

void Bridge::remove(const std::string& state_dir, const std::string& name) {
  nft_try("delete table inet " + name);
  nft_try("delete table bridge " + name);
  Netlink nl;
  const int err = delete_link(nl, name);
  if (err != 0 && err != ENODEV) throw SysError(err, "netlink RTM_DELLINK " + cellblock::quoted(name));
  std::filesystem::remove_all(state_dir + "/net/" + name);
}

}  // namespace cellblock
