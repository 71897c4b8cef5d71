// Conformance, maintenance: sweep (what a store without native expiry deletes, and only
// that), ping and the schema check.
#include "store_conformance.hpp"

namespace otpd::store::testing {
namespace {

using core::CounterSpec;
using core::Status;
using core::TimePoint;
using core::Verification;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_P(MaintenanceConformance, SweepDeletesOnlyWhatIsPastDeleteAfter) {
  Verification old = started(kTenant, kAlice, kT0, {.ttl_seconds = 60, .retention_seconds = 60});
  Verification young = started(kTenant, kBob, kT0, {.ttl_seconds = 600});
  ASSERT_EQ(old.delete_after, kT0 + seconds(120));

  sweep(old.delete_after - milliseconds(1), hours(2));
  EXPECT_TRUE(get(old).has_value());
  EXPECT_TRUE(get(young).has_value());

  EXPECT_GE(sweep(old.delete_after, hours(2)), 1u);
  EXPECT_FALSE(get(old).has_value());
  EXPECT_EQ(check(old, "123456", old.delete_after).verdict, Check::kNotFound);
  Verification y = stored(young);
  EXPECT_EQ(y.status, Status::kPending);
  EXPECT_EQ(check(young, "123456", old.delete_after).verdict, Check::kApproved);
}

// A send record is kept while its verification is (however short the horizon) and goes
// with it.
TEST_P(MaintenanceConformance, SendRecordsGoWithTheirVerification) {
  const StartOptions o{
      .ttl_seconds = 60, .cooldown_seconds = 0, .max_sends = 1, .retention_seconds = 60};
  Verification v = started(kTenant, kAlice, kT0, o);
  ASSERT_EQ(v.delete_after, kT0 + seconds(120));
  sweep(kT0 + seconds(119), seconds(5));
  EXPECT_EQ(start(start_request(kTenant, kAlice, kT0 + seconds(119), o)).decision.verdict,
            Send::kSendLimit);

  // At least the verification (a backend may keep the send record in the same row).
  EXPECT_GE(sweep(kT0 + seconds(120), hours(2)), 1u);
  EXPECT_FALSE(get(v).has_value());
  EXPECT_EQ(start(start_request(kTenant, kAlice, kT0 + seconds(121), o)).decision.verdict,
            Send::kStart);
}

TEST_P(MaintenanceConformance, SweepForgetsLapsedIdempotencyRecordsOnly) {
  StartRequest lapsing = start_request(kTenant, kAlice, kT0);
  lapsing.idempotency = core::IdempotencyClaim{"lapsed", "h", kT0 + seconds(30)};
  ASSERT_EQ(start(lapsing).decision.verdict, Send::kStart);
  StartRequest kept = start_request(kTenant, kBob, kT0);
  kept.idempotency = core::IdempotencyClaim{"kept", "h", kT0 + hours(24)};
  ASSERT_EQ(start(kept).decision.verdict, Send::kStart);

  sweep(kT0 + seconds(31), hours(2));
  StartRequest again = start_request(kTenant, kBob, kT0 + seconds(32));
  again.idempotency = core::IdempotencyClaim{"kept", "h", kT0 + hours(24)};
  StartOutcome replay = start(again);
  EXPECT_EQ(replay.decision.verdict, Send::kReplay);
  EXPECT_EQ(replay.verification.id, kept.verification.id);
  StartRequest other = start_request(kTenant, nth_recipient(1), kT0 + seconds(32));
  other.idempotency = core::IdempotencyClaim{"lapsed", "other", kT0 + hours(24)};
  EXPECT_EQ(start(other).decision.verdict, Send::kStart);
}

TEST_P(MaintenanceConformance, SweepKeepsCountersWhileTheirWindowLasts) {
  const std::vector<CounterSpec> per_hour = {{"hourly", 1, hours(1)}};
  const TimePoint hour = kMidnight + hours(2);
  started(counted_start(kAlice, hour, per_hour));
  sweep(hour + milliseconds(3'599'999), hours(2));
  EXPECT_EQ(start(counted_start(kBob, hour + milliseconds(3'599'999), per_hour)).decision.verdict,
            Send::kCounterLimit);
  sweep(hour + hours(1), hours(2));
  started(counted_start(kBob, hour + hours(1), per_hour));
  EXPECT_EQ(start(counted_start(nth_recipient(1), hour + hours(1), per_hour)).decision.verdict,
            Send::kCounterLimit);
}

TEST_P(MaintenanceConformance, SweepKeepsBucketsUntilTheyAreFullAgain) {
  // 1 token/s, burst 3: drained at t0, full again at t0 + 3 s.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(take_token("b", 1, 3, kT0).allowed);
  const TimePoint almost = kT0 + milliseconds(2'999);
  sweep(almost, hours(2));
  EXPECT_TRUE(take_token("b", 1, 3, almost).allowed);
  EXPECT_TRUE(take_token("b", 1, 3, almost).allowed);
  EXPECT_FALSE(take_token("b", 1, 3, almost).allowed);

  // Swept once full, it comes back as a new bucket: full.
  sweep(kT0 + hours(1), hours(2));
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(take_token("b", 1, 3, kT0 + hours(1)).allowed);
  EXPECT_FALSE(take_token("b", 1, 3, kT0 + hours(1)).allowed);
}

// Failures count against the budget for an hour; the sweep keeps them for its horizon.
TEST_P(MaintenanceConformance, SweepKeepsFailuresInsideTheHorizon) {
  const StartOptions o{.ttl_seconds = 7200, .max_attempts = 5};
  Verification v = started(kTenant, kAlice, kT0, o);
  ASSERT_EQ(check(v, "000000", kT0).verdict, Check::kInvalid);
  sweep(kT0 + hours(1) - milliseconds(1), hours(1));
  EXPECT_EQ(check(v, "123456", kT0 + hours(1) - milliseconds(1), 1).verdict,
            Check::kTooManyFailures);
}

TEST_P(MaintenanceConformance, PingAndSchemaCheckSucceedOnAnOpenStore) {
  EXPECT_TRUE(run(store_->ping()));
  auto problem = run(store_->schema_problem());
  ASSERT_TRUE(problem);
  EXPECT_EQ(*problem, std::nullopt);
  EXPECT_TRUE(run(store_->init_schema()));  // idempotent
  EXPECT_EQ(run(store_->schema_problem()).value(), std::nullopt);
}

}  // namespace
}  // namespace otpd::store::testing
