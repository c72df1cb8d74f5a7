// Route netlink through libmnl: the few requests the bridge needs (links, addresses, routes),
// each a typed function that throws SysError naming the request and its arguments. Never the
// `ip` command: no fork and exec on the launch path, and errors as errno, not as text.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "executor/net/ipv4.h"

struct mnl_socket;
struct nlmsghdr;

namespace cellblock {

// One NETLINK_ROUTE socket. It speaks for the network namespace of the thread that made it, for
// its whole life: a socket made inside a cell's namespace configures that namespace.
// Not thread-safe; cheap to make (one per job and thread).
class Netlink {
 public:
  Netlink();
  ~Netlink();
  Netlink(const Netlink&) = delete;
  Netlink& operator=(const Netlink&) = delete;

  // Sends a request with NLM_F_ACK; returns 0 or the errno the kernel answered.
  int call(nlmsghdr* request);
  // Sends a request and reads until its ack or end; `answers` (may be null) gets a copy of every
  // answer message. Returns 0 or the errno the kernel answered; EINTR means a dump was
  // interrupted by a change (NLM_F_DUMP_INTR), and the rest of it has been read and dropped.
  int exchange(nlmsghdr* request, std::vector<std::vector<char>>* answers);
  // Sends a dump request; `each` sees every answer message of one consistent dump: one that
  // links or addresses changing meanwhile interrupted is read to its end, dropped and asked again.
  void dump(nlmsghdr* request, const std::function<void(const nlmsghdr*)>& each);
  uint32_t next_seq() { return ++seq_; }

 private:
  mnl_socket* socket_ = nullptr;
  uint32_t port_ = 0;
  uint32_t seq_ = 0;
};

struct LinkInfo {
  std::string name;
  int index = 0;
  int master = 0;  // the bridge it is a port of; 0 if none
};
struct AddressInfo {
  Ipv4Net net;     // the address's network
  uint32_t local = 0;
  int index = 0;   // the link it is on
};
struct RouteInfo {
  Ipv4Net dst;
  int oif = 0;
  uint8_t table = 0;
};

std::optional<int> link_index(Netlink& nl, const std::string& name);
std::vector<LinkInfo> list_links(Netlink& nl);
std::vector<AddressInfo> list_ipv4_addresses(Netlink& nl);
std::vector<RouteInfo> list_ipv4_routes(Netlink& nl);

// Each throws SysError, e.g. `netlink RTM_NEWLINK bridge "cellblock0": File exists`.
void create_bridge(Netlink& nl, const std::string& name);
void add_ipv4_address(Netlink& nl, int index, uint32_t address, uint8_t prefix, const std::string& link_name);
void set_link_up(Netlink& nl, int index, const std::string& link_name);
// A veth pair: `host_name` here, a port of `master`; its peer `peer_name` moved at once into the
// namespace `peer_netns_fd`. Returns errno (EEXIST when `host_name` is taken), 0 on success.
int create_veth(Netlink& nl, const std::string& host_name, int master, const std::string& peer_name,
                int peer_netns_fd);
// Returns 0 or errno (ENODEV: no such link). Deleting one end of a veth deletes both.
int delete_link(Netlink& nl, const std::string& name);
void add_default_route(Netlink& nl, uint32_t gateway, int index);

}  // namespace cellblock
