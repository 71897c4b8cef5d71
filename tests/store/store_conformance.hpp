// The store conformance suite: the contract of the store ports (store/store.hpp) as tests,
// one fixture per family of operations, run against every backend.
//
// A backend joins in a file of its own with one line, at namespace scope inside
// otpd::store::testing (the fixtures are named unqualified):
//
//   OTPD_STORE_CONFORMANCE(Redis, (BackendFactory{"redis", &make_redis, /*persistent=*/true}));
//
// (the factory in parentheses), which instantiates every family for it; the durability
// family only when the backend declares that it persists (closing and reopening it keeps
// what was committed).
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <cstddef>
#include <functional>
#include <latch>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "core/run_blocking.hpp"
#include "store/store.hpp"
#include "support/expect_same_verification.hpp"

namespace otpd::core {

// Readable failure messages for identifiers and verdicts (GoogleTest finds these by ADL).
template <typename Tag>
void PrintTo(const StrongString<Tag>& s, std::ostream* os) {
  *os << '"' << s.str() << '"';
}
void PrintTo(SendVerdict verdict, std::ostream* os);
void PrintTo(CheckVerdict verdict, std::ostream* os);
void PrintTo(TransitionVerdict verdict, std::ostream* os);

}  // namespace otpd::core

namespace otpd::store::testing {

// One test's private copy of a backend: its own file, database, key prefix or table.
class Backend {
 public:
  virtual ~Backend() = default;
  // A connection to this test's data with the schema initialised. For a persistent
  // backend, called again after the previous Store has been destroyed it must see
  // everything that was committed (the durability family closes and reopens).
  virtual std::unique_ptr<Store> open() = 0;
};

struct BackendFactory {
  std::string name;
  // A fresh, empty Backend per test; nullptr when this backend cannot run here (no server
  // reachable), which skips the test rather than failing it.
  std::function<std::unique_ptr<Backend>()> make;
  // Whether what is committed survives closing and reopening: the durability family runs
  // only for backends that say so.
  bool persistent = false;

  static std::string name_of(const ::testing::TestParamInfo<BackendFactory>& info) {
    return info.param.name;
  }
};

inline void PrintTo(const BackendFactory& factory, std::ostream* os) { *os << factory.name; }

// The factory when it persists, else nothing: the durability family's parameters.
std::vector<BackendFactory> persistent_only(const BackendFactory& factory);

using Send = core::SendVerdict;
using Check = core::CheckVerdict;
using Transit = core::TransitionVerdict;

inline const core::TimePoint kT0 = core::from_unix_ms(1'900'000'000'000);  // 2030-03-17
// Midnight UTC after kT0, so a whole number of every window used (a day, an hour, a
// minute): offsets from it say where in its window a send falls.
inline const core::TimePoint kMidnight =
    core::from_unix_ms((1'900'000'000'000 / 86'400'000 + 1) * 86'400'000);
inline const core::TenantId kTenant("acme");
inline const core::TenantId kOtherTenant("globex");
inline const core::RecipientHash kAlice(
    "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1");
inline const core::RecipientHash kBob(
    "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0");
core::RecipientHash nth_recipient(int i);

// Builders for well-formed requests, so a test names only what it is about.
struct StartOptions {
  std::string code = "123456";
  int ttl_seconds = 300;
  int max_attempts = 5;
  int cooldown_seconds = 30;
  int max_sends = 5;
  int window_seconds = 600;
  int retention_seconds = 3600;
  core::ChannelKind channel = core::ChannelKind::kEmail;
  // The send rule's failure budget: off unless a test is about it, so wrong checks made
  // for another reason never hold a later send back.
  int failures_per_hour = 0;
  // The recipient's hashes under older secrets, after the one the code is stored under.
  std::vector<core::RecipientHash> older_hashes = {};
};
// The store only compares opaque hashes, so a readable stand-in for the HMAC will do.
std::string hash_of(const std::string& code);
// As the caller's keyring matches a typed code: right when one of its hashes (one per
// secret) is the verification's.
CodeMatcher matcher_of(std::vector<std::string> candidate_hashes);
// A new unique id each call (every other one of the service's form, the rest opaque);
// history is the recipient then `older_hashes`.
StartRequest start_request(const core::TenantId& tenant, const core::RecipientHash& recipient,
                           core::TimePoint now, const StartOptions& options = {});
StartRequest counted_start(const core::RecipientHash& recipient, core::TimePoint now,
                           std::vector<core::CounterSpec> counters,
                           const StartOptions& options = {});
CheckRequest check_request(const core::Verification& v, const std::string& code,
                           core::TimePoint now, int failure_budget = 0);
// A check of the newest verification of `recipients` (the recipient under every secret).
CheckRequest check_by_recipient(const core::TenantId& tenant,
                                std::vector<core::RecipientHash> recipients,
                                const std::string& code, core::TimePoint now,
                                int failure_budget = 0);

using testing_support::expect_same;

// Runs fn(i, io) on n threads released together, so the calls really overlap; each thread
// has an io_context of its own to run its store operations on.
template <typename Fn>
void race(int n, Fn fn) {
  std::latch go(n);
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      boost::asio::io_context io;
      go.arrive_and_wait();
      fn(i, io);
    });
  }
  for (auto& t : threads) t.join();
}

