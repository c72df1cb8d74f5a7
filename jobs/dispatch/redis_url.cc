#include "jobs/dispatch/redis_url.h"

#include <charconv>

#include "jobs/format/json_reader.h"

namespace cellblock {
namespace {

int read_number(std::string_view text, int min, int max, const std::string& field, const char* what,
                const std::string& url) {
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < min || value > max)
    throw FieldError(field, json_quoted(url) + ": " + what + " " + json_quoted(text) + " is not a number from " +
                                std::to_string(min) + " to " + std::to_string(max));
  return value;
}

}  // namespace

std::string RedisUrl::display() const {
  return "redis://" + (user ? *user + "@" : std::string()) + host + ":" + std::to_string(port) + "/" + std::to_string(db);
}

RedisUrl parse_redis_url(const std::string& text, const std::string& field) {
  constexpr std::string_view scheme = "redis://";
  std::string_view rest = text;
  if (!rest.starts_with(scheme))
    throw FieldError(field, json_quoted(text) + " does not start with redis:// (expected redis://[user:password@]host:port[/db])");
  rest.remove_prefix(scheme.size());
  RedisUrl url;
  // The password may hold '@' or ':', the host neither: split at the last '@', then the first ':'.
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view login = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    if (auto colon = login.find(':'); colon != std::string_view::npos) {
      if (colon > 0) url.user = std::string(login.substr(0, colon));
      url.password = std::string(login.substr(colon + 1));
    } else {
      url.password = std::string(login);  // redis://secret@host: a password, as redis-cli reads it
    }
  }
  std::string_view hostport = rest;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    hostport = rest.substr(0, slash);
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty()) url.db = read_number(db, 0, 1 << 20, field, "database", text);
  }
  if (auto colon = hostport.rfind(':'); colon != std::string_view::npos) {
    url.port = read_number(hostport.substr(colon + 1), 1, 65535, field, "port", text);
    hostport = hostport.substr(0, colon);
  }
  if (hostport.empty()) throw FieldError(field, json_quoted(text) + " has no host (expected redis://[user:password@]host:port[/db])");
  url.host = std::string(hostport);
  return url;
}

}  // namespace cellblock
