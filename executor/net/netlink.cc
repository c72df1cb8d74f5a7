#include "executor/net/netlink.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "executor/base/sys_error.h"

namespace cellblock {
namespace {

// Route netlink answers stay far below this; dumps come in several reads of it.
constexpr size_t kBufferSize = 32 * 1024;

struct Message {
  std::vector<char> buffer = std::vector<char>(kBufferSize);
  nlmsghdr* nlh;
  Message(Netlink& nl, uint16_t type, uint16_t flags) {
    nlh = mnl_nlmsg_put_header(buffer.data());
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | flags;
    nlh->nlmsg_seq = nl.next_seq();
  }
  template <typename T>
  T* header() {
    return static_cast<T*>(mnl_nlmsg_put_extra_header(nlh, sizeof(T)));
  }
};

void check(int err, const std::string& what) {
  if (err != 0) throw SysError(err, "netlink " + what);
}

// Attributes of one message into a table indexed by type.
template <size_t N>
void parse_attrs(const nlmsghdr* nlh, size_t header_size, const nlattr* (&table)[N]) {
  for (auto& t : table) t = nullptr;
  mnl_attr_parse(
      nlh, static_cast<unsigned>(header_size),
      [](const nlattr* attr, void* data) -> int {
        auto* t = static_cast<const nlattr**>(data);
        const int type = mnl_attr_get_type(attr);
        if (type >= 0 && static_cast<size_t>(type) < N) t[type] = attr;
        return MNL_CB_OK;
      },
      table);
}

uint32_t attr_ipv4(const nlattr* a) { return ntohl(mnl_attr_get_u32(a)); }

}  // namespace

Netlink::Netlink() {
  socket_ = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
  if (!socket_) throw_sys("mnl_socket_open(NETLINK_ROUTE)");
  if (mnl_socket_bind(socket_, 0, MNL_SOCKET_AUTOPID) < 0) {
    const int err = errno;
    mnl_socket_close(socket_);
    throw SysError(err, "mnl_socket_bind(NETLINK_ROUTE)");
  }
  port_ = mnl_socket_get_portid(socket_);
}

Netlink::~Netlink() { mnl_socket_close(socket_); }

namespace {

// True when the buffer holds the end of a multipart answer.
bool holds_done(const char* data, size_t size) {
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(data);
  int left = static_cast<int>(size);
  for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left))
    if (nlh->nlmsg_type == NLMSG_DONE) return true;
  return false;
}

// A dump that 100 veths appearing at once interrupt every time would otherwise never end.
constexpr int kDumpAttempts = 20;

}  // namespace

int Netlink::exchange(nlmsghdr* request, std::vector<std::vector<char>>* answers) {
  if (mnl_socket_sendto(socket_, request, request->nlmsg_len) < 0) return errno;
  std::vector<char> buffer(kBufferSize);
  const mnl_cb_t keep = [](const nlmsghdr* nlh, void* data) -> int {
    const char* bytes = reinterpret_cast<const char*>(nlh);
    static_cast<std::vector<std::vector<char>>*>(data)->emplace_back(bytes, bytes + nlh->nlmsg_len);
    return MNL_CB_OK;
  };
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(socket_, buffer.data(), buffer.size());
    if (n < 0) return errno;
    const int rc = mnl_cb_run(buffer.data(), static_cast<size_t>(n), request->nlmsg_seq, port_,
                              answers ? keep : nullptr, answers);
    if (rc == MNL_CB_ERROR && errno == EINTR) {
      // The rest of the interrupted dump is still coming: read it to its end, so the socket is
      // clean for the next request.
      for (bool done = holds_done(buffer.data(), static_cast<size_t>(n)); !done;) {
        const ssize_t more = mnl_socket_recvfrom(socket_, buffer.data(), buffer.size());
        if (more < 0) return errno;
        done = holds_done(buffer.data(), static_cast<size_t>(more));
      }
      return EINTR;
    }
    if (rc == MNL_CB_ERROR) return errno;
    if (rc == MNL_CB_STOP) return 0;
  }
}

int Netlink::call(nlmsghdr* request) {
  request->nlmsg_flags |= NLM_F_ACK;
  return exchange(request, nullptr);
}

