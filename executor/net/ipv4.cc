#include "executor/net/ipv4.h"

#include <charconv>

namespace cellblock {
namespace {

std::optional<uint32_t> parse_number(std::string_view s, uint32_t max) {
  if (s.empty() || s.size() > 5 || (s.size() > 1 && s[0] == '0')) return std::nullopt;
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}

}  // namespace

std::string ipv4_to_string(uint32_t ip) {
  return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 0xff) + "." +
         std::to_string((ip >> 8) & 0xff) + "." + std::to_string(ip & 0xff);
}

std::string Ipv4Net::to_string() const { return ipv4_to_string(address) + "/" + std::to_string(prefix); }

std::optional<uint32_t> parse_ipv4(std::string_view text) {
  uint32_t ip = 0;
  for (int i = 0; i < 4; ++i) {
    size_t dot = i < 3 ? text.find('.') : text.size();
    if (dot == std::string_view::npos) return std::nullopt;
    auto part = parse_number(text.substr(0, dot), 255);
    if (!part) return std::nullopt;
    ip = ip << 8 | *part;
    text.remove_prefix(i < 3 ? dot + 1 : dot);
  }
  return ip;
}

Ipv4Net parse_ipv4_net(std::string_view text) {
  const size_t slash = text.find('/');
  auto ip = parse_ipv4(text.substr(0, slash));
  if (!ip) throw std::invalid_argument("not an IPv4 address (a.b.c.d)");
  Ipv4Net net{*ip, 32};
  if (slash != std::string_view::npos) {
    auto prefix = parse_number(text.substr(slash + 1), 32);
    if (!prefix) throw std::invalid_argument("the prefix length after '/' must be 0-32");
    net.prefix = static_cast<uint8_t>(*prefix);
  }
  if ((net.address & ~net.mask()) != 0)
    throw std::invalid_argument("host bits set: the network of " + ipv4_to_string(*ip) + "/" +
                                std::to_string(net.prefix) + " is " +
                                ipv4_to_string(net.address & net.mask()) + "/" + std::to_string(net.prefix));
  return net;
}

std::string EgressRule::to_string() const {
  return net.to_string() + (port ? ":" + std::to_string(*port) : "");
}

EgressRule parse_egress_rule(std::string_view text) {
  EgressRule rule;
  const size_t colon = text.find(':');
  rule.net = parse_ipv4_net(text.substr(0, colon));
  if (colon != std::string_view::npos) {
    auto port = parse_number(text.substr(colon + 1), 65535);
    if (!port || *port == 0) throw std::invalid_argument("the port after ':' must be 1-65535");
    rule.port = static_cast<uint16_t>(*port);
  }
  return rule;
}

}  // namespace cellblock
