// Conformance, limits: fixed-window send counters, token buckets (take_token), and the
// tenant's send bucket taken inside start.
#include "store_conformance.hpp"

namespace otpd::store::testing {
namespace {

using core::CounterSpec;
using core::Seconds;
using core::Status;
using core::TimePoint;
using core::Verification;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// ---- send counters -------------------------------------------------------------------

TEST_P(LimitsConformance, ACounterRefusesAtItsLimitUntilItsWindowEnds) {
  const std::vector<CounterSpec> counters = {{"daily:acme:email", 100, hours(24)},
                                             {"prefix:acme:+44", 2, hours(1)}};
  const TimePoint hour = kMidnight + hours(5);
  started(counted_start(nth_recipient(1), hour + minutes(10), counters));
  started(counted_start(nth_recipient(2), hour + minutes(20), counters));

  StartOutcome refused = start(counted_start(nth_recipient(3), hour + minutes(30), counters));
  EXPECT_EQ(refused.decision.verdict, Send::kCounterLimit);
  EXPECT_EQ(refused.decision.counter_index, 1u);
  EXPECT_EQ(refused.decision.retry_after, seconds(1800));
  // Rounded up, and never 0.
  refused = start(counted_start(nth_recipient(3), hour + milliseconds(3'598'999), counters));
  EXPECT_EQ(refused.decision.verdict, Send::kCounterLimit);
  EXPECT_EQ(refused.decision.retry_after, seconds(2));
  refused = start(counted_start(nth_recipient(3), hour + milliseconds(3'599'999), counters));
  EXPECT_EQ(refused.decision.verdict, Send::kCounterLimit);
  EXPECT_EQ(refused.decision.retry_after, seconds(1));

  // The next hour is a new window.
  started(counted_start(nth_recipient(3), hour + hours(1), counters));
  started(counted_start(nth_recipient(4), hour + hours(1), counters));
  refused = start(counted_start(nth_recipient(5), hour + hours(1), counters));
  EXPECT_EQ(refused.decision.verdict, Send::kCounterLimit);
  EXPECT_EQ(refused.decision.retry_after, seconds(3600));
}

TEST_P(LimitsConformance, CounterWindowsAreFixedFromTheEpochNotFromTheFirstSend) {
  const std::vector<CounterSpec> per_minute = {{"velocity:acme:+1", 1, seconds(60)}};
  const TimePoint minute = kMidnight + minutes(7);
  started(counted_start(nth_recipient(1), minute + seconds(50), per_minute));
  StartOutcome refused = start(counted_start(nth_recipient(2), minute + seconds(55), per_minute));
  EXPECT_EQ(refused.decision.verdict, Send::kCounterLimit);
  EXPECT_EQ(refused.decision.counter_index, 0u);
  EXPECT_EQ(refused.decision.retry_after, seconds(5));  // the minute ends, not 60 s after
  started(counted_start(nth_recipient(2), minute + seconds(60), per_minute));
  refused = start(counted_start(nth_recipient(3), minute + seconds(61), per_minute));
  EXPECT_EQ(refused.decision.verdict, Send::kCounterLimit);
  EXPECT_EQ(refused.decision.retry_after, seconds(59));

  // A day is a UTC day.
  const std::vector<CounterSpec> daily = {{"daily:acme:sms", 1, hours(24)}};
  started(counted_start(nth_recipient(4), kMidnight - hours(1), daily));
  refused = start(counted_start(nth_recipient(5), kMidnight - seconds(10), daily));
  EXPECT_EQ(refused.decision.verdict, Send::kCounterLimit);
  EXPECT_EQ(refused.decision.retry_after, seconds(10));
  started(counted_start(nth_recipient(5), kMidnight, daily));
}

TEST_P(LimitsConformance, TheFirstFullCounterIsTheOneReported) {
  const std::vector<CounterSpec> counters = {
      {"open", 10, hours(1)}, {"daily", 1, hours(24)}, {"hourly", 1, hours(1)}};
  const TimePoint at = kMidnight + hours(3);
  started(counted_start(kAlice, at, counters));
  StartOutcome refused = start(counted_start(kBob, at + minutes(15), counters));
  EXPECT_EQ(refused.decision.verdict, Send::kCounterLimit);
  EXPECT_EQ(refused.decision.counter_index, 1u);
  EXPECT_EQ(refused.decision.retry_after, seconds(21 * 3600 - 15 * 60));  // until midnight UTC
}

TEST_P(LimitsConformance, ARefusalByACounterChangesNothing) {
  const StartOptions o{.cooldown_seconds = 30, .max_sends = 5};
  Verification v1 = started(counted_start(kAlice, kT0, {{"shared", 2, hours(24)}}, o));
  started(counted_start(kBob, kT0, {{"shared", 2, hours(24)}}, o));  // "shared" is full
  const Verification before = stored(v1);

  // Past Alice's cooldown and inside her window: only the counter stands in the way.
  StartRequest request = counted_start(kAlice, kT0 + seconds(30),
                                       {{"own", 5, hours(24)}, {"shared", 2, hours(24)}}, o);
  StartOutcome refused = start(request);
  ASSERT_EQ(refused.decision.verdict, Send::kCounterLimit);
  EXPECT_EQ(refused.decision.counter_index, 1u);

  EXPECT_FALSE(get(request.verification).has_value());
  expect_same(stored(v1), before);  // still pending, not superseded, its cooldown unmoved
  auto latest = newest_of(kTenant, {kAlice}, kT0 + seconds(30));
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->id, v1.id);
  EXPECT_EQ(depth(), 2u);

