// IPv4 addresses and networks as the bridge needs them: the subnet option ("10.88.0.0/16"), the
// job's egress_allow entries ("CIDR[:port]"), overlap checks against the host's routes.
// Parsing is strict and says what is wrong, since these strings come from jobs and operators.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace cellblock {

// Host byte order throughout; to_string() gives dotted quads.
struct Ipv4Net {
  uint32_t address = 0;  // the network address: host bits are zero
  uint8_t prefix = 32;

  uint32_t mask() const { return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix); }
  uint32_t broadcast() const { return address | ~mask(); }
  bool contains(uint32_t ip) const { return (ip & mask()) == address; }
  bool overlaps(const Ipv4Net& other) const {
    const uint8_t p = prefix < other.prefix ? prefix : other.prefix;
    const uint32_t m = p == 0 ? 0 : ~uint32_t{0} << (32 - p);
    return (address & m) == (other.address & m);
  }
  std::string to_string() const;
};

std::string ipv4_to_string(uint32_t ip);
// "a.b.c.d" strictly (no shorthand, no leading zeros beyond "0"); nullopt otherwise.
std::optional<uint32_t> parse_ipv4(std::string_view text);
// "a.b.c.d/n", or "a.b.c.d" as /32. Host bits must be zero ("10.0.0.1/8" is refused: it is
// usually a typo for a single address). Throws std::invalid_argument saying why.
Ipv4Net parse_ipv4_net(std::string_view text);

// One egress_allow entry: where a bridged job may connect to, and optionally on which port
// (TCP and UDP alike).
struct EgressRule {
  Ipv4Net net;
  std::optional<uint16_t> port;
  std::string to_string() const;
};
// "CIDR" or "CIDR:port", port 1-65535. Throws std::invalid_argument saying why.
EgressRule parse_egress_rule(std::string_view text);

}  // namespace cellblock
