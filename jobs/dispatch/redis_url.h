// Where a Redis is and how to log in: redis://[user:password@]host:port[/db].
#pragma once

#include <optional>
#include <string>

namespace cellblock {

struct RedisUrl {
  std::string host;
  int port = 6379;
  std::optional<std::string> user;      // an ACL user; none: "default"
  std::optional<std::string> password;  // none: no AUTH
  int db = 0;

  // "redis://host:port/db" with the password left out, for logs and error messages.
  std::string display() const;
};

// Throws FieldError naming `field` (the flag, "--redis") with the text and why.
RedisUrl parse_redis_url(const std::string& text, const std::string& field = "--redis");

}  // namespace cellblock
