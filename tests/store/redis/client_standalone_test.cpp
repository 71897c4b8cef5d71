// The Redis client against a real standalone redis-server: every reply type, pipelining
// from many coroutines on two threads, the in-flight bound, scripts and NOSCRIPT, AUTH and
// SELECT, a frozen server (SIGSTOP) and its recovery.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/strand.hpp>
#include <string>
#include <vector>

#include "../../support/redis/redis_servers.hpp"
#include "client_test_support.hpp"
#include "store/redis/client.hpp"
#include "store/redis/script.hpp"

namespace otpd::store::redis {
namespace {

using testing_support::RedisServers;
using namespace otpd::store::redis::testing;

std::string unique(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + ":" + std::to_string(::getpid()) + ":" + std::to_string(counter++) + ":" +
         ::testing::UnitTest::GetInstance()->current_test_info()->name();
}

class StandaloneTest : public ::testing::Test {
 protected:
  std::shared_ptr<RedisServers> servers_ = RedisServers::shared(RedisServers::Kind::kStandalone);
  IoThreads io_{2};
};

TEST_F(StandaloneTest, RoundTripsEveryReplyType) {
  auto client = make_client(servers_->url());
  const std::string key = unique("types");
  const std::string binary("a\0b\r\n$3\r\n", 9);
  wait(io_.spawn(0, [&]() -> Task<void> {
    auto set = co_await client->command("SET", key, binary);
    EXPECT_TRUE(set && set->is_status() && set->str() == "OK");

    auto get = co_await client->command("GET", key);
    OTPD_CO_ASSERT_OK(get);
    EXPECT_TRUE(get->is_bulk());
    EXPECT_EQ(get->str(), binary);

    auto empty = co_await client->command("SET", key + ":e", "");
    EXPECT_TRUE(empty);
    auto got_empty = co_await client->command("GET", key + ":e");
    EXPECT_TRUE(got_empty && got_empty->is_bulk() && got_empty->str().empty());

    auto missing = co_await client->command("GET", key + ":missing");
    EXPECT_TRUE(missing && missing->is_nil());

    auto incr = co_await client->command("INCRBY", key + ":n", "-42");
    OTPD_CO_ASSERT_OK(incr);
    EXPECT_TRUE(incr->is_integer());
    EXPECT_EQ(incr->integer(), -42);

    co_await client->command("RPUSH", key + ":l", "x", "", "z");
    auto range = co_await client->command("LRANGE", key + ":l", "0", "-1");
    OTPD_CO_ASSERT_OK(range);
    EXPECT_TRUE(range->is_array());
    EXPECT_EQ(range->debug_string(), R"([bulk "x", bulk "", bulk "z"])");

    auto none = co_await client->command("LRANGE", key + ":none", "0", "-1");
    EXPECT_TRUE(none && none->is_array() && none->elements().empty());

    // Nested arrays, integers, nil (a Lua false) and a status inside an array.
    auto nested = co_await client->command(
        "EVAL", "return {1, {'a', {2, false}}, redis.status_reply('FINE')}", "0");
    OTPD_CO_ASSERT_OK(nested);
    EXPECT_EQ(nested->debug_string(), R"([int 1, [bulk "a", [int 2, nil]], status "FINE"])");

    auto wrong = co_await client->command("INCR", key);
    if (wrong) {
      ADD_FAILURE() << "INCR of a string succeeded";
      co_return;
    }
    EXPECT_EQ(wrong.error().code, Errc::kServerError);
    EXPECT_TRUE(wrong.error().is_server_error("ERR")) << wrong.error().message;

    auto wrong_type = co_await client->command("LPUSH", key, "v");
    EXPECT_TRUE(!wrong_type && wrong_type.error().is_server_error("WRONGTYPE"));

    auto unknown = co_await client->command("NOSUCHCOMMAND");
    if (unknown) {
      ADD_FAILURE() << "an unknown command succeeded";
      co_return;
    }
    EXPECT_NE(unknown.error().message.find("unknown command"), std::string::npos);

    auto empty_command = co_await client->command(std::vector<std::string>{});
    EXPECT_TRUE(!empty_command && empty_command.error().code == Errc::kInvalidArgument);
  }));
}

TEST_F(StandaloneTest, ManyCoroutinesOnTwoThreadsEachGetTheirOwnReplies) {
  auto client = make_client(servers_->url());
  const std::string prefix = unique("pipe");
  constexpr int kCoroutines = 100;
  constexpr int kRounds = 30;
  std::vector<std::future<int>> done;
  for (int c = 0; c < kCoroutines; ++c) {
    done.push_back(io_.spawn(c % 2, [&, c]() -> Task<int> {
      const std::string key = "{" + prefix + ":" + std::to_string(c) + "}";
      int good = 0;
      for (int round = 0; round < kRounds; ++round) {
        const std::string value = std::to_string(c) + "/" + std::to_string(round);
        // Three requests in flight at once from this coroutine, plus everyone else's.
        auto batch = co_await client->pipeline(commands(
            strings("SET", key, value), strings("GET", key), strings("INCR", key + ":count")));
        if (batch && batch->size() == 3 && (*batch)[1] && (*batch)[1]->str() == value &&
            (*batch)[2] && (*batch)[2]->integer() == round + 1) {
          ++good;
        }
        auto get = co_await client->command("GET", key);
        if (!get || get->str() != value) --good;
      }
      co_return good;
    }));
  }
  for (auto& future : done) EXPECT_EQ(wait(future), kRounds);
}

TEST_F(StandaloneTest, CallersOnAStrandShareTheirIoContextsConnection) {
  auto client = make_client(servers_->url());
  auto strand = asio::make_strand(io_.context(1));
  auto on_strand = asio::co_spawn(
      strand,
      [&]() -> Task<bool> {
        auto id = co_await client->command("CLIENT", "ID");
        const bool still_on_strand = strand.running_in_this_thread();
        auto plain = co_await asio::co_spawn(io_.context(1), client->command("CLIENT", "ID"),
                                             asio::use_awaitable);
        co_return id&& plain && id->integer() == plain->integer() &&
            still_on_strand&& strand.running_in_this_thread();
      },
      asio::use_future);
  EXPECT_TRUE(wait(on_strand));
}

TEST_F(StandaloneTest, BeyondTheInFlightBoundACallFailsAtOnce) {
  auto client = make_client(servers_->url(), [](ClientOptions& o) {
    o.max_in_flight = 8;
    o.request_timeout = 20s;
  });
  auto unblocker = make_client(servers_->url());
  const std::string list = unique("block");
  // BLPOP holds the connection's replies, so 1 + 7 PINGs fill it; the 9th call is refused
  // before it is queued. Spawned in order on one thread, they queue in that order.
  std::vector<std::future<Result<Reply>>> held;
  held.push_back(io_.spawn(0, [&]() { return client->command("BLPOP", list, "0"); }));
  for (int i = 0; i < 7; ++i) {
    held.push_back(io_.spawn(0, [&]() { return client->command("PING"); }));
  }
  auto refused = wait(io_.spawn(0, [&]() { return client->command("PING"); }));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, Errc::kUnavailable);
  EXPECT_NE(refused.error().message.find("in flight"), std::string::npos)
      << refused.error().message;

