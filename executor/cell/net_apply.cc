#include "executor/cell/net_apply.h"

#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace cellblock {

bool bring_up_loopback(ChildError& error) noexcept {
  int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return error.fail([](ChildText& t) { t.add("socket(AF_INET) for loopback"); });
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, "lo", 3);
  bool ok = ::ioctl(sock, SIOCGIFFLAGS, &ifr) == 0;
  if (ok) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    ok = ::ioctl(sock, SIOCSIFFLAGS, &ifr) == 0;
  }
  if (!ok) error.fail([](ChildText& t) { t.add("ioctl(\"lo\", SIOCSIFFLAGS, IFF_UP)"); });
  ::close(sock);
  return ok;
}

}  // namespace cellblock