  // No send was recorded (this is Alice's 2nd send in the window, so a 60 s cooldown, not a
  // 120 s one) and no counter moved ("own" was not incremented although it passed, and
  // "shared" is still at 2).
  Verification v2 = started(counted_start(kAlice, kT0 + seconds(31),
                                          {{"own", 1, hours(24)}, {"shared", 3, hours(24)}}, o));
  EXPECT_EQ(v2.resend_at, kT0 + seconds(31 + 60));
  EXPECT_EQ(stored(v1).status, Status::kCanceled);
  EXPECT_EQ(start(counted_start(nth_recipient(1), kT0 + seconds(32), {{"shared", 3, hours(24)}}))
                .decision.verdict,
            Send::kCounterLimit);
  EXPECT_EQ(start(counted_start(nth_recipient(1), kT0 + seconds(32), {{"shared", 4, hours(24)}}))
                .decision.verdict,
            Send::kStart);
}

TEST_P(LimitsConformance, CountersWithoutALimitAreSkippedAndNotCounted) {
  const StartOptions o{.cooldown_seconds = 0, .max_sends = 0};
  for (int i = 0; i < 5; ++i) {
    started(counted_start(kAlice, kT0 + seconds(i),
                          {{"off", 0, hours(24)}, {"negative", -1, hours(24)}}, o));
  }
  started(counted_start(kAlice, kT0 + seconds(5),
                        {{"off", 1, hours(24)}, {"negative", 1, hours(24)}}, o));
  StartOutcome refused = start(counted_start(kAlice, kT0 + seconds(6), {{"off", 1, hours(24)}}, o));
  EXPECT_EQ(refused.decision.verdict, Send::kCounterLimit);
}

TEST_P(LimitsConformance, CountersAreIndependentPerKey) {
  const StartOptions o{.cooldown_seconds = 0, .max_sends = 0};
  started(counted_start(kAlice, kT0, {{"daily:acme:sms", 1, hours(24)}}, o));
  EXPECT_EQ(start(counted_start(kAlice, kT0 + seconds(1), {{"daily:acme:sms", 1, hours(24)}}, o))
                .decision.verdict,
            Send::kCounterLimit);
  started(counted_start(kAlice, kT0 + seconds(1), {{"daily:acme:email", 1, hours(24)}}, o));
  started(counted_start(kAlice, kT0 + seconds(2), {{"daily:globex:sms", 1, hours(24)}}, o));
  started(counted_start(kAlice, kT0 + seconds(3), {}, o));
}

TEST_P(LimitsConformance, CooldownAndSendLimitAreCheckedBeforeCounters) {
  const StartOptions o{.cooldown_seconds = 30, .max_sends = 1};
  const std::vector<CounterSpec> cap = {{"daily", 1, hours(24)}};
  started(counted_start(kAlice, kT0, cap, o));  // the counter is now full too
  StartOutcome refused = start(counted_start(kAlice, kT0 + seconds(5), cap, o));
  EXPECT_EQ(refused.decision.verdict, Send::kCooldown);
  EXPECT_EQ(refused.decision.retry_after, seconds(25));
  refused = start(counted_start(kAlice, kT0 + seconds(30), cap, o));
  EXPECT_EQ(refused.decision.verdict, Send::kSendLimit);
  refused = start(counted_start(kBob, kT0 + seconds(30), cap, o));
  EXPECT_EQ(refused.decision.verdict, Send::kCounterLimit);
}

TEST_P(LimitsConformance, SendsRefusedByCooldownOrWindowDoNotCount) {
  const StartOptions o{.cooldown_seconds = 30, .max_sends = 1};
  const std::vector<CounterSpec> cap = {{"daily", 2, hours(24)}};
  started(counted_start(kAlice, kT0, cap, o));
  EXPECT_EQ(start(counted_start(kAlice, kT0 + seconds(5), cap, o)).decision.verdict,
            Send::kCooldown);
  EXPECT_EQ(start(counted_start(kAlice, kT0 + seconds(30), cap, o)).decision.verdict,
            Send::kSendLimit);
  started(counted_start(kBob, kT0 + seconds(31), cap, o));  // the 2nd, not the 4th
  StartOutcome full = start(counted_start(nth_recipient(1), kT0 + seconds(32), cap, o));
  EXPECT_EQ(full.decision.verdict, Send::kCounterLimit);
}

// ---- token buckets -------------------------------------------------------------------

TEST_P(LimitsConformance, ABucketStartsFullAndRefusesWhenEmpty) {
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(take_token("send:acme", 1, 3, kT0).allowed) << i;
  TokenOutcome refused = take_token("send:acme", 1, 3, kT0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, seconds(1));

  // 0.2 token/s: one token every 5 s.
  for (int i = 0; i < 2; ++i) EXPECT_TRUE(take_token("slow", 0.2, 2, kT0).allowed) << i;
  refused = take_token("slow", 0.2, 2, kT0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, seconds(5));
}

TEST_P(LimitsConformance, ABucketRefillsAtItsRateUpToItsBurst) {
  const std::string key = "key:abc";
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(take_token(key, 2, 3, kT0).allowed);
  // 2 tokens/s: half a token after 250 ms, a whole one after 500 ms.
  TokenOutcome refused = take_token(key, 2, 3, kT0 + milliseconds(250));
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, seconds(1));  // 250 ms, rounded up
  EXPECT_TRUE(take_token(key, 2, 3, kT0 + milliseconds(500)).allowed);
  EXPECT_FALSE(take_token(key, 2, 3, kT0 + milliseconds(500)).allowed);
  EXPECT_TRUE(take_token(key, 2, 3, kT0 + milliseconds(1000)).allowed);

