// Listener address parsing and the loopback test behind protected mode.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config.hpp"

namespace otpd::config {
namespace {

using ::testing::StartsWith;

std::string listen_error(const std::string& value) {
  try {
    parse_listen(value, "listen");
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "accepted: " << value;
  return "";
}

TEST(ParseListen, HostAndPort) {
  auto hp = parse_listen("127.0.0.1:8080", "listen");
  EXPECT_EQ(hp.host, "127.0.0.1");
  EXPECT_EQ(hp.port, 8080);
  hp = parse_listen("0.0.0.0:65535", "listen");
  EXPECT_EQ(hp.host, "0.0.0.0");
  EXPECT_EQ(hp.port, 65535);
  hp = parse_listen("localhost:1", "listen");
  EXPECT_EQ(hp.host, "localhost");
  EXPECT_EQ(hp.port, 1);
  hp = parse_listen("otpd.internal:443", "listen");
  EXPECT_EQ(hp.host, "otpd.internal");
}

TEST(ParseListen, PortZeroMeansAnyFreePort) {
  EXPECT_EQ(parse_listen("127.0.0.1:0", "listen").port, 0);
}

TEST(ParseListen, BracketedIpv6) {
  auto hp = parse_listen("[::1]:8080", "listen");
  EXPECT_EQ(hp.host, "::1");
  EXPECT_EQ(hp.port, 8080);
  hp = parse_listen("[::]:0", "listen");
  EXPECT_EQ(hp.host, "::");
  EXPECT_EQ(parse_listen("[2001:db8::1]:443", "listen").host, "2001:db8::1");
}

TEST(ParseListen, Malformed) {
  for (const char* bad : {"", "8080", ":8080", "127.0.0.1", "127.0.0.1:", "127.0.0.1:http",
                          "127.0.0.1:-1", "127.0.0.1:+80", "::1:8080", "[::1]8080", "[::1]:",
                          "[::1", "[nothost]:80", "[]:80", "host name:80", "127.0.0.1:123456"}) {
    EXPECT_THAT(listen_error(bad), StartsWith("listen: expected \"host:port\"")) << bad;
  }
}

TEST(ParseListen, PortOutOfRangeNamesTheKey) {
  try {
    parse_listen("127.0.0.1:65536", "admin_listen");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "admin_listen: port must be between 0 and 65535 (got 65536)");
  }
}

TEST(IsLoopbackHost, Loopback) {
  for (const char* host : {"127.0.0.1", "127.1.2.3", "127.255.255.255", "::1", "[::1]",
                           "0:0:0:0:0:0:0:1", "::ffff:127.0.0.1", "localhost", "LOCALHOST"}) {
    EXPECT_TRUE(is_loopback_host(host)) << host;
  }
}

TEST(IsLoopbackHost, NotLoopback) {
  for (const char* host : {"0.0.0.0", "::", "10.0.0.1", "128.0.0.1", "127.0.0", "127.example.com",
                           "localhost.example.com", "::2", "", "example.com"}) {
    EXPECT_FALSE(is_loopback_host(host)) << host;
  }
}

}  // namespace
}  // namespace otpd::config