void Netlink::dump(nlmsghdr* request, const std::function<void(const nlmsghdr*)>& each) {
  request->nlmsg_flags |= NLM_F_DUMP;
  std::vector<std::vector<char>> answers;
  int err = EINTR;
  for (int attempt = 0; attempt < kDumpAttempts && err == EINTR; ++attempt) {
    answers.clear();
    err = exchange(request, &answers);
  }
  if (err != 0) throw SysError(err, "netlink dump (type " + std::to_string(request->nlmsg_type) + ")");
  for (const std::vector<char>& a : answers) each(reinterpret_cast<const nlmsghdr*>(a.data()));
}

std::optional<int> link_index(Netlink& nl, const std::string& name) {
  Message m(nl, RTM_GETLINK, NLM_F_ACK);
  m.header<ifinfomsg>()->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(m.nlh, IFLA_IFNAME, name.c_str());
  std::vector<std::vector<char>> answers;
  const int err = nl.exchange(m.nlh, &answers);
  if (err == ENODEV) return std::nullopt;
  if (err != 0) throw SysError(err, "netlink RTM_GETLINK " + cellblock::quoted(name));
  std::optional<int> index;
  for (const std::vector<char>& a : answers) {
    const auto* nlh = reinterpret_cast<const nlmsghdr*>(a.data());
    if (nlh->nlmsg_type == RTM_NEWLINK) index = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh))->ifi_index;
  }
  return index;
}

std::vector<LinkInfo> list_links(Netlink& nl) {
  Message m(nl, RTM_GETLINK, 0);
  m.header<ifinfomsg>()->ifi_family = AF_UNSPEC;
  std::vector<LinkInfo> out;
  nl.dump(m.nlh, [&](const nlmsghdr* nlh) {
    if (nlh->nlmsg_type != RTM_NEWLINK) return;
    const nlattr* a[IFLA_MAX + 1];
    parse_attrs(nlh, sizeof(ifinfomsg), a);
    LinkInfo l;
    l.index = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh))->ifi_index;
    if (a[IFLA_IFNAME]) l.name = mnl_attr_get_str(a[IFLA_IFNAME]);
    if (a[IFLA_MASTER]) l.master = static_cast<int>(mnl_attr_get_u32(a[IFLA_MASTER]));
    out.push_back(std::move(l));
  });
  return out;
}

std::vector<AddressInfo> list_ipv4_addresses(Netlink& nl) {
  Message m(nl, RTM_GETADDR, 0);
  m.header<ifaddrmsg>()->ifa_family = AF_INET;
  std::vector<AddressInfo> out;
  nl.dump(m.nlh, [&](const nlmsghdr* nlh) {
    if (nlh->nlmsg_type != RTM_NEWADDR) return;
    const auto* ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(nlh));
    if (ifa->ifa_family != AF_INET) return;
    const nlattr* a[IFA_MAX + 1];
    parse_attrs(nlh, sizeof(ifaddrmsg), a);
    const nlattr* addr = a[IFA_LOCAL] ? a[IFA_LOCAL] : a[IFA_ADDRESS];
    if (!addr) return;
    AddressInfo info;
    info.local = attr_ipv4(addr);
    info.net.prefix = ifa->ifa_prefixlen;
    info.net.address = info.local & info.net.mask();
    info.index = static_cast<int>(ifa->ifa_index);
    out.push_back(info);
  });
  return out;
}

std::vector<RouteInfo> list_ipv4_routes(Netlink& nl) {
  Message m(nl, RTM_GETROUTE, 0);
  m.header<rtmsg>()->rtm_family = AF_INET;
  std::vector<RouteInfo> out;
  nl.dump(m.nlh, [&](const nlmsghdr* nlh) {
    if (nlh->nlmsg_type != RTM_NEWROUTE) return;
    const auto* rt = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
    if (rt->rtm_family != AF_INET) return;
    const nlattr* a[RTA_MAX + 1];
    parse_attrs(nlh, sizeof(rtmsg), a);
    RouteInfo r;
    r.dst.prefix = rt->rtm_dst_len;
    r.dst.address = a[RTA_DST] ? attr_ipv4(a[RTA_DST]) & r.dst.mask() : 0;
    r.oif = a[RTA_OIF] ? static_cast<int>(mnl_attr_get_u32(a[RTA_OIF])) : 0;
    r.table = a[RTA_TABLE] ? static_cast<uint8_t>(mnl_attr_get_u32(a[RTA_TABLE])) : rt->rtm_table;
    out.push_back(r);
  });
  return out;
}

