// parse_redis_url: every accepted form, and errors that never repeat the password.
#include "store/redis/options.hpp"

#include <gtest/gtest.h>

namespace otpd::store::redis {
namespace {

using Mode = ClientOptions::Mode;

TEST(ParseRedisUrl, Standalone) {
  auto o = parse_redis_url("redis://cache.internal:6380/2");
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->mode, Mode::kStandalone);
  EXPECT_FALSE(o->tls);
  ASSERT_EQ(o->endpoints.size(), 1u);
  EXPECT_EQ(o->endpoints[0], (Endpoint{"cache.internal", 6380}));
  EXPECT_EQ(o->db, 2);
  EXPECT_TRUE(o->password.empty());
  EXPECT_EQ(o->request_timeout, std::chrono::milliseconds(2000));
  EXPECT_EQ(o->max_in_flight, 4096u);
}

TEST(ParseRedisUrl, DefaultsPortAndDatabase) {
  auto o = parse_redis_url("redis://localhost");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->endpoints[0].port, 6379);
  EXPECT_EQ(o->db, 0);
  EXPECT_TRUE(parse_redis_url("redis://localhost/"));
}

TEST(ParseRedisUrl, CredentialsArePercentDecoded) {
  auto o = parse_redis_url("rediss://otpd:p%40ss%3Aw0rd@redis.example:6390?timeout_ms=500");
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_TRUE(o->tls);
  EXPECT_EQ(o->user, "otpd");
  EXPECT_EQ(o->password, "p@ss:w0rd");
  EXPECT_EQ(o->request_timeout, std::chrono::milliseconds(500));
  auto password_only = parse_redis_url("redis://:secret@h:1");
  ASSERT_TRUE(password_only);
  EXPECT_TRUE(password_only->user.empty());
  EXPECT_EQ(password_only->password, "secret");
  // The last '@' ends the credentials.
  auto raw_at = parse_redis_url("redis://:a@b@h:1");
  ASSERT_TRUE(raw_at);
  EXPECT_EQ(raw_at->password, "a@b");
  EXPECT_EQ(raw_at->endpoints[0].host, "h");
}

TEST(ParseRedisUrl, ClusterSeedsAndIpv6) {
  auto o = parse_redis_url("redis-cluster://10.0.0.1:7000,[::1]:7001,node3");
  ASSERT_TRUE(o) << o.error().message;
  EXPECT_EQ(o->mode, Mode::kCluster);
  ASSERT_EQ(o->endpoints.size(), 3u);
  EXPECT_EQ(o->endpoints[0], (Endpoint{"10.0.0.1", 7000}));
  EXPECT_EQ(o->endpoints[1], (Endpoint{"::1", 7001}));
  EXPECT_EQ(o->endpoints[1].to_string(), "[::1]:7001");
  EXPECT_EQ(o->endpoints[2], (Endpoint{"node3", 6379}));
  auto tls = parse_redis_url("rediss-cluster://a:1,b:2?ca_file=/etc/ca.pem");
  ASSERT_TRUE(tls);
  EXPECT_TRUE(tls->tls);
  EXPECT_EQ(tls->ca_file, "/etc/ca.pem");
}

TEST(ParseRedisUrl, RedactedUrlHidesThePassword) {
  auto o = parse_redis_url("rediss://otpd:hunter2@h:1/3?ca_file=/ca.pem&timeout_ms=250");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->redacted_url(), "rediss://otpd:***@h:1/3?ca_file=/ca.pem&timeout_ms=250");
  auto c = parse_redis_url("redis-cluster://:pw@a:1,b:2");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->redacted_url(), "redis-cluster://:***@a:1,b:2");
}

TEST(ParseRedisUrl, ErrorsSayWhatIsWrongWithoutThePassword) {
  struct Case {
    const char* url;
    const char* says;
  };
  for (const auto& c : {
           Case{"http://h:1", "unknown scheme"},
           Case{"localhost:6379", "not a URL"},
           Case{"redis://h:0", "port"},
           Case{"redis://h:65536", "port"},
           Case{"redis://h:x", "port"},
           Case{"redis://h:", "empty port"},
           Case{"redis://", "empty host"},
           Case{"redis://h h:1", "host"},
           Case{"redis://[::1:1", "unclosed"},
           Case{"redis://a:1,b:2", "one host"},
           Case{"redis://h/x", "database"},
           Case{"redis://h/-1", "database"},
           Case{"redis-cluster://a:1/1", "only database 0"},
           Case{"redis://user@h", "user:password"},
           Case{"redis://u:@h", "empty password"},
           Case{"redis://:s3cr%zzt@h", "percent"},
           Case{"redis://:s3cret@h?ca_file=/x", "needs TLS"},
           Case{"redis://:s3cret@h?timeout_ms=0", "timeout_ms"},
           Case{"redis://:s3cret@h?timeout_ms=abc", "timeout_ms"},
           Case{"redis://:s3cret@h?colour=blue", "unknown option 'colour'"},
       }) {
    auto o = parse_redis_url(c.url);
    ASSERT_FALSE(o) << c.url;
    EXPECT_EQ(o.error().code, Errc::kInvalidArgument) << c.url;
    EXPECT_NE(o.error().message.find(c.says), std::string::npos)
        << c.url << " -> " << o.error().message;
    EXPECT_EQ(o.error().message.find("s3cr"), std::string::npos) << o.error().message;
  }
}

}  // namespace
}  // namespace otpd::store::redis