  // A long pause refills to the burst and no further.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(take_token(key, 2, 3, kT0 + hours(1)).allowed) << i;
  EXPECT_FALSE(take_token(key, 2, 3, kT0 + hours(1)).allowed);
}

TEST_P(LimitsConformance, RefusedTakesDoNotLoseTheRefill) {
  const std::string key = "send:acme";
  ASSERT_TRUE(take_token(key, 1, 1, kT0).allowed);
  for (int ms : {200, 400, 600, 800, 999}) {
    TokenOutcome refused = take_token(key, 1, 1, kT0 + milliseconds(ms));
    EXPECT_FALSE(refused.allowed) << ms;
    EXPECT_EQ(refused.retry_after, seconds(1)) << ms;
  }
  EXPECT_TRUE(take_token(key, 1, 1, kT0 + seconds(1)).allowed);
  EXPECT_FALSE(take_token(key, 1, 1, kT0 + seconds(1)).allowed);
}

TEST_P(LimitsConformance, FractionalRatesRefillFractionsOfATokenAndRetryAfterHolds) {
  // 0.5 token/s: a token every 2 s.
  const std::string half = "half";
  ASSERT_TRUE(take_token(half, 0.5, 1, kT0).allowed);
  TokenOutcome refused = take_token(half, 0.5, 1, kT0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, seconds(2));
  refused = take_token(half, 0.5, 1, kT0 + seconds(1));
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, seconds(1));
  refused = take_token(half, 0.5, 1, kT0 + milliseconds(1999));
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, seconds(1));
  EXPECT_TRUE(take_token(half, 0.5, 1, kT0 + seconds(2)).allowed);

  // 0.1 token/s: 10 s, and a token is really back after them despite 0.1 being inexact.
  const std::string tenth = "tenth";
  ASSERT_TRUE(take_token(tenth, 0.1, 1, kT0).allowed);
  EXPECT_EQ(take_token(tenth, 0.1, 1, kT0).retry_after, seconds(10));
  EXPECT_FALSE(take_token(tenth, 0.1, 1, kT0 + milliseconds(9'999)).allowed);
  EXPECT_TRUE(take_token(tenth, 0.1, 1, kT0 + seconds(10)).allowed);

  // 0.3 token/s, burst 2: what is left over after each token carries to the next (waits
  // of 4 s, 3 s, 3 s, 4 s...), and coming back after retry_after always finds a token.
  const std::string odd = "odd";
  TimePoint t = kT0;
  ASSERT_TRUE(take_token(odd, 0.3, 2, t).allowed);
  ASSERT_TRUE(take_token(odd, 0.3, 2, t).allowed);
  std::vector<Seconds> waits;
  for (int i = 0; i < 10; ++i) {
    TokenOutcome wait = take_token(odd, 0.3, 2, t);
    ASSERT_FALSE(wait.allowed) << i;
    waits.push_back(wait.retry_after);
    t += wait.retry_after;
    EXPECT_TRUE(take_token(odd, 0.3, 2, t).allowed) << i;
  }
  EXPECT_EQ(waits,
            (std::vector<Seconds>{seconds(4), seconds(3), seconds(3), seconds(4), seconds(3),
                                  seconds(3), seconds(4), seconds(3), seconds(3), seconds(4)}));
}

TEST_P(LimitsConformance, ANonPositiveRateIsNoLimit) {
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(take_token("free", 0, 1, kT0).allowed) << i;
  EXPECT_TRUE(take_token("free", -1, 1, kT0).allowed);
  // With a rate, the same key is a bucket that starts full.
  EXPECT_TRUE(take_token("free", 1, 2, kT0).allowed);
  EXPECT_TRUE(take_token("free", 1, 2, kT0).allowed);
  EXPECT_FALSE(take_token("free", 1, 2, kT0).allowed);
  EXPECT_TRUE(take_token("free", 0, 2, kT0).allowed);
}

TEST_P(LimitsConformance, BucketsAreIndependentPerKey) {
  ASSERT_TRUE(take_token("send:acme", 1, 1, kT0).allowed);
  EXPECT_FALSE(take_token("send:acme", 1, 1, kT0).allowed);
  EXPECT_TRUE(take_token("send:globex", 1, 1, kT0).allowed);
  EXPECT_TRUE(take_token("key:acme", 1, 1, kT0).allowed);
}

TEST_P(LimitsConformance, AClockGoingBackRefillsNothingAndLosesNothing) {
  const std::string key = "skew";
  ASSERT_TRUE(take_token(key, 1, 2, kT0).allowed);                // 1 left
  EXPECT_TRUE(take_token(key, 1, 2, kT0 - seconds(10)).allowed);  // 0 left
  TokenOutcome refused = take_token(key, 1, 2, kT0 - seconds(5));
  EXPECT_FALSE(refused.allowed);
  EXPECT_GE(refused.retry_after, seconds(1));
  // The refill runs from kT0, the latest time seen, not from the earlier readings.
  EXPECT_FALSE(take_token(key, 1, 2, kT0 + milliseconds(999)).allowed);
  EXPECT_TRUE(take_token(key, 1, 2, kT0 + seconds(1)).allowed);
  EXPECT_FALSE(take_token(key, 1, 2, kT0 + seconds(1)).allowed);
}

// ---- the send bucket inside start ----------------------------------------------------

StartRequest rated(const core::RecipientHash& recipient, TimePoint now, double rate, double burst,
                   const StartOptions& options = {}) {
  StartRequest r = start_request(kTenant, recipient, now, options);
  r.rate = core::TokenSpec{"send:acme", rate, burst};
  return r;
}

TEST_P(LimitsConformance, AnEmptySendBucketRefusesAStartWithRetryAfter) {
  started(rated(nth_recipient(1), kT0, 1, 2));
  started(rated(nth_recipient(2), kT0, 1, 2));
  StartRequest refused_request = rated(nth_recipient(3), kT0 + milliseconds(400), 1, 2);
  StartOutcome refused = start(refused_request);
  EXPECT_EQ(refused.decision.verdict, Send::kRateLimited);
  EXPECT_EQ(refused.decision.retry_after, seconds(1));  // 600 ms, rounded up
  // Refused, it stored nothing.
  EXPECT_FALSE(get(refused_request.verification).has_value());
  EXPECT_EQ(depth(), 2u);
  EXPECT_EQ(start(rated(nth_recipient(3), kT0 + seconds(1), 1, 2)).decision.verdict, Send::kStart);

  // 0.2 token/s: a token every 5 s.
  started(rated(nth_recipient(4), kT0 + seconds(100), 0.2, 1));
  refused = start(rated(nth_recipient(5), kT0 + seconds(100), 0.2, 1));
  EXPECT_EQ(refused.decision.verdict, Send::kRateLimited);
  EXPECT_EQ(refused.decision.retry_after, seconds(5));
}

TEST_P(LimitsConformance, EachAcceptedStartTakesOneTokenFromTheSameBucketAsTakeToken) {
  for (int i = 0; i < 3; ++i) started(rated(nth_recipient(i), kT0, 0.001, 5));
  // Five tokens, three taken by starts: take_token on the same key finds two.
  EXPECT_TRUE(take_token("send:acme", 0.001, 5, kT0).allowed);
  EXPECT_TRUE(take_token("send:acme", 0.001, 5, kT0).allowed);
  EXPECT_FALSE(take_token("send:acme", 0.001, 5, kT0).allowed);
  EXPECT_EQ(start(rated(nth_recipient(3), kT0, 0.001, 5)).decision.verdict, Send::kRateLimited);
  // An inactive rate is no limit.
  EXPECT_EQ(start(rated(nth_recipient(4), kT0, 0, 5)).decision.verdict, Send::kStart);
}

// The bucket is taken from only when the send is accepted: a start refused by the
// cooldown, the window, the failure budget or a counter leaves its token in place.
TEST_P(LimitsConformance, AStartRefusedForAnotherReasonTakesNoToken) {
  const StartOptions o{
      .max_attempts = 1, .cooldown_seconds = 30, .max_sends = 1, .failures_per_hour = 1};
  Verification v = started(rated(kAlice, kT0, 0.001, 2, o));  // one token left
  StartRequest cooldown = rated(kAlice, kT0 + seconds(1), 0.001, 2, o);
  ASSERT_EQ(start(cooldown).decision.verdict, Send::kCooldown);
  ASSERT_EQ(check(v, "000000", kT0 + seconds(2)).verdict, Check::kLocked);
  ASSERT_EQ(start(rated(kAlice, kT0 + seconds(3), 0.001, 2,
                        {.max_attempts = 1, .max_sends = 5, .failures_per_hour = 1}))
                .decision.verdict,
            Send::kTooManyFailures);
  ASSERT_EQ(start(rated(kAlice, kT0 + seconds(4), 0.001, 2, o)).decision.verdict, Send::kSendLimit);
  started(counted_start(kBob, kT0, {{"cap", 1, hours(24)}}));
  StartRequest counted = rated(nth_recipient(1), kT0 + seconds(5), 0.001, 2);
  counted.counters = {{"cap", 1, hours(24)}};
  ASSERT_EQ(start(counted).decision.verdict, Send::kCounterLimit);

  // The token is still there for one accepted send, and only one.
  EXPECT_EQ(start(rated(nth_recipient(2), kT0 + seconds(6), 0.001, 2)).decision.verdict,
            Send::kStart);
  EXPECT_EQ(start(rated(nth_recipient(3), kT0 + seconds(7), 0.001, 2)).decision.verdict,
            Send::kRateLimited);
}

}  // namespace
}  // namespace otpd::store::testing