void create_bridge(Netlink& nl, const std::string& name) {
  Message m(nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  m.header<ifinfomsg>()->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(m.nlh, IFLA_IFNAME, name.c_str());
  nlattr* info = mnl_attr_nest_start(m.nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(m.nlh, IFLA_INFO_KIND, "bridge");
  mnl_attr_nest_end(m.nlh, info);
  check(nl.call(m.nlh), "RTM_NEWLINK bridge " + cellblock::quoted(name));
}

void add_ipv4_address(Netlink& nl, int index, uint32_t address, uint8_t prefix, const std::string& link_name) {
  Message m(nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL);
  auto* ifa = m.header<ifaddrmsg>();
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = prefix;
  ifa->ifa_index = static_cast<uint32_t>(index);
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  mnl_attr_put_u32(m.nlh, IFA_LOCAL, htonl(address));
  mnl_attr_put_u32(m.nlh, IFA_ADDRESS, htonl(address));
  const Ipv4Net net{address & (prefix ? ~uint32_t{0} << (32 - prefix) : 0), prefix};
  mnl_attr_put_u32(m.nlh, IFA_BROADCAST, htonl(net.broadcast()));
  check(nl.call(m.nlh), "RTM_NEWADDR " + ipv4_to_string(address) + "/" + std::to_string(prefix) + " on " +
                            cellblock::quoted(link_name));
}

void set_link_up(Netlink& nl, int index, const std::string& link_name) {
  Message m(nl, RTM_NEWLINK, 0);
  auto* ifi = m.header<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  ifi->ifi_flags = IFF_UP;
  ifi->ifi_change = IFF_UP;
  check(nl.call(m.nlh), "RTM_NEWLINK up " + cellblock::quoted(link_name));
}

int create_veth(Netlink& nl, const std::string& host_name, int master, const std::string& peer_name,
                int peer_netns_fd) {
  Message m(nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  m.header<ifinfomsg>()->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(m.nlh, IFLA_IFNAME, host_name.c_str());
  mnl_attr_put_u32(m.nlh, IFLA_MASTER, static_cast<uint32_t>(master));
  nlattr* info = mnl_attr_nest_start(m.nlh, IFLA_LINKINFO);
  mnl_attr_put_strz(m.nlh, IFLA_INFO_KIND, "veth");
  nlattr* data = mnl_attr_nest_start(m.nlh, IFLA_INFO_DATA);
  nlattr* peer = mnl_attr_nest_start(m.nlh, VETH_INFO_PEER);
  static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(m.nlh, sizeof(ifinfomsg)))->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(m.nlh, IFLA_IFNAME, peer_name.c_str());
  mnl_attr_put_u32(m.nlh, IFLA_NET_NS_FD, static_cast<uint32_t>(peer_netns_fd));
  mnl_attr_nest_end(m.nlh, peer);
  mnl_attr_nest_end(m.nlh, data);
  mnl_attr_nest_end(m.nlh, info);
  return nl.call(m.nlh);
}

int delete_link(Netlink& nl, const std::string& name) {
  Message m(nl, RTM_DELLINK, 0);
  m.header<ifinfomsg>()->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(m.nlh, IFLA_IFNAME, name.c_str());
  return nl.call(m.nlh);
}

void add_default_route(Netlink& nl, uint32_t gateway, int index) {
  Message m(nl, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
  auto* rt = m.header<rtmsg>();
  rt->rtm_family = AF_INET;
  rt->rtm_dst_len = 0;
  rt->rtm_table = RT_TABLE_MAIN;
  rt->rtm_protocol = RTPROT_STATIC;
  rt->rtm_scope = RT_SCOPE_UNIVERSE;
  rt->rtm_type = RTN_UNICAST;
  mnl_attr_put_u32(m.nlh, RTA_GATEWAY, htonl(gateway));
  mnl_attr_put_u32(m.nlh, RTA_OIF, static_cast<uint32_t>(index));
  check(nl.call(m.nlh), "RTM_NEWROUTE default via " + ipv4_to_string(gateway));
}

}  // namespace cellblock
