// InlineDispatcher (Lambda mode): the send's attempt made and recorded before dispatch
// returns, the status the answer shows, and the catch-up of the tenant's due jobs.
#include "delivery/inline_dispatcher.hpp"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <string>
#include <thread>

#include "core/run_blocking.hpp"
#include "delivery/payload.hpp"
#include "test_support.hpp"

namespace otpd::delivery {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using core::ChannelKind;
using core::DeliveryStatus;
using testing::eventually;

constexpr long long kT0 = 1'800'000'000'000;

class InlineDispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"acme", "beta"}) {
      config_.tenants[name].name = name;
      config_.tenants[name].policy.app_name = name;
    }
    channels_[{"acme", ChannelKind::kWebhook}] = acme_;
    channels_[{"beta", ChannelKind::kWebhook}] = beta_;
  }

  InlineDispatcher& dispatcher(InlineOptions options = {}) {
    deliverer_.emplace(keyring_, clock_, jitter_, config_, channels_);
    dispatcher_.emplace(recording_, *deliverer_, clock_, options);
    return *dispatcher_;
  }

  // A send's job as the API stores it: leased until `lease_until`, or due at once.
  store::DeliveryJob stored(const std::string& id, const std::string& tenant = "acme",
                            bool leased = true) {
    store::DeliveryJob job;
    job.tenant = core::TenantId(tenant);
    job.id = core::VerificationId(id);
    job.channel = ChannelKind::kWebhook;
    job.sealed = keyring_.seal(encode_payload({"alice@example.com", "123456", "en"}),
                               payload_aad(tenant, id), seal_rng_);
    job.expires_at = clock_.now() + 5min;
    fake_.add(job, leased ? *dispatcher_->lease_until(clock_.now()) : clock_.now());
    return job;
  }

  DeliveryStatus dispatch(store::DeliveryJob job, bool leased = true) {
    return testing::run_awaitable(dispatcher_->dispatch(std::move(job), leased));
  }

  std::optional<DeliveryStatus> outcome(const std::string& id, const std::string& tenant = "acme") {
    return fake_.outcome(tenant, id);
  }

  core::ManualTimeSource clock_{core::from_unix_ms(kT0)};
  core::Keyring keyring_{{"current-secret"}};
  core::OpenSslRandom seal_rng_;
  testing::FixedRandom jitter_{0xff};  // backoff without jitter: 1 s, 2 s ...
  config::Config config_;
  std::shared_ptr<testing::FakeChannel> acme_ = std::make_shared<testing::FakeChannel>();
  std::shared_ptr<testing::FakeChannel> beta_ = std::make_shared<testing::FakeChannel>();
  ChannelMap channels_;
  testing::FakeStore fake_;
  testing::RecordingStore recording_{fake_};
  std::optional<Deliverer> deliverer_;
  std::optional<InlineDispatcher> dispatcher_;
};

TEST_F(InlineDispatcherTest, LeasesEverySendItsJob) {
  auto& d = dispatcher();
  const auto now = clock_.now();
  EXPECT_EQ(d.lease_until(now), now + kAttemptLease);
}

TEST_F(InlineDispatcherTest, ASentOutcomeIsInTheStoreWhenDispatchReturns) {
  dispatcher();
  auto job = stored("v1");
  const auto [status, recorded] = testing::run_awaitable(
      [](InlineDispatcher& d, store::DeliveryJob job, testing::FakeStore& fake)
          -> Task<std::pair<DeliveryStatus, std::optional<DeliveryStatus>>> {
        const DeliveryStatus status = co_await d.dispatch(std::move(job), true);
        // Nothing may be left to run after the answer: a frozen Lambda would never run it.
        co_return std::make_pair(status, fake.outcome("acme", "v1"));
      }(*dispatcher_, job, fake_));
  EXPECT_EQ(status, DeliveryStatus::kSent);
  EXPECT_EQ(recorded, DeliveryStatus::kSent);
  ASSERT_EQ(acme_->calls(), 1u);
  EXPECT_EQ(acme_->messages()[0].code, "123456");
  EXPECT_EQ(run_blocking(recording_.depth()).value(), 0u);
}

TEST_F(InlineDispatcherTest, APermanentFailureIsFailed) {
  dispatcher();
  acme_->script({AttemptResult::kPermanent});
  EXPECT_EQ(dispatch(stored("v1")), DeliveryStatus::kFailed);
  EXPECT_EQ(outcome("v1"), DeliveryStatus::kFailed);
}

