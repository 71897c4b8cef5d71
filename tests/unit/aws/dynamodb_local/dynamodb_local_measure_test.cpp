// Round-trip latency and requests per second of GetItem, conditional UpdateItem and
// TransactWriteItems against DynamoDB Local, from two threads. A measurement, not a test: it
// asserts only that the operations succeed, and is disabled unless asked for:
//   build/bin/dynamodb_local_tests --gtest_also_run_disabled_tests --gtest_filter='*Measure*'
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <future>
#include <vector>

#include "dynamodb_local_fixture.hpp"

namespace otpd::aws::testing {
namespace {

namespace asio = boost::asio;
using Steady = std::chrono::steady_clock;

constexpr int kWorkers = 2;  // one coroutine per I/O thread, each one request at a time
constexpr int kWarmup = 300;
constexpr int kOperations = 2000;  // per worker
constexpr auto kTimeCap = std::chrono::seconds(30);

struct Figures {
  std::vector<double> micros;
  double seconds = 0;
};

class DynamoDbLocalMeasure : public DynamoDbLocalTest {
 protected:
  // One operation of worker `w` (its n-th); false when it failed.
  using Operation = std::function<Task<bool>(int w, int n)>;

  Figures measure(const Operation& op) {
    auto worker = [&op](int w, int from, int count) -> Task<std::vector<double>> {
      std::vector<double> micros;
      const auto cap = Steady::now() + kTimeCap;
      for (int n = from; n < from + count && Steady::now() < cap; ++n) {
        const auto started = Steady::now();
        const bool ok = co_await op(w, n);
        micros.push_back(
            std::chrono::duration<double, std::micro>(Steady::now() - started).count());
        if (!ok) co_return std::vector<double>{};
      }
      co_return micros;
    };
    auto round = [&](int from, int count) {
      std::vector<std::future<std::vector<double>>> done;
      for (int w = 0; w < kWorkers; ++w) {
        done.push_back(asio::co_spawn(io_.io(), worker(w, from, count), asio::use_future));
      }
      Figures f;
      for (auto& d : done) {
        auto micros = d.get();
        EXPECT_FALSE(micros.empty()) << "an operation failed";
        f.micros.insert(f.micros.end(), micros.begin(), micros.end());
      }
      return f;
    };
    round(0, kWarmup);  // the JVM compiles its hot paths first
    const auto started = Steady::now();
    Figures f = round(kWarmup, kOperations);
    f.seconds = std::chrono::duration<double>(Steady::now() - started).count();
    return f;
  }

  // Moves worker `w`'s item `side` from version `from` to from + 1 (built outside the
  // coroutines: GCC 12 cannot keep an initializer list's string literals in a coroutine frame).
  UpdateItemRequest versioned(int w, int side, std::int64_t from) const {
    UpdateItemRequest u;
    u.table = table_;
    u.key = key("w" + std::to_string(w), side);
    u.update_expression = "SET version = :new";
    u.condition = "version = :old";
    u.values = {{":old", N(from)}, {":new", N(from + 1)}};
    return u;
  }

  TransactWriteRequest versioned_pair(int w, std::int64_t from0, std::int64_t from1) const {
    TransactWriteRequest request;
    const std::int64_t from[] = {from0, from1};
    for (int side = 0; side < 2; ++side) {
      auto u = versioned(w, side, from[side]);
      auto action = TransactWriteAction::update(u.table, u.key, u.update_expression, u.condition);
      action.values = std::move(u.values);
      request.actions.push_back(std::move(action));
    }
    return request;
  }

  GetItemRequest get_request(int w) const {
    GetItemRequest request;
    request.table = table_;
    request.key = key("w" + std::to_string(w), 0);
    return request;
  }

  static void report(const char* name, Figures f) {
    if (f.micros.empty()) return;
    std::sort(f.micros.begin(), f.micros.end());
    auto at = [&](double q) {
      return f.micros[std::min(f.micros.size() - 1, static_cast<std::size_t>(q * f.micros.size()))];
    };
    double sum = 0;
    for (double m : f.micros) sum += m;
    std::printf("%-34s %7zu ops  %8.0f req/s  mean %7.0f us  p50 %7.0f us  p99 %7.0f us\n", name,
                f.micros.size(), f.micros.size() / f.seconds, sum / f.micros.size(), at(0.5),
                at(0.99));
    std::fflush(stdout);
  }
};

TEST_F(DynamoDbLocalMeasure, DISABLED_LatencyAndThroughputFromTwoThreads) {
  create_table();
  for (int w = 0; w < kWorkers; ++w) {
    for (int side = 0; side < 2; ++side) {
      auto item = key("w" + std::to_string(w), side);
      item["version"] = N(0);
      item["payload"] = AttributeValue::binary(std::string(120, 'x'));  // a sealed job's size
      ASSERT_TRUE(run(db_->put_item({.table = table_, .item = item})));
    }
  }
  std::printf("DynamoDB Local, %d workers on %d I/O threads, one request in flight each\n",
              kWorkers, 2);

  report("GetItem (consistent)", measure([this](int w, int) -> Task<bool> {
           auto got = co_await db_->get_item(get_request(w));
           co_return got && got->has_value();
         }));

  // Each worker owns its items, so every condition holds: this is the cost of a conditional
  // write, not of contention.
  std::vector<std::array<std::int64_t, 2>> versions(kWorkers, {0, 0});
  report("UpdateItem (version condition)", measure([this, &versions](int w, int) -> Task<bool> {
           auto& v = versions[static_cast<std::size_t>(w)];
           if (!co_await db_->update_item(versioned(w, 0, v[0]))) co_return false;
           ++v[0];
           co_return true;
         }));
  report("TransactWriteItems (2 updates)", measure([this, &versions](int w, int) -> Task<bool> {
           auto& v = versions[static_cast<std::size_t>(w)];
           if (!co_await db_->transact_write(versioned_pair(w, v[0], v[1]))) co_return false;
           ++v[0];
           ++v[1];
           co_return true;
         }));
}

}  // namespace
}  // namespace otpd::aws::testing
