// Conformance, durability: what was committed survives closing and reopening the store.
// Instantiated only for backends whose factory declares `persistent`.
#include "store_conformance.hpp"

namespace otpd::store::testing {
namespace {

using core::Status;
using core::Verification;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_P(DurabilityConformance, DataAndCountersSurviveReopening) {
  const StartOptions o{.max_attempts = 3};
  Verification counted = started(kTenant, kAlice, kT0, o);
  ASSERT_EQ(check(counted, "000000", kT0 + seconds(1)).verdict, Check::kInvalid);
  StartRequest claimed = start_request(kTenant, kBob, kT0, o);
  claimed.idempotency = core::IdempotencyClaim{"k", "h", kT0 + hours(24)};
  Verification approved = started(claimed);
  ASSERT_EQ(check(approved, "123456", kT0 + seconds(1)).verdict, Check::kApproved);

  reopen();

  Verification c = stored(counted);
  EXPECT_EQ(c.attempts, 1);
  EXPECT_EQ(c.status, Status::kPending);
  EXPECT_EQ(stored(approved).status, Status::kApproved);
  EXPECT_EQ(stored(approved).approved_at, kT0 + seconds(1));
  EXPECT_EQ(check(approved, "123456", kT0 + seconds(2)).verdict, Check::kNotFound);
  EXPECT_EQ(start(start_request(kTenant, kAlice, kT0 + seconds(2), o)).decision.verdict,
            Send::kCooldown);
  StartRequest again = start_request(kTenant, kBob, kT0 + seconds(3), o);
  again.idempotency = core::IdempotencyClaim{"k", "h", kT0 + hours(24)};
  StartOutcome replay = start(again);
  EXPECT_EQ(replay.decision.verdict, Send::kReplay);
  expect_same(replay.verification, approved);  // as first answered: pending
  EXPECT_EQ(depth(), 2u);

  EXPECT_EQ(check(counted, "000001", kT0 + seconds(3)).verdict, Check::kInvalid);
  EXPECT_EQ(check(counted, "000002", kT0 + seconds(4)).verdict, Check::kLocked);
  EXPECT_EQ(check(counted, "000001", kT0 + seconds(5), 3).verdict, Check::kLocked);
}

TEST_P(DurabilityConformance, CountersAndBucketsSurviveReopening) {
  started(counted_start(kAlice, kT0, {{"daily", 1, hours(24)}}));
  ASSERT_TRUE(take_token("send:acme", 1, 1, kT0).allowed);

  reopen();

  EXPECT_EQ(
      start(counted_start(kBob, kT0 + seconds(1), {{"daily", 1, hours(24)}})).decision.verdict,
      Send::kCounterLimit);
  EXPECT_FALSE(take_token("send:acme", 1, 1, kT0 + milliseconds(500)).allowed);
  EXPECT_TRUE(take_token("send:acme", 1, 1, kT0 + seconds(1)).allowed);
}

// Failures and send records are history the limits read: a restart forgets none of it.
TEST_P(DurabilityConformance, TheRecipientsHistorySurvivesReopening) {
  const StartOptions o{.max_attempts = 1, .max_sends = 2, .failures_per_hour = 2};
  Verification v = started(kTenant, kAlice, kT0, o);
  ASSERT_EQ(check(v, "000000", kT0 + seconds(1)).verdict, Check::kLocked);

  reopen();

  // One send and one failure remembered: the next send is the 2nd in the window.
  Verification second = started(kTenant, kAlice, kT0 + seconds(2), o);
  EXPECT_EQ(second.resend_at, kT0 + seconds(2 + 60));
  ASSERT_EQ(check(second, "000000", kT0 + seconds(3)).verdict, Check::kLocked);
  EXPECT_EQ(start(start_request(kTenant, kAlice, kT0 + seconds(4),
                                {.max_attempts = 1, .max_sends = 5, .failures_per_hour = 2}))
                .decision.verdict,
            Send::kTooManyFailures);
}

}  // namespace

// A binary whose only backends keep nothing across a reopen has no durability tests.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(DurabilityConformance);

}  // namespace otpd::store::testing
