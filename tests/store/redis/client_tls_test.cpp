// The Redis client over TLS against a real redis-server with a certificate from a
// throwaway CA: verified and used by name; refused by IP (no IP SAN) and without the CA.
#include <gtest/gtest.h>

#include <string>

#include "../../support/redis/redis_servers.hpp"
#include "client_test_support.hpp"
#include "store/redis/client.hpp"
#include "store/redis/script.hpp"

namespace otpd::store::redis {
namespace {

using testing_support::RedisServers;
using namespace otpd::store::redis::testing;

TEST(TlsTest, TalksToAServerWhoseCertificateAndNameCheckOut) {
  auto servers = RedisServers::shared(RedisServers::Kind::kTls);
  IoThreads io(2);
  auto client = make_client(servers->url());
  const Script script("return redis.call('INCR', KEYS[1])");
  for (std::size_t t = 0; t < 2; ++t) {
    wait(io.spawn(t, [&]() -> Task<void> {
      const std::string key = "tls:" + std::to_string(::getpid()) + ":" + std::to_string(t);
      auto set = co_await client->command("SET", key, "over tls");
      OTPD_CO_ASSERT_OK(set);
      auto get = co_await client->command("GET", key);
      OTPD_CO_ASSERT_OK(get);
      EXPECT_EQ(get->str(), "over tls");
      auto counted = co_await client->run_script(script, strings(key + ":n"), {});
      OTPD_CO_ASSERT_OK(counted);
      EXPECT_EQ(counted->integer(), 1);
      auto pinged = co_await client->ping();
      EXPECT_TRUE(pinged);
    }));
  }
}

TEST(TlsTest, RefusesAServerWhoseCertificateDoesNotNameTheHost) {
  auto servers = RedisServers::shared(RedisServers::Kind::kTls);
  IoThreads io(1);
  // The certificate names DNS:localhost only, so 127.0.0.1 is the wrong host.
  auto by_ip = make_client("rediss://127.0.0.1:" + std::to_string(servers->port()) +
                           "?ca_file=" + servers->ca_file());
  auto result = wait(io.spawn(0, [&]() { return by_ip->command("PING"); }));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, Errc::kUnavailable);
  EXPECT_NE(result.error().message.find("certificate verify failed"), std::string::npos)
      << result.error().message;
}

TEST(TlsTest, RefusesACertificateFromACaNotTrusted) {
  auto servers = RedisServers::shared(RedisServers::Kind::kTls);
  IoThreads io(1);
  auto system_store_only = make_client("rediss://localhost:" + std::to_string(servers->port()));
  auto result = wait(io.spawn(0, [&]() { return system_store_only->command("PING"); }));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, Errc::kUnavailable);
  EXPECT_NE(result.error().message.find("certificate verify failed"), std::string::npos)
      << result.error().message;
}

TEST(TlsTest, AnUnreadableCaFileIsRefusedAtCreation) {
  auto options = parse_redis_url("rediss://localhost:6379?ca_file=/nonexistent/ca.pem");
  ASSERT_TRUE(options);
  auto client = Client::create(*options);
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().code, Errc::kInvalidArgument);
  EXPECT_NE(client.error().message.find("/nonexistent/ca.pem"), std::string::npos);
}

}  // namespace
}  // namespace otpd::store::redis
