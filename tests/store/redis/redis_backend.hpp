// The Redis store as a conformance-suite backend: each test gets its own key prefix on the
// shared servers of the CTest fixtures (a standalone server and a 3-master Cluster), and a
// clock for Redis' expiry.
//
// Redis expires keys by its own clock; the suite's clock is years ahead (kT0 is in 2030)
// and moves only when a test says so. So the backend's sweep() stands for Redis' clock
// reaching `now`: it deletes each key of the test whose PEXPIRETIME has come and each
// record of a bucket hash whose own expiry has (what Redis' expiry and the scripts'
// pruning do with time), after the store's own sweep, which does nothing. The suite's
// maintenance family then checks that every key carries the expiry it should.
#pragma once

#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <charconv>
#include <memory>
#include <string>
#include <vector>

#include "../../support/redis/redis_servers.hpp"
#include "core/run_blocking.hpp"
#include "store/redis/bytes.hpp"
#include "store/redis/redis_io.hpp"
#include "store/redis/redis_store.hpp"
#include "store_conformance.hpp"

namespace otpd::store::testing {

// Plain connections to each node of a deployment, for looking at what the store left
// behind (every key of a prefix) and for acting as Redis' clock.
class RedisNodes {
 public:
  explicit RedisNodes(const testing_support::RedisServers& servers) {
    for (std::size_t i = 0; i < servers.size(); ++i) {
      auto options = redis::parse_redis_url(servers.node_url(i)).value();
      nodes_.push_back(redis::RedisIo::create(std::move(options), 1).value());
    }
  }

  // Every key starting with `prefix`, on every node.
  Task<std::vector<std::pair<redis::RedisIo*, std::string>>> keys(std::string prefix) {
    std::vector<std::pair<redis::RedisIo*, std::string>> out;
    for (auto& node : nodes_) {
      std::string cursor = "0";
      do {
        std::vector<std::string> args{"SCAN", cursor, "MATCH", prefix + "*", "COUNT", "1000"};
        std::vector<std::string> any_node;
        auto scanned = co_await node->command(std::move(any_node), std::move(args));
        auto reply = std::move(scanned).value();
        cursor = reply.elements().at(0).str();
        for (const auto& key : reply.elements().at(1).elements()) {
          out.emplace_back(node.get(), key.str());
        }
      } while (cursor != "0");
    }
    co_return out;
  }

  // Redis' clock at `now_ms`: what has expired by then is deleted. Returns how many keys
  // and bucket records went.
  Task<std::size_t> expire(std::string prefix, long long now_ms) {
    std::size_t gone = 0;
    for (auto& [node, key] : co_await keys(prefix)) {
      auto type = (co_await run(*node, key, "TYPE", key)).str();
      if (type == "hash") {
        auto all = co_await run(*node, key, "HGETALL", key);
        const auto& e = all.elements();
        for (std::size_t i = 0; i + 1 < e.size(); i += 2) {
          if (redis::expiry_of(e[i + 1].str()).value_or(0) <= now_ms) {
            co_await run(*node, key, "HDEL", key, e[i].str());
            ++gone;
          }
        }
      } else {
        const long long at = (co_await run(*node, key, "PEXPIRETIME", key)).integer();
        if (at > 0 && at <= now_ms) {
          co_await run(*node, key, "DEL", key);
          ++gone;
        }
      }
    }
    co_return gone;
  }

  Task<std::size_t> remove_all(std::string prefix) {
    std::size_t n = 0;
    for (auto& [node, key] : co_await keys(prefix)) {
      co_await run(*node, key, "UNLINK", key);
      ++n;
    }
    co_return n;
  }

  template <typename... A>
  static Task<redis::Reply> run(redis::RedisIo& node, const std::string& key, const A&... args) {
    std::vector<std::string> list{std::string(args)...};
    std::vector<std::string> keys{key};
    auto reply = co_await node.command(std::move(keys), std::move(list));
    co_return std::move(reply).value();
  }

 private:
  std::vector<std::unique_ptr<redis::RedisIo>> nodes_;
};

// The store, with sweep() as Redis' clock (see above).
class ClockedRedisStore final : public StoreWrapper {
 public:
  ClockedRedisStore(std::unique_ptr<RedisStore> store, std::shared_ptr<RedisNodes> nodes,
                    std::string prefix)
      : StoreWrapper(*store),
        store_(std::move(store)),
        nodes_(std::move(nodes)),
        prefix_(std::move(prefix)) {}

  Task<Result<std::size_t>> sweep(core::TimePoint now, core::Seconds horizon) override {
    auto own = co_await store_->sweep(now, horizon);
    if (!own) co_return own;
    co_return *own + co_await nodes_->expire(prefix_, core::to_unix_ms(now));
  }

  RedisStore& redis() { return *store_; }

 private:
  std::unique_ptr<RedisStore> store_;
  std::shared_ptr<RedisNodes> nodes_;
  std::string prefix_;
};

class RedisBackend final : public Backend {
 public:
  explicit RedisBackend(std::shared_ptr<testing_support::RedisServers> servers)
      : servers_(std::move(servers)),
        nodes_(std::make_shared<RedisNodes>(*servers_)),
        io_(redis::RedisIo::create(redis::parse_redis_url(servers_->url()).value(), 1).value()),
        prefix_(unique_prefix()) {}
  ~RedisBackend() override { run_blocking(nodes_->remove_all(prefix_)); }

  std::unique_ptr<Store> open() override { return open_clocked(); }

  std::unique_ptr<ClockedRedisStore> open_clocked(RedisStoreOptions options = {}) {
    options.key_prefix = prefix_;
    auto store = RedisStore::open(servers_->url(), options).value();
    if (auto ready = run_blocking(store->init_schema()); !ready) {
      throw std::runtime_error("init_schema: " + ready.error().message());
    }
    return std::make_unique<ClockedRedisStore>(std::move(store), nodes_, prefix_);
  }

  const std::string& prefix() const { return prefix_; }
  RedisNodes& nodes() { return *nodes_; }
  // A client of the whole deployment (routed by key on a Cluster), for looking at one key.
  redis::RedisIo& io() { return *io_; }
  testing_support::RedisServers& servers() { return *servers_; }

 private:
  static std::string unique_prefix() {
    static std::atomic<int> next{0};
    return "t" + std::to_string(::getpid()) + "-" + std::to_string(next++) + ":";
  }

  std::shared_ptr<testing_support::RedisServers> servers_;
  std::shared_ptr<RedisNodes> nodes_;
  std::unique_ptr<redis::RedisIo> io_;
  std::string prefix_;
};

// A factory for the conformance suite: nullptr (the test is skipped) when no server can be
// had here.
inline std::unique_ptr<Backend> make_redis_backend(testing_support::RedisServers::Kind kind) {
  try {
    return std::make_unique<RedisBackend>(testing_support::RedisServers::shared(kind));
  } catch (const std::exception&) {
    return nullptr;
  }
}

}  // namespace otpd::store::testing
