// The store conformance suite: the Store contract as tests, run against every backend.
//
// A backend joins by instantiating the suite with its factory, in a file of its own:
//
//   INSTANTIATE_TEST_SUITE_P(Redis, StoreConformance,
//                            ::testing::Values(BackendFactory{"redis", &make_redis}),
//                            BackendFactory::name_of);
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "store/store.hpp"

namespace otpd::core {

// Readable failure messages for identifiers (GoogleTest finds these by ADL).
template <typename Tag>
void PrintTo(const StrongString<Tag>& s, std::ostream* os) {
  *os << '"' << s.str() << '"';
}

}  // namespace otpd::core

namespace otpd::store::testing {

// One test's private copy of a backend: its own file, database, key prefix or table.
class Backend {
 public:
  virtual ~Backend() = default;
  // A connection to this test's data with the schema initialised. Called again after the
  // previous Store has been destroyed, it must see everything that was committed (the
  // durability test closes and reopens).
  virtual std::unique_ptr<Store> open() = 0;
};

struct BackendFactory {
  std::string name;
  // A fresh, empty Backend per test; nullptr when this backend cannot run here (no server
  // reachable), which skips the test rather than failing it.
  std::function<std::unique_ptr<Backend>()> make;

  static std::string name_of(const ::testing::TestParamInfo<BackendFactory>& info) {
    return info.param.name;
  }
};

inline void PrintTo(const BackendFactory& factory, std::ostream* os) { *os << factory.name; }

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
};
// The store only compares opaque hashes, so a readable stand-in for the HMAC will do.
std::string hash_of(const std::string& code);
// A new unique id each call.
StartRequest start_request(const core::TenantId& tenant, const core::RecipientHash& recipient,
                           core::TimePoint now, const StartOptions& options = {});
CheckRequest check_request(const core::Verification& v, const std::string& code,
                           core::TimePoint now, int failure_budget = 0);

class StoreConformance : public ::testing::TestWithParam<BackendFactory> {
 protected:
  void SetUp() override;
  void TearDown() override;
  // Closes the store and opens the same data again.
  void reopen();

  // Shorthands over store_; a backend error fails the test (by exception, which GoogleTest
  // reports) rather than being mistaken for an outcome.
  StartOutcome start(const StartRequest& request);
  core::Verification started(const StartRequest& request);  // expects kStarted
  core::Verification started(const core::TenantId& tenant, const core::RecipientHash& recipient,
                             core::TimePoint now, const StartOptions& options = {});
  CheckOutcome check(const core::Verification& v, const std::string& code, core::TimePoint now,
                     int failure_budget = 0);
  std::optional<core::Verification> get(const core::Verification& v);
  core::Verification stored(const core::Verification& v);  // get(), which must find it
  std::vector<DeliveryJob> take(core::TimePoint now, std::size_t max = 100);
  std::size_t depth();

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<Store> store_;
};

}  // namespace otpd::store::testing
