// redis://[user:password@]host:port[/db], and the errors that name --redis and say why.
#include "jobs/dispatch/redis_url.h"

#include <gtest/gtest.h>

#include "jobs/format/json_reader.h"

namespace cellblock {
namespace {

TEST(RedisUrlTest, HostPortAndDefaults) {
  RedisUrl u = parse_redis_url("redis://10.0.0.5:6380");
  EXPECT_EQ(u.host, "10.0.0.5");
  EXPECT_EQ(u.port, 6380);
  EXPECT_EQ(u.db, 0);
  EXPECT_FALSE(u.user);
  EXPECT_FALSE(u.password);
  EXPECT_EQ(parse_redis_url("redis://redis.lan").port, 6379);
}

TEST(RedisUrlTest, PasswordAclUserAndDb) {
  RedisUrl p = parse_redis_url("redis://:s3cr:et@h:1/2");
  EXPECT_FALSE(p.user);
  EXPECT_EQ(*p.password, "s3cr:et");
  EXPECT_EQ(p.db, 2);
  RedisUrl a = parse_redis_url("redis://judge:p@ss@h:1");
  EXPECT_EQ(*a.user, "judge");
  EXPECT_EQ(*a.password, "p@ss");
  EXPECT_EQ(a.display(), "redis://judge@h:1/0");  // never the password
}

TEST(RedisUrlTest, BadUrlsNameTheFlagAndWhy) {
  auto error = [](const std::string& text) {
    try {
      parse_redis_url(text);
    } catch (const FieldError& e) {
      EXPECT_EQ(e.field(), "--redis");
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(error("http://h:1").find("does not start with redis://"), std::string::npos);
  EXPECT_NE(error("redis://h:0").find("port \"0\" is not a number from 1 to 65535"), std::string::npos);
  EXPECT_NE(error("redis://h:1/x").find("database \"x\""), std::string::npos);
  EXPECT_NE(error("redis://:1").find("has no host"), std::string::npos);
}

}  // namespace
}  // namespace cellblock