class StoreConformance : public ::testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Closes the store and opens the same data again.
  void reopen();

  // Runs one operation to completion on this test's io_context.
  template <typename T>
  T run(Task<T> task) {
    return run_blocking(io_, std::move(task));
  }

  // Shorthands over store_; a backend error fails the test (by exception, which GoogleTest
  // reports) rather than being mistaken for an outcome.
  StartOutcome start(StartRequest request);
  core::Verification started(StartRequest request);  // expects kStart
  core::Verification started(const core::TenantId& tenant, const core::RecipientHash& recipient,
                             core::TimePoint now, const StartOptions& options = {});
  core::CheckDecision check(CheckRequest request);
  core::CheckDecision check(const core::Verification& v, const std::string& code,
                            core::TimePoint now, int failure_budget = 0);
  // The verification a check by recipient would check, found by such a check whose code
  // cannot be one of its codes: it changes and counts nothing.
  std::optional<core::Verification> newest_of(const core::TenantId& tenant,
                                              std::vector<core::RecipientHash> recipients,
                                              core::TimePoint now);
  core::TransitionDecision transition(const core::TenantId& tenant, const core::VerificationId& id,
                                      core::Transition transition, core::TimePoint now);
  Transit cancel(const core::TenantId& tenant, const core::VerificationId& id, core::TimePoint now);
  Transit approve(const core::TenantId& tenant, const core::VerificationId& id,
                  core::TimePoint now);
  std::optional<core::Verification> get(const core::Verification& v);
  core::Verification stored(const core::Verification& v);  // get(), which must find it
  std::vector<DeliveryJob> take(core::TimePoint now, std::size_t max = 100);
  void finish(std::vector<FinishedDelivery> done);
  std::size_t depth();
  TokenOutcome take_token(const std::string& key, double rate, double burst, core::TimePoint now);
  std::size_t sweep(core::TimePoint now, core::Seconds counter_horizon);

  boost::asio::io_context io_;
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Store> store_;
};

// The state after a check, which must be there (a verification was found).
core::Verification after_of(const core::CheckDecision& decision);

// One fixture per family of operations, each in a file of its own (conformance_<family>.cpp)
// and with a CTest label of its own (store-<family>).
class StartConformance : public StoreConformance {};        // cooldown, window, supersede
class IdempotencyConformance : public StoreConformance {};  // claims inside start
class LimitsConformance : public StoreConformance {};       // counters, buckets, budgets
class CheckConformance : public StoreConformance {};        // the verify order, tenants
class TransitionConformance : public StoreConformance {};   // cancel, approve
class DeliveryConformance : public StoreConformance {};     // the delivery queue
class MaintenanceConformance : public StoreConformance {};  // sweep, ping, schema
class ConcurrencyConformance : public StoreConformance {};  // racing threads
class DurabilityConformance : public StoreConformance {};   // close and reopen

}  // namespace otpd::store::testing

// Every family for one backend; `factory` is a parenthesised BackendFactory expression.
#define OTPD_STORE_CONFORMANCE(prefix, factory)                                       \
  INSTANTIATE_TEST_SUITE_P(prefix, StartConformance, ::testing::Values factory,       \
                           BackendFactory::name_of);                                  \
  INSTANTIATE_TEST_SUITE_P(prefix, IdempotencyConformance, ::testing::Values factory, \
                           BackendFactory::name_of);                                  \
  INSTANTIATE_TEST_SUITE_P(prefix, LimitsConformance, ::testing::Values factory,      \
                           BackendFactory::name_of);                                  \
  INSTANTIATE_TEST_SUITE_P(prefix, CheckConformance, ::testing::Values factory,       \
                           BackendFactory::name_of);                                  \
  INSTANTIATE_TEST_SUITE_P(prefix, TransitionConformance, ::testing::Values factory,  \
                           BackendFactory::name_of);                                  \
  INSTANTIATE_TEST_SUITE_P(prefix, DeliveryConformance, ::testing::Values factory,    \
                           BackendFactory::name_of);                                  \
  INSTANTIATE_TEST_SUITE_P(prefix, MaintenanceConformance, ::testing::Values factory, \
                           BackendFactory::name_of);                                  \
  INSTANTIATE_TEST_SUITE_P(prefix, ConcurrencyConformance, ::testing::Values factory, \
                           BackendFactory::name_of);                                  \
  INSTANTIATE_TEST_SUITE_P(prefix, DurabilityConformance,                             \
                           ::testing::ValuesIn(persistent_only factory), BackendFactory::name_of)