  auto pushed = wait(io_.spawn(1, [&]() { return unblocker->command("LPUSH", list, "go"); }));
  ASSERT_TRUE(pushed) << pushed.error().message;
  auto popped = wait(held[0]);
  ASSERT_TRUE(popped) << popped.error().message;
  EXPECT_EQ(popped->debug_string(), "[bulk \"" + list + "\", bulk \"go\"]");
  for (std::size_t i = 1; i < held.size(); ++i) {
    auto pong = wait(held[i]);
    EXPECT_TRUE(pong && pong->is_text("PONG"));
  }
  // Room again once the replies came.
  auto after = wait(io_.spawn(0, [&]() { return client->command("PING"); }));
  EXPECT_TRUE(after);
}

TEST_F(StandaloneTest, ScriptsRunByShaAndAreReloadedAfterScriptFlush) {
  auto client = make_client(servers_->url());
  const std::string key = unique("{script}");
  const Script script("redis.call('SET', KEYS[1], ARGV[1]) return redis.call('GET', KEYS[1])");
  const Script failing("return redis.error_reply('CONFLICT version 3')");
  const Script broken("this is not lua");
  wait(io_.spawn(1, [&]() -> Task<void> {
    auto first = co_await client->run_script(script, strings(key), strings("one"));
    EXPECT_TRUE(first && first->str() == "one") << (first ? "" : first.error().message);

    auto flushed = co_await client->command("SCRIPT", "FLUSH");
    EXPECT_TRUE(flushed);
    auto exists = co_await client->command("SCRIPT", "EXISTS", script.sha1());
    EXPECT_TRUE(exists && exists->elements().at(0).integer() == 0);

    // The server lost it: NOSCRIPT, SCRIPT LOAD, EVALSHA again, invisibly.
    auto second = co_await client->run_script(script, strings(key), strings("two"));
    EXPECT_TRUE(second && second->str() == "two") << (second ? "" : second.error().message);
    exists = co_await client->command("SCRIPT", "EXISTS", script.sha1());
    EXPECT_TRUE(exists && exists->elements().at(0).integer() == 1);

    auto refused = co_await client->run_script(failing, strings(key), strings());
    if (refused) {
      ADD_FAILURE() << "error_reply succeeded";
      co_return;
    }
    EXPECT_TRUE(refused.error().is_server_error("CONFLICT"));
    EXPECT_EQ(refused.error().message, "CONFLICT version 3");

    auto compile = co_await client->run_script(broken, strings(), strings());
    if (compile) {
      ADD_FAILURE() << "a broken script ran";
      co_return;
    }
    EXPECT_EQ(compile.error().code, Errc::kServerError);
    EXPECT_NE(compile.error().message.find("compiling"), std::string::npos)
        << compile.error().message;

    auto cross = co_await client->run_script(script, strings("a", "b"), strings());
    EXPECT_TRUE(!cross && cross.error().code == Errc::kInvalidArgument);
    auto tagged =
        co_await client->command_for_keys(strings("{t}a", "{t}b"), strings("MGET", "{t}a", "{t}b"));
    EXPECT_TRUE(tagged && tagged->elements().size() == 2);
  }));
}

TEST_F(StandaloneTest, AReplyBeyondTheSizeBoundClosesTheConnectionAndTheNextCallReconnects) {
  auto client = make_client(servers_->url(), [](ClientOptions& o) { o.max_reply_bytes = 1024; });
  auto writer = make_client(servers_->url());
  const std::string big = unique("big");
  const std::string small = unique("small");
  wait(io_.spawn(0, [&]() -> Task<void> {
    OTPD_CO_ASSERT_OK(co_await writer->command("SET", big, std::string(64 * 1024, 'x')));
    OTPD_CO_ASSERT_OK(co_await writer->command("SET", small, "fits"));
    auto refused = co_await client->command("GET", big);
    if (refused) {
      ADD_FAILURE() << "a 64 KiB reply passed a 1 KiB bound";
      co_return;
    }
    EXPECT_EQ(refused.error().code, Errc::kProtocol) << refused.error().message;
    auto next = co_await until_ok([&]() { return client->command("GET", small); });
    OTPD_CO_ASSERT_OK(next);
    EXPECT_EQ(next->str(), "fits");
  }));
}

TEST(StandaloneAuthTest, AuthenticatesWithPasswordOrAclUserAndSelectsTheDatabase) {
  auto servers = RedisServers::start(RedisServers::Kind::kStandalone, "s3cret-pw");
  IoThreads io(1);
  const std::string base = "127.0.0.1:" + std::to_string(servers->port());
  auto anonymous = make_client("redis://" + base);
  auto admin = make_client("redis://:s3cret-pw@" + base);
  auto db3 = make_client("redis://:s3cret-pw@" + base + "/3");
  auto alice = make_client("redis://alice:alice-pw@" + base);
  auto wrong = make_client("redis://:not-the-pw@" + base);
  wait(io.spawn(0, [&]() -> Task<void> {
    auto refused = co_await anonymous->command("GET", "k");
    EXPECT_TRUE(!refused && refused.error().is_server_error("NOAUTH"));

    auto user =
        co_await admin->command("ACL", "SETUSER", "alice", "on", ">alice-pw", "~*", "+@all");
    EXPECT_TRUE(user) << (user ? "" : user.error().message);
    auto whoami = co_await alice->command("ACL", "WHOAMI");
    EXPECT_TRUE(whoami && whoami->str() == "alice");

    EXPECT_TRUE(co_await db3->command("SET", "where", "three"));
    auto in_db0 = co_await admin->command("GET", "where");
    EXPECT_TRUE(in_db0 && in_db0->is_nil());
    auto info = co_await db3->command("CLIENT", "INFO");
    OTPD_CO_ASSERT_OK(info);
    EXPECT_NE(info->str().find(" db=3 "), std::string::npos) << info->str();
    auto in_db3 = co_await db3->command("GET", "where");
    EXPECT_TRUE(in_db3 && in_db3->str() == "three");

    auto denied = co_await wrong->command("PING");
    if (denied) {
      ADD_FAILURE() << "a wrong password was accepted";
      co_return;
    }
    EXPECT_EQ(denied.error().code, Errc::kUnavailable);
    EXPECT_NE(denied.error().message.find("WRONGPASS"), std::string::npos)
        << denied.error().message;
    EXPECT_EQ(denied.error().message.find("not-the-pw"), std::string::npos);
  }));
}

TEST(StandaloneFreezeTest, AFrozenServerFailsCallsWithinTheTimeoutAndRecoversAfterward) {
  auto servers = RedisServers::start(RedisServers::Kind::kStandalone);
  IoThreads io(2);
  auto client = make_client(servers->url(), [](ClientOptions& o) { o.request_timeout = 300ms; });
  // Warm both threads' connections, and store a value to find again.
  for (std::size_t t = 0; t < 2; ++t) {
    auto set = wait(io.spawn(t, [&]() { return client->command("SET", "kept", "yes"); }));
    ASSERT_TRUE(set) << set.error().message;
  }

  servers->freeze();
  std::vector<std::future<Result<Reply>>> calls;
  for (int i = 0; i < 40; ++i) {
    calls.push_back(io.spawn(i % 2, [&]() { return client->command("GET", "kept"); }));
  }
  for (auto& call : calls) {
    auto result = wait(call, 30s);
    ASSERT_FALSE(result);
    EXPECT_TRUE(result.error().is_unavailable()) << result.error().message;
  }
  // While frozen, later calls (a reconnect to a server that accepts but never answers,
  // or a refusal while backing off) fail too, and never hang.
  for (int i = 0; i < 5; ++i) {
    auto again = wait(io.spawn(0,
                               [&]() -> Task<Result<Reply>> {
                                 co_await sleep_for(100ms);
                                 co_return co_await client->command("GET", "kept");
                               }),
                      30s);
    EXPECT_TRUE(!again && again.error().is_unavailable());
  }

  servers->thaw();
  for (std::size_t t = 0; t < 2; ++t) {
    auto back = wait(
        io.spawn(t, [&]() { return until_ok([&]() { return client->command("GET", "kept"); }); }));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->str(), "yes");
  }
  auto pinged = wait(io.spawn(1, [&]() { return client->ping(); }));
  EXPECT_TRUE(pinged);
}

