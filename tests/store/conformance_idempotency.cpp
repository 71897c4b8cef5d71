// Conformance, idempotency: the claim a start carries (StartRequest::idempotency), checked
// before any limit, recorded with an accepted send and replayed until it lapses.
#include "store_conformance.hpp"

namespace otpd::store::testing {
namespace {

using core::Status;
using core::Verification;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

// A start claiming `key` for a request whose body hashes to `request_hash`, kept 24 h.
StartRequest claimed(const std::string& key, const std::string& request_hash,
                     const core::TenantId& tenant, const core::RecipientHash& recipient,
                     core::TimePoint now, const StartOptions& options = {}) {
  StartRequest r = start_request(tenant, recipient, now, options);
  r.idempotency = core::IdempotencyClaim{key, request_hash, now + hours(24)};
  return r;
}

TEST_P(IdempotencyConformance, ReplayAndConflictUntilTheRecordLapses) {
  const std::string key = "key-1";
  StartOutcome first = start(claimed(key, "body-a", kTenant, kAlice, kT0));
  ASSERT_EQ(first.decision.verdict, Send::kStart);

  StartRequest again = claimed(key, "body-a", kTenant, kAlice, kT0 + seconds(1));
  StartOutcome replay = start(again);
  EXPECT_EQ(replay.decision.verdict, Send::kReplay);
  expect_same(replay.verification, first.verification);
  EXPECT_FALSE(replay.superseded.has_value());
  // A replay stores nothing: not the request's own verification, not another job.
  EXPECT_FALSE(get(again.verification).has_value());
  EXPECT_EQ(depth(), 1u);

  EXPECT_EQ(start(claimed(key, "body-b", kTenant, kAlice, kT0 + seconds(1))).decision.verdict,
            Send::kIdempotencyConflict);
  // Long after: a record replays until its keep_until.
  EXPECT_EQ(start(claimed(key, "body-a", kTenant, kAlice, kT0 + hours(23))).decision.verdict,
            Send::kReplay);
  EXPECT_EQ(start(claimed(key, "body-b", kTenant, kAlice, kT0 + hours(23))).decision.verdict,
            Send::kIdempotencyConflict);
  EXPECT_EQ(start(claimed(key, "body-b", kTenant, kAlice, kT0 + hours(24) - milliseconds(1)))
                .decision.verdict,
            Send::kIdempotencyConflict);

  // A lapsed record is no record: the key is free for another body, which now holds it.
  StartOutcome next = start(claimed(key, "body-b", kTenant, kAlice, kT0 + hours(24)));
  ASSERT_EQ(next.decision.verdict, Send::kStart);
  EXPECT_NE(next.verification.id, first.verification.id);
  EXPECT_EQ(
      start(claimed(key, "body-a", kTenant, kAlice, kT0 + hours(24) + seconds(1))).decision.verdict,
      Send::kIdempotencyConflict);
  StartOutcome replay_next =
      start(claimed(key, "body-b", kTenant, kAlice, kT0 + hours(24) + seconds(2)));
  EXPECT_EQ(replay_next.decision.verdict, Send::kReplay);
  EXPECT_EQ(replay_next.verification.id, next.verification.id);
}

// The replay shows the first answer as it was given, not the verification's state now.
TEST_P(IdempotencyConformance, AReplayReturnsTheFirstAnswerEvenAfterApproval) {
  StartOutcome first = start(claimed("k", "h", kTenant, kAlice, kT0));
  ASSERT_EQ(first.decision.verdict, Send::kStart);
  ASSERT_EQ(check(first.verification, "123456", kT0 + seconds(1)).verdict, Check::kApproved);
  ASSERT_EQ(stored(first.verification).status, Status::kApproved);

  StartOutcome replay = start(claimed("k", "h", kTenant, kAlice, kT0 + seconds(2)));
  ASSERT_EQ(replay.decision.verdict, Send::kReplay);
  expect_same(replay.verification, first.verification);
  EXPECT_EQ(replay.verification.status, Status::kPending);
  EXPECT_FALSE(replay.verification.approved_at.has_value());
  // And it changed nothing: still approved, nothing new queued.
  EXPECT_EQ(stored(first.verification).status, Status::kApproved);
  EXPECT_EQ(depth(), 1u);
}

// A replay answers before any limit is looked at, and is charged to none of them.
TEST_P(IdempotencyConformance, AReplayIsNeverLimited) {
  const std::vector<core::CounterSpec> cap = {{"daily:acme:email", 1, hours(24)}};
  const core::TokenSpec bucket{"send:acme", 0.001, 1};
  const StartOptions o{.cooldown_seconds = 30, .max_sends = 1};
  StartRequest first = claimed("k", "h", kTenant, kAlice, kT0, o);
  first.counters = cap;
  first.rate = bucket;
  ASSERT_EQ(start(first).decision.verdict, Send::kStart);

  // Within the cooldown, the window full, the counter full and the bucket empty.
  for (int s : {1, 5, 29}) {
    StartRequest again = claimed("k", "h", kTenant, kAlice, kT0 + seconds(s), o);
    again.counters = cap;
    again.rate = bucket;
    EXPECT_EQ(start(again).decision.verdict, Send::kReplay) << s;
  }
  StartRequest unclaimed = start_request(kTenant, kAlice, kT0 + seconds(30), o);
  unclaimed.counters = cap;
  EXPECT_EQ(start(unclaimed).decision.verdict, Send::kSendLimit);
  unclaimed = start_request(kTenant, kBob, kT0 + seconds(30), o);
  unclaimed.counters = cap;
  EXPECT_EQ(start(unclaimed).decision.verdict, Send::kCounterLimit);
  unclaimed = start_request(kTenant, kBob, kT0 + seconds(30), o);
  unclaimed.rate = bucket;
  EXPECT_EQ(start(unclaimed).decision.verdict, Send::kRateLimited);

  // The replays counted nothing: a counter of 2 still has room for exactly one more send.
  StartRequest room = start_request(kTenant, kBob, kT0 + seconds(31), o);
  room.counters = {{"daily:acme:email", 2, hours(24)}};
  EXPECT_EQ(start(room).decision.verdict, Send::kStart);
  room = start_request(kTenant, nth_recipient(1), kT0 + seconds(32), o);
  room.counters = {{"daily:acme:email", 2, hours(24)}};
  EXPECT_EQ(start(room).decision.verdict, Send::kCounterLimit);
}

TEST_P(IdempotencyConformance, AReplayTakesNoToken) {
  const core::TokenSpec bucket{"send:acme", 0.001, 2};
  StartRequest first = claimed("k", "h", kTenant, kAlice, kT0);
  first.rate = bucket;
  ASSERT_EQ(start(first).decision.verdict, Send::kStart);  // one token of two left
  for (int s : {1, 2, 3}) {
    StartRequest again = claimed("k", "h", kTenant, kAlice, kT0 + seconds(s));
    again.rate = bucket;
    ASSERT_EQ(start(again).decision.verdict, Send::kReplay) << s;
  }
  StartRequest other = start_request(kTenant, kBob, kT0 + seconds(4));
  other.rate = bucket;
  EXPECT_EQ(start(other).decision.verdict, Send::kStart);
  other = start_request(kTenant, nth_recipient(1), kT0 + seconds(5));
  other.rate = bucket;
  EXPECT_EQ(start(other).decision.verdict, Send::kRateLimited);
}

// A refused start leaves no record (as releasing the key after an error did): a retry
// with the same key is evaluated afresh, whatever its body.
TEST_P(IdempotencyConformance, ARefusedStartLeavesNoRecord) {
  started(kTenant, kAlice, kT0);
  StartOutcome refused = start(claimed("k", "h1", kTenant, kAlice, kT0 + seconds(10)));
  ASSERT_EQ(refused.decision.verdict, Send::kCooldown);
  // Refused again, by the cooldown, not answered as a replay of the refusal.
  EXPECT_EQ(start(claimed("k", "h1", kTenant, kAlice, kT0 + seconds(20))).decision.verdict,
            Send::kCooldown);
  // Nor is another body a conflict.
  EXPECT_EQ(start(claimed("k", "h2", kTenant, kBob, kT0 + seconds(20))).decision.verdict,
            Send::kStart);

  // The same after a refusal by a counter.
  const std::vector<core::CounterSpec> full = {{"cap", 0, hours(24)}, {"shut", 1, hours(24)}};
  started(counted_start(nth_recipient(1), kT0, {{"shut", 1, hours(24)}}));
  StartRequest capped = claimed("k2", "h1", kTenant, nth_recipient(2), kT0 + seconds(1));
  capped.counters = full;
  ASSERT_EQ(start(capped).decision.verdict, Send::kCounterLimit);
  EXPECT_EQ(
      start(claimed("k2", "h1", kTenant, nth_recipient(2), kT0 + seconds(2))).decision.verdict,
      Send::kStart);
}

TEST_P(IdempotencyConformance, KeysArePerTenant) {
  const std::string key = "shared-key";
  StartOutcome mine = start(claimed(key, "h1", kTenant, kAlice, kT0));
  ASSERT_EQ(mine.decision.verdict, Send::kStart);
  StartOutcome theirs = start(claimed(key, "h2", kOtherTenant, kAlice, kT0));
  EXPECT_EQ(theirs.decision.verdict, Send::kStart);
  StartOutcome replay = start(claimed(key, "h1", kTenant, kAlice, kT0 + seconds(1)));
  EXPECT_EQ(replay.decision.verdict, Send::kReplay);
  EXPECT_EQ(replay.verification.id, mine.verification.id);
  replay = start(claimed(key, "h2", kOtherTenant, kAlice, kT0 + seconds(1)));
  EXPECT_EQ(replay.decision.verdict, Send::kReplay);
  EXPECT_EQ(replay.verification.id, theirs.verification.id);
}

}  // namespace
}  // namespace otpd::store::testing