TEST_F(InlineDispatcherTest, ATransientFailureStaysQueuedForARetryWithBackoff) {
  dispatcher();
  acme_->script({AttemptResult::kTransient});
  EXPECT_EQ(dispatch(stored("v1")), DeliveryStatus::kQueued);
  EXPECT_FALSE(outcome("v1").has_value());
  const auto entry = fake_.entry("acme", "v1");
  ASSERT_TRUE(entry.has_value());
  EXPECT_EQ(entry->due, core::from_unix_ms(kT0) + 1s);
  EXPECT_EQ(entry->job.attempts, 1);
  EXPECT_EQ(recording_.retries(), (std::vector<core::TimePoint>{core::from_unix_ms(kT0) + 1s}));
}

TEST_F(InlineDispatcherTest, AnOutcomeTheStoreCouldNotRecordAnswersQueued) {
  dispatcher();
  recording_.fail_next_finishes(1);
  // Delivered, but the store still holds the job leased: it is delivered again after the
  // lease, so the answer must not claim it is done.
  EXPECT_EQ(dispatch(stored("v1")), DeliveryStatus::kQueued);
  EXPECT_EQ(acme_->calls(), 1u);
  EXPECT_FALSE(outcome("v1").has_value());
}

TEST_F(InlineDispatcherTest, AJobNotLeasedIsLeftToTheQueue) {
  dispatcher();
  EXPECT_EQ(dispatch(stored("v1", "acme", false), false), DeliveryStatus::kQueued);
  EXPECT_EQ(acme_->calls(), 0u);
  EXPECT_EQ(recording_.takes(), 0);
}

TEST_F(InlineDispatcherTest, ASendRetriesItsTenantsDueJobsToo) {
  dispatcher();
  acme_->script({AttemptResult::kTransient});
  EXPECT_EQ(dispatch(stored("v1")), DeliveryStatus::kQueued);
  EXPECT_EQ(dispatch(stored("v2")), DeliveryStatus::kSent);  // v1 not due yet
  EXPECT_EQ(acme_->calls(), 2u);
  EXPECT_FALSE(outcome("v1").has_value());

  clock_.advance(1s);
  EXPECT_EQ(dispatch(stored("v3")), DeliveryStatus::kSent);
  EXPECT_EQ(acme_->calls(), 4u);
  EXPECT_EQ(outcome("v1"), DeliveryStatus::kSent);
  EXPECT_EQ(outcome("v3"), DeliveryStatus::kSent);
  EXPECT_EQ(run_blocking(recording_.depth()).value(), 0u);
}

TEST_F(InlineDispatcherTest, ASendCatchesUpOnItsOwnTenantOnly) {
  dispatcher();
  stored("b1", "beta", false);  // due: another tenant's
  EXPECT_EQ(dispatch(stored("a1")), DeliveryStatus::kSent);
  EXPECT_EQ(beta_->calls(), 0u);
  EXPECT_FALSE(outcome("b1", "beta").has_value());
  const auto skips = recording_.skips();
  ASSERT_EQ(skips.size(), 1u);
  EXPECT_EQ(skips[0], (std::vector<core::TenantId>{core::TenantId("beta")}));

  EXPECT_EQ(dispatch(stored("b2", "beta")), DeliveryStatus::kSent);
  EXPECT_EQ(outcome("b1", "beta"), DeliveryStatus::kSent);
}

TEST_F(InlineDispatcherTest, ASendCatchesUpOnABoundedNumberOfJobs) {
  dispatcher(InlineOptions{3});
  for (int i = 0; i < 10; ++i) stored("old" + std::to_string(i), "acme", false);
  EXPECT_EQ(dispatch(stored("v1")), DeliveryStatus::kSent);
  EXPECT_EQ(acme_->calls(), 1u + 3u);
  EXPECT_EQ(run_blocking(recording_.depth()).value(), 7u);
}

TEST_F(InlineDispatcherTest, TheSendsAttemptAndTheCatchUpRunTogether) {
  dispatcher();
  stored("old", "acme", false);
  acme_->hold = true;
  asio::io_context io;
  auto status = asio::co_spawn(io, dispatcher_->dispatch(stored("v1"), true), asio::use_future);
  std::thread runner([&io] { io.run(); });
  // Both attempts are under way at once, neither finished: the answer waits for the slower
  // of them, not for their sum.
  EXPECT_TRUE(eventually([&] { return acme_->calls() == 2; }));
  EXPECT_EQ(acme_->finished, 0);
  acme_->hold = false;
  EXPECT_EQ(status.get(), DeliveryStatus::kSent);
  runner.join();
  EXPECT_EQ(outcome("old"), DeliveryStatus::kSent);
}

TEST_F(InlineDispatcherTest, NoCatchUpWhenTurnedOff) {
  dispatcher(InlineOptions{0});
  stored("old", "acme", false);
  EXPECT_EQ(dispatch(stored("v1")), DeliveryStatus::kSent);
  EXPECT_EQ(acme_->calls(), 1u);
  EXPECT_EQ(recording_.takes(), 0);
}

}  // namespace
}  // namespace otpd::delivery