TEST(StandaloneRestartTest, AConnectionClosedByTheServerIsReestablished) {
  auto servers = RedisServers::shared(RedisServers::Kind::kStandalone);
  IoThreads io(1);
  auto client = make_client(servers->url());
  auto killer = make_client(servers->url());
  wait(io.spawn(0, [&]() -> Task<void> {
    auto name = co_await client->command("CLIENT", "SETNAME", "otpd-victim");
    EXPECT_TRUE(name);
    auto id = co_await client->command("CLIENT", "ID");
    OTPD_CO_ASSERT_OK(id);
    auto killed = co_await killer->command("CLIENT", "KILL", "ID", std::to_string(id->integer()));
    OTPD_CO_ASSERT_OK(killed);
    EXPECT_EQ(killed->integer(), 1);
    auto back = co_await until_ok([&]() { return client->command("CLIENT", "ID"); });
    OTPD_CO_ASSERT_OK(back);
    EXPECT_NE(back->integer(), id->integer());  // a new connection
  }));
}

TEST(StandaloneUnreachableTest, NoServerMeansUnavailableAtOnce) {
  // A port nobody listens on: bind one, note it, close it.
  IoThreads io(1);
  asio::ip::tcp::acceptor probe(io.context(0), {asio::ip::make_address("127.0.0.1"), 0});
  const auto port = probe.local_endpoint().port();
  probe.close();
  auto client = make_client("redis://127.0.0.1:" + std::to_string(port));
  auto first = wait(io.spawn(0, [&]() { return client->command("PING"); }));
  ASSERT_FALSE(first);
  EXPECT_EQ(first.error().code, Errc::kUnavailable);
  EXPECT_NE(first.error().message.find("connect"), std::string::npos) << first.error().message;
  auto backing_off = wait(io.spawn(0, [&]() { return client->ping(); }));
  EXPECT_TRUE(!backing_off && backing_off.error().code == Errc::kUnavailable);
}

}  // namespace
}  // namespace otpd::store::redis
