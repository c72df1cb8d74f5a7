/* sockets: which kinds of network access does the cell have?
 *
 * Attacks:
 *  - raw_socket (AF_INET, SOCK_RAW): forge any IP packet, sniff ICMP. Needs CAP_NET_RAW.
 *  - packet_socket (AF_PACKET): read and write whole Ethernet frames on every interface of
 *    the network namespace (and the kernel's packet code has had many CVEs, e.g.
 *    CVE-2020-14386, CVE-2017-7308). Needs CAP_NET_RAW.
 *  - netlink_socket (NETLINK_ROUTE): normally allowed; reaches the cell's own network stack.
 *  - unix_socket: AF_UNIX socketpair with one byte across; the sandbox should allow it (many
 *    programs need it); abstract names are per network namespace, so it reaches nothing
 *    outside.
 *  - net_interfaces: the interfaces the cell can see: only "lo" in a fresh network namespace.
 *  - udp_route_external: connect() a UDP socket to 192.0.2.1:53 (TEST-NET-1, never a real
 *    host; connect on UDP sends nothing): ENETUNREACH when the cell has no route out.
 *
 * Expected in a cell (default policy, capabilities dropped): raw_socket EPERM,
 * packet_socket EPERM, netlink_socket OK, unix_socket OK, net_interfaces OK names=lo,
 * udp_route_external ENETUNREACH. A policy that forbids families (judge) may turn the OKs
 * into EPERM/EAFNOSUPPORT/EACCES.
 *
 * Output: RESULT <name> OK|<errno> [detail]
 */
#include "hostile.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

static void try_socket(const char *name, int family, int type, int protocol, const char *what)
{
    int fd = socket(family, type | SOCK_CLOEXEC, protocol);
    result_errno(name, fd < 0 ? errno : 0, "%s", what);
    if (fd >= 0)
        close(fd);
}

int main(void)
{
    try_socket("raw_socket", AF_INET, SOCK_RAW, IPPROTO_ICMP, "family=AF_INET type=SOCK_RAW");
    try_socket("packet_socket", AF_PACKET, SOCK_RAW, htons(ETH_P_ALL),
               "family=AF_PACKET type=SOCK_RAW");
    try_socket("netlink_socket", AF_NETLINK, SOCK_RAW, NETLINK_ROUTE,
               "family=AF_NETLINK proto=NETLINK_ROUTE");

    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        result("unix_socket", errno_name(errno), "step=socketpair");
    } else {
        char c = 0;
        int err = 0;
        if (write(sv[0], "x", 1) != 1 || read(sv[1], &c, 1) != 1)
            err = errno ? errno : EIO;
        result_errno("unix_socket", err, "family=AF_UNIX byte=%s", c == 'x' ? "passed" : "lost");
        close(sv[0]);
        close(sv[1]);
    }

    struct if_nameindex *ifs = if_nameindex();
    if (!ifs) {
        result_bare("net_interfaces", errno_name(errno));
    } else {
        char names[512] = "";
        size_t len = 0;
        for (struct if_nameindex *i = ifs; i->if_index; i++) {
            int n = snprintf(names + len, sizeof names - len, "%s%s", len ? "," : "", i->if_name);
            if (n > 0 && (size_t)n < sizeof names - len)
                len += (size_t)n;
        }
        if_freenameindex(ifs);
        result("net_interfaces", "OK", "names=%s", len ? names : "-");
    }

    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        result("udp_route_external", errno_name(errno), "step=socket");
    } else {
        struct sockaddr_in sa;
        memset(&sa, 0, sizeof sa);
        sa.sin_family = AF_INET;
        sa.sin_port = htons(53);
        inet_pton(AF_INET, "192.0.2.1", &sa.sin_addr);
        int err = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 ? 0 : errno;
        result_errno("udp_route_external", err, "addr=192.0.2.1:53");
        close(fd);
    }
    return 0;
}
