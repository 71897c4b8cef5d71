// The Redis client against a real 3-master Redis Cluster: routing by slot to every master
// (also over TLS), MOVED and ASK while a slot migrates (CLUSTER SETSLOT + MIGRATE), TRYAGAIN,
// and a killed or frozen master whose slots are unavailable while the others keep working
// until it is back.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "../../support/redis/redis_servers.hpp"
#include "client_test_support.hpp"
#include "store/redis/client.hpp"
#include "store/redis/script.hpp"
#include "store/redis/slot.hpp"

namespace otpd::store::redis {
namespace {

using testing_support::RedisServers;
using namespace otpd::store::redis::testing;

// Per slot, the index (in `servers`) of the master serving it, read from one node.
Task<std::vector<int>> slot_owners(Client& node, const RedisServers& servers) {
  std::vector<int> owners(kSlotCount, -1);
  auto slots = co_await node.command("CLUSTER", "SLOTS");
  if (!slots) co_return owners;
  for (const auto& range : slots->elements()) {
    const auto port = range.elements()[2].elements()[1].integer();
    for (std::size_t i = 0; i < servers.size(); ++i) {
      if (servers.port(i) != port) continue;
      for (auto s = range.elements()[0].integer(); s <= range.elements()[1].integer(); ++s) {
        owners[static_cast<std::size_t>(s)] = static_cast<int>(i);
      }
    }
  }
  co_return owners;
}

// A key (with prefix) whose slot node `index` serves.
std::string key_on(const std::vector<int>& owners, int index, const std::string& prefix) {
  for (int i = 0;; ++i) {
    std::string key = prefix + ":" + std::to_string(i);
    if (owners[key_slot(key)] == index) return key;
  }
}

std::vector<std::shared_ptr<Client>> node_clients(const RedisServers& servers) {
  std::vector<std::shared_ptr<Client>> nodes;
  for (std::size_t i = 0; i < servers.size(); ++i) {
    nodes.push_back(make_client(servers.node_url(i)));
  }
  return nodes;
}

TEST(ClusterTest, RoutesEveryKeyToTheMasterServingItsSlot) {
  auto servers = RedisServers::shared(RedisServers::Kind::kCluster);
  ASSERT_EQ(servers->size(), 3u);
  IoThreads io(2);
  auto client = make_client(servers->url());
  auto nodes = node_clients(*servers);
  const std::string prefix = "route:" + std::to_string(::getpid());
  constexpr int kKeys = 300;

  std::vector<std::future<bool>> writes;
  for (int i = 0; i < kKeys; ++i) {
    writes.push_back(io.spawn(i % 2, [&, i]() -> Task<bool> {
      auto set =
          co_await client->command("SET", prefix + ":" + std::to_string(i), std::to_string(i));
      co_return set && set->is_text("OK");
    }));
  }
  for (auto& write : writes) EXPECT_TRUE(wait(write));

  wait(io.spawn(0, [&]() -> Task<void> {
    const auto owners = co_await slot_owners(*nodes[0], *servers);
    std::set<int> used;
    for (int i = 0; i < kKeys; ++i) {
      const std::string key = prefix + ":" + std::to_string(i);
      const int owner = owners[key_slot(key)];
      if (owner < 0) {
        ADD_FAILURE() << "no owner for " << key;
        co_return;
      }
      used.insert(owner);
      // The key is on the node that serves its slot, and another node redirects.
      auto direct = co_await nodes[static_cast<std::size_t>(owner)]->command("GET", key);
      EXPECT_TRUE(direct && direct->str() == std::to_string(i)) << key;
      auto other = co_await nodes[static_cast<std::size_t>((owner + 1) % 3)]->command("GET", key);
      EXPECT_TRUE(!other && other.error().is_server_error("MOVED"));
    }
    EXPECT_EQ(used.size(), 3u);  // every master got keys

    // Scripts and multi-key commands with one hash tag per master.
    const Script script(
        "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('MGET', KEYS[1], KEYS[2])");
    for (int node = 0; node < 3; ++node) {
      const std::string tag = "{" + key_on(owners, node, prefix + ":tag") + "}";
      auto ran = co_await client->run_script(script, strings(tag + "a", tag + "b"),
                                             strings(std::to_string(node)));
      OTPD_CO_ASSERT_OK(ran);
      EXPECT_EQ(ran->debug_string(), "[bulk \"" + std::to_string(node) + "\", nil]");
      auto both = co_await client->command_for_keys(strings(tag + "a", tag + "b"),
                                                    strings("MGET", tag + "a", tag + "b"));
      OTPD_CO_ASSERT_OK(both);
      EXPECT_EQ(both->elements().size(), 2u);
    }
    auto cross = co_await client->command_for_keys(strings("a", "b"), strings("MGET", "a", "b"));
    EXPECT_TRUE(!cross && cross.error().code == Errc::kInvalidArgument);
    auto pinged = co_await client->ping();
    EXPECT_TRUE(pinged) << (pinged ? "" : pinged.error().message);
    auto keyless = co_await client->command("PING");
    EXPECT_TRUE(keyless && keyless->is_text("PONG"));
  }));
}

TEST(ClusterTest, RunsOverTlsOnEveryMaster) {
  auto servers = RedisServers::start(RedisServers::Kind::kTlsCluster);
  IoThreads io(2);
  auto client = make_client(servers->url());
  auto nodes = node_clients(*servers);
  const Script script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  for (std::size_t t = 0; t < 2; ++t) {
    wait(io.spawn(t, [&]() -> Task<void> {
      const auto owners = co_await slot_owners(*nodes[t], *servers);
      for (int node = 0; node < 3; ++node) {
        const std::string key = key_on(owners, node, "tls:" + std::to_string(t));
        auto counted = co_await client->run_script(script, strings(key), strings("5"));
        OTPD_CO_ASSERT_OK(counted);
        EXPECT_EQ(counted->integer(), 5);
        auto direct = co_await nodes[static_cast<std::size_t>(node)]->command("GET", key);
        EXPECT_TRUE(direct && direct->str() == "5");
      }
      auto pinged = co_await client->ping();
      EXPECT_TRUE(pinged) << (pinged ? "" : pinged.error().message);
    }));
  }
}

TEST(ClusterTest, FollowsAskAndMovedWhileASlotMigrates) {
  auto servers = RedisServers::start(RedisServers::Kind::kCluster);
  IoThreads io(1);
  auto client = make_client(servers->url());
  auto nodes = node_clients(*servers);
  wait(io.spawn(0, [&]() -> Task<void> {
    const auto owners = co_await slot_owners(*nodes[0], *servers);
    const std::string k1 = "{moving}k1";
    const std::string k2 = "{moving}k2";
    const auto slot = std::to_string(key_slot(k1));
    const int a = owners[key_slot(k1)];
    const int b = (a + 1) % 3;
    auto& from = *nodes[static_cast<std::size_t>(a)];
    auto& to = *nodes[static_cast<std::size_t>(b)];
    auto from_id = co_await from.command("CLUSTER", "MYID");
    auto to_id = co_await to.command("CLUSTER", "MYID");
    OTPD_CO_ASSERT_OK(from_id);
    OTPD_CO_ASSERT_OK(to_id);

    OTPD_CO_ASSERT_OK(co_await client->command("SET", k1, "v1"));  // learns the map: k1 on a

    // Migration under way: a key still on `from` is served there; a new key is not, and
    // `from` answers ASK; a command on both finds them split and gets TRYAGAIN.
    OTPD_CO_ASSERT_OK(co_await to.command("CLUSTER", "SETSLOT", slot, "IMPORTING", from_id->str()));
    OTPD_CO_ASSERT_OK(co_await from.command("CLUSTER", "SETSLOT", slot, "MIGRATING", to_id->str()));
    auto asked = co_await client->command("SET", k2, "v2");
    EXPECT_TRUE(asked && asked->is_text("OK")) << (asked ? "" : asked.error().message);
    auto on_to = co_await to.pipeline(commands(strings("ASKING"), strings("GET", k2)));
    OTPD_CO_ASSERT_OK(on_to);
    EXPECT_TRUE((*on_to)[1] && (*on_to)[1]->str() == "v2");  // it went to the importing node
    auto still = co_await client->command("GET", k1);
    EXPECT_TRUE(still && still->str() == "v1");
    auto split = co_await client->command_for_keys(strings(k1, k2), strings("MGET", k1, k2));
    if (split) {
      ADD_FAILURE() << "MGET across a migrating slot succeeded: " << split->debug_string();
      co_return;
    }
    EXPECT_EQ(split.error().code, Errc::kUnavailable) << split.error().message;
    EXPECT_NE(split.error().message.find("TRYAGAIN"), std::string::npos);

    // Migration done: the slot is `to`'s, and `from` answers MOVED to a client whose map
    // still says `from`.
    auto migrated = co_await from.command(
        "MIGRATE", "127.0.0.1", std::to_string(servers->port(static_cast<std::size_t>(b))), "", "0",
        "5000", "KEYS", k1);
    OTPD_CO_ASSERT_OK(migrated);
    for (int node : {b, a, (a + 2) % 3}) {
      OTPD_CO_ASSERT_OK(co_await nodes[static_cast<std::size_t>(node)]->command(
          "CLUSTER", "SETSLOT", slot, "NODE", to_id->str()));
    }
    auto moved = co_await client->command("GET", k1);
    EXPECT_TRUE(moved && moved->str() == "v1")
        << (moved ? moved->debug_string() : moved.error().message);
    auto there = co_await to.command("GET", k1);
    EXPECT_TRUE(there && there->str() == "v1");
    auto both = co_await client->command_for_keys(strings(k1, k2), strings("MGET", k1, k2));
    OTPD_CO_ASSERT_OK(both);
    EXPECT_EQ(both->debug_string(), R"([bulk "v1", bulk "v2"])");
  }));
}

TEST(ClusterTest, AKilledMasterFailsOnlyItsSlotsAndRecoversWhenRestarted) {
  auto servers = RedisServers::start(RedisServers::Kind::kCluster);
  IoThreads io(2);
  auto client = make_client(servers->url(), [](ClientOptions& o) { o.request_timeout = 500ms; });
  auto nodes = node_clients(*servers);
  auto owners = wait(io.spawn(0, [&]() { return slot_owners(*nodes[1], *servers); }));
  std::vector<std::string> keys;
  for (int node = 0; node < 3; ++node) keys.push_back(key_on(owners, node, "restart"));
  for (std::size_t t = 0; t < 2; ++t) {
    for (const auto& key : keys) {
      auto set = wait(io.spawn(t, [&]() { return client->command("SET", key, "before"); }));
      ASSERT_TRUE(set) << set.error().message;
    }
  }

  servers->kill_node(0);
  for (std::size_t t = 0; t < 2; ++t) {
    for (int round = 0; round < 5; ++round) {
      auto lost = wait(io.spawn(t, [&]() { return client->command("GET", keys[0]); }), 30s);
      ASSERT_FALSE(lost);
      EXPECT_TRUE(lost.error().is_unavailable()) << lost.error().message;
      for (std::size_t other = 1; other < 3; ++other) {
        auto kept = wait(io.spawn(t, [&]() { return client->command("GET", keys[other]); }));
        ASSERT_TRUE(kept) << kept.error().message;
        EXPECT_EQ(kept->str(), "before");
      }
    }
  }
  auto partial = wait(io.spawn(0, [&]() { return client->ping(); }));
  EXPECT_FALSE(partial);

  servers->restart_node(0);
  for (std::size_t t = 0; t < 2; ++t) {
    auto back = wait(io.spawn(
        t, [&]() { return until_ok([&]() { return client->command("SET", keys[0], "after"); }); }));
    ASSERT_TRUE(back) << back.error().message;
    auto read = wait(io.spawn(t, [&]() { return client->command("GET", keys[0]); }));
    ASSERT_TRUE(read) << read.error().message;
    EXPECT_EQ(read->str(), "after");
  }
  auto whole = wait(io.spawn(1, [&]() { return until_ok([&]() { return client->ping(); }); }));
  EXPECT_TRUE(whole);
}

TEST(ClusterTest, AFrozenMasterTimesOutOnlyItsSlotsAndWorksAgainWhenThawed) {
  auto servers = RedisServers::start(RedisServers::Kind::kCluster);
  IoThreads io(2);
  auto client = make_client(servers->url(), [](ClientOptions& o) { o.request_timeout = 300ms; });
  auto nodes = node_clients(*servers);
  auto owners = wait(io.spawn(0, [&]() { return slot_owners(*nodes[0], *servers); }));
  std::vector<std::string> keys;
  for (int node = 0; node < 3; ++node) keys.push_back(key_on(owners, node, "frozen"));
  for (const auto& key : keys) {
    auto set = wait(io.spawn(0, [&]() { return client->command("SET", key, "v"); }));
    ASSERT_TRUE(set) << set.error().message;
  }

  servers->freeze(1);
  std::vector<std::future<Result<Reply>>> stuck;
  for (int i = 0; i < 20; ++i) {
    stuck.push_back(io.spawn(i % 2, [&]() { return client->command("GET", keys[1]); }));
  }
  // Meanwhile the other masters answer, on both threads.
  for (std::size_t t = 0; t < 2; ++t) {
    for (std::size_t other : {std::size_t{0}, std::size_t{2}}) {
      auto kept = wait(io.spawn(t, [&]() { return client->command("GET", keys[other]); }));
      ASSERT_TRUE(kept) << kept.error().message;
      EXPECT_EQ(kept->str(), "v");
    }
  }
  for (auto& call : stuck) {
    auto result = wait(call, 30s);
    ASSERT_FALSE(result);
    EXPECT_TRUE(result.error().is_unavailable()) << result.error().message;
  }
  auto ping = wait(io.spawn(1, [&]() { return client->ping(); }), 30s);
  EXPECT_FALSE(ping);

  servers->thaw(1);
  for (std::size_t t = 0; t < 2; ++t) {
    auto back = wait(
        io.spawn(t, [&]() { return until_ok([&]() { return client->command("GET", keys[1]); }); }));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back->str(), "v");
  }
}

}  // namespace
}  // namespace otpd::store::redis
