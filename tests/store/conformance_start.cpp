// Conformance, start: storing a verification, the cooldown with doubling, the
// per-recipient window, supersede, and the recipient's history under every secret.
#include "store_conformance.hpp"

namespace otpd::store::testing {
namespace {

using core::DeliveryStatus;
using core::RecipientHash;
using core::Status;
using core::Verification;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

// The same recipient under the current secret (A) and a retired one (B).
const RecipientHash kUnderA("aa" + std::string(62, '1'));
const RecipientHash kUnderB("bb" + std::string(62, '2'));

TEST_P(StartConformance, StartStoresTheVerificationAndQueuesItsDelivery) {
  StartRequest request = start_request(kTenant, kAlice, kT0);
  StartOutcome out = start(request);
  ASSERT_EQ(out.decision.verdict, Send::kStart);
  EXPECT_FALSE(out.superseded.has_value());

  Verification expected = request.verification;
  expected.resend_at = kT0 + seconds(30);
  expected.delivery = DeliveryStatus::kQueued;
  expect_same(out.verification, expected);
  expect_same(stored(expected), expected);
  EXPECT_EQ(depth(), 1u);
}

TEST_P(StartConformance, FieldsRoundTripIncludingEmptyMetadata) {
  StartRequest request = start_request(kTenant, kAlice, kT0, {.channel = core::ChannelKind::kSms});
  request.verification.alphabet = core::Alphabet::kAlnum;
  request.verification.metadata_json = "";
  request.verification.locale = "";
  Verification v = started(request);
  Verification s = stored(v);
  EXPECT_EQ(s.channel, core::ChannelKind::kSms);
  EXPECT_EQ(s.alphabet, core::Alphabet::kAlnum);
  EXPECT_EQ(s.metadata_json, "");
  EXPECT_EQ(s.locale, "");
  EXPECT_FALSE(s.approved_at.has_value());
}

TEST_P(StartConformance, CooldownRefusesANewSendWithRetryAfter) {
  Verification first = started(kTenant, kAlice, kT0);

  StartOutcome early = start(start_request(kTenant, kAlice, kT0 + seconds(10)));
  EXPECT_EQ(early.decision.verdict, Send::kCooldown);
  EXPECT_EQ(early.decision.retry_after, seconds(20));

  // Rounded up, and never 0.
  StartOutcome late = start(start_request(kTenant, kAlice, kT0 + milliseconds(29'500)));
  EXPECT_EQ(late.decision.verdict, Send::kCooldown);
  EXPECT_EQ(late.decision.retry_after, seconds(1));
  late = start(start_request(kTenant, kAlice, kT0 + milliseconds(29'999)));
  EXPECT_EQ(late.decision.verdict, Send::kCooldown);
  EXPECT_EQ(late.decision.retry_after, seconds(1));

  StartOutcome after = start(start_request(kTenant, kAlice, kT0 + seconds(30)));
  EXPECT_EQ(after.decision.verdict, Send::kStart);
  EXPECT_EQ(after.superseded, first.id);
}

TEST_P(StartConformance, CooldownDoublesWithEachSendInTheWindow) {
  Verification v1 = started(kTenant, kAlice, kT0);
  EXPECT_EQ(v1.resend_at, kT0 + seconds(30));
  Verification v2 = started(kTenant, kAlice, kT0 + seconds(30));
  EXPECT_EQ(v2.resend_at, kT0 + seconds(30 + 60));

  StartOutcome held = start(start_request(kTenant, kAlice, kT0 + seconds(89)));
  EXPECT_EQ(held.decision.verdict, Send::kCooldown);
  EXPECT_EQ(held.decision.retry_after, seconds(1));

  Verification v3 = started(kTenant, kAlice, kT0 + seconds(90));
  EXPECT_EQ(v3.resend_at, kT0 + seconds(90 + 120));
  Verification v4 = started(kTenant, kAlice, kT0 + seconds(210));
  EXPECT_EQ(v4.resend_at, kT0 + seconds(210 + 240));
}

TEST_P(StartConformance, CooldownIsCappedAtTheWindow) {
  const StartOptions o{.cooldown_seconds = 30, .max_sends = 10, .window_seconds = 100};
  Verification v1 = started(kTenant, kAlice, kT0, o);
  EXPECT_EQ(v1.resend_at - v1.created_at, seconds(30));
  Verification v2 = started(kTenant, kAlice, v1.resend_at, o);
  EXPECT_EQ(v2.resend_at - v2.created_at, seconds(60));
  Verification v3 = started(kTenant, kAlice, v2.resend_at, o);
  EXPECT_EQ(v3.resend_at - v3.created_at, seconds(100));
}

// The cap never cuts the configured cooldown itself: 900 s after a send holds the resend
// for 900 s, although the window is 600 s (the old SQLite backend capped it at 600).
TEST_P(StartConformance, ACooldownLongerThanTheWindowIsHonoured) {
  const StartOptions o{
      .ttl_seconds = 1200, .cooldown_seconds = 900, .max_sends = 5, .window_seconds = 600};
  Verification v1 = started(kTenant, kAlice, kT0, o);
  EXPECT_EQ(v1.resend_at, kT0 + seconds(900));

  StartOutcome held = start(start_request(kTenant, kAlice, kT0, o));
  EXPECT_EQ(held.decision.verdict, Send::kCooldown);
  EXPECT_EQ(held.decision.retry_after, seconds(900));
  held = start(start_request(kTenant, kAlice, kT0 + seconds(600), o));
  EXPECT_EQ(held.decision.verdict, Send::kCooldown);
  EXPECT_EQ(held.decision.retry_after, seconds(300));

  Verification v2 = started(kTenant, kAlice, kT0 + seconds(900), o);
  EXPECT_EQ(v2.resend_at - v2.created_at, seconds(900));
  // The 2nd send inside one window (the first one approved, so nothing holds it back):
  // doubling makes 1800 s, capped at the window but never below the configured 900 s.
  ASSERT_EQ(check(v2, "123456", kT0 + seconds(901)).verdict, Check::kApproved);
  Verification v3 = started(kTenant, kAlice, kT0 + seconds(902), o);
  EXPECT_EQ(v3.resend_at - v3.created_at, seconds(900));
}

// The compatibility facade's rule: no new code while the newest one is pending, however
// short the cooldown; it is held until that code expires (or is used).
TEST_P(StartConformance, HoldWhilePendingHoldsUntilTheCodeExpires) {
  const StartOptions o{.ttl_seconds = 120, .cooldown_seconds = 0, .max_sends = 0};
  auto held_start = [&](core::TimePoint now) {
    StartRequest r = start_request(kTenant, kAlice, now, o);
    r.rules.hold_while_pending = true;
    return start(std::move(r));
  };
  StartOutcome first = held_start(kT0);
  ASSERT_EQ(first.decision.verdict, Send::kStart);
  StartOutcome held = held_start(kT0 + seconds(100));
  EXPECT_EQ(held.decision.verdict, Send::kCooldown);
  EXPECT_EQ(held.decision.retry_after, seconds(20));
  EXPECT_EQ(held_start(kT0 + seconds(120)).decision.verdict, Send::kStart);
  // Used, it holds nothing back.
  StartOutcome latest = held_start(kT0 + seconds(240));
  ASSERT_EQ(latest.decision.verdict, Send::kStart);
  ASSERT_EQ(check(latest.verification, "123456", kT0 + seconds(241)).verdict, Check::kApproved);
  EXPECT_EQ(held_start(kT0 + seconds(242)).decision.verdict, Send::kStart);
}

TEST_P(StartConformance, CooldownRestartsWhenOldSendsLeaveTheWindow) {
  const StartOptions o{.cooldown_seconds = 30, .max_sends = 5, .window_seconds = 100};
  Verification v1 = started(kTenant, kAlice, kT0, o);
  Verification v2 = started(kTenant, kAlice, v1.resend_at, o);  // 2nd in window: 60 s
  ASSERT_EQ(v2.resend_at, kT0 + seconds(90));
  // At t0+200 both earlier sends are older than the window: back to the base cooldown.
  Verification v3 = started(kTenant, kAlice, kT0 + seconds(200), o);
  EXPECT_EQ(v3.resend_at - v3.created_at, seconds(30));
}

TEST_P(StartConformance, SendLimitCountsTheWindowAndSaysWhenASlotFrees) {
  const StartOptions o{.cooldown_seconds = 0, .max_sends = 3, .window_seconds = 600};
  started(kTenant, kAlice, kT0, o);
  started(kTenant, kAlice, kT0 + seconds(1), o);
  started(kTenant, kAlice, kT0 + seconds(2), o);

  StartOutcome refused = start(start_request(kTenant, kAlice, kT0 + seconds(3), o));
  EXPECT_EQ(refused.decision.verdict, Send::kSendLimit);
  EXPECT_EQ(refused.decision.retry_after, seconds(597));

  refused = start(start_request(kTenant, kAlice, kT0 + milliseconds(599'999), o));
  EXPECT_EQ(refused.decision.verdict, Send::kSendLimit);
  EXPECT_EQ(refused.decision.retry_after, seconds(1));

  // The send at t0 leaves the window (now - window, now] exactly at t0 + 600 s.
  started(kTenant, kAlice, kT0 + seconds(600), o);
  refused = start(start_request(kTenant, kAlice, kT0 + seconds(600), o));
  EXPECT_EQ(refused.decision.verdict, Send::kSendLimit);
  EXPECT_EQ(refused.decision.retry_after, seconds(1));
}

TEST_P(StartConformance, CooldownIsCheckedBeforeTheSendLimit) {
  const StartOptions o{.cooldown_seconds = 30, .max_sends = 1, .window_seconds = 600};
  started(kTenant, kAlice, kT0, o);
  StartOutcome refused = start(start_request(kTenant, kAlice, kT0 + seconds(5), o));
  EXPECT_EQ(refused.decision.verdict, Send::kCooldown);
  EXPECT_EQ(refused.decision.retry_after, seconds(25));
  refused = start(start_request(kTenant, kAlice, kT0 + seconds(30), o));
  EXPECT_EQ(refused.decision.verdict, Send::kSendLimit);
  EXPECT_EQ(refused.decision.retry_after, seconds(570));
}

TEST_P(StartConformance, NoCooldownAfterApprovalButTheWindowStillCounts) {
  const StartOptions o{.cooldown_seconds = 60, .max_sends = 2};
  Verification v1 = started(kTenant, kAlice, kT0, o);
  ASSERT_EQ(check(v1, "123456", kT0 + seconds(1)).verdict, Check::kApproved);

  StartOutcome second = start(start_request(kTenant, kAlice, kT0 + seconds(2), o));
  ASSERT_EQ(second.decision.verdict, Send::kStart);
  EXPECT_FALSE(second.superseded.has_value());  // nothing pending to cancel
  EXPECT_EQ(stored(v1).status, Status::kApproved);
  ASSERT_EQ(check(second.verification, "123456", kT0 + seconds(3)).verdict, Check::kApproved);

  StartOutcome third = start(start_request(kTenant, kAlice, kT0 + seconds(4), o));
  EXPECT_EQ(third.decision.verdict, Send::kSendLimit);
  EXPECT_EQ(third.decision.retry_after, seconds(596));
}

TEST_P(StartConformance, NoCooldownAfterCancel) {
  Verification v1 = started(kTenant, kAlice, kT0);
  ASSERT_EQ(cancel(kTenant, v1.id, kT0 + seconds(1)), Transit::kDone);
  StartOutcome second = start(start_request(kTenant, kAlice, kT0 + seconds(2)));
  EXPECT_EQ(second.decision.verdict, Send::kStart);
  EXPECT_FALSE(second.superseded.has_value());
  // It is the 2nd send in the window: the doubled cooldown.
  EXPECT_EQ(second.verification.resend_at, kT0 + seconds(2 + 60));
}

TEST_P(StartConformance, NoCooldownAfterExpiry) {
  const StartOptions o{.ttl_seconds = 20, .cooldown_seconds = 60};
  Verification v1 = started(kTenant, kAlice, kT0, o);
  StartOutcome held = start(start_request(kTenant, kAlice, kT0 + seconds(19), o));
  EXPECT_EQ(held.decision.verdict, Send::kCooldown);
  StartOutcome second = start(start_request(kTenant, kAlice, kT0 + seconds(20), o));
  ASSERT_EQ(second.decision.verdict, Send::kStart);
  // Left as it was: it reads as expired, not canceled.
  EXPECT_FALSE(second.superseded.has_value());
  EXPECT_EQ(stored(v1).status, Status::kPending);
  EXPECT_EQ(stored(v1).effective_status(kT0 + seconds(20)), Status::kExpired);
}

TEST_P(StartConformance, NoCooldownAfterLock) {
  const StartOptions o{.max_attempts = 1, .cooldown_seconds = 60};
  Verification v1 = started(kTenant, kAlice, kT0, o);
  ASSERT_EQ(check(v1, "000000", kT0 + seconds(1)).verdict, Check::kLocked);
  EXPECT_EQ(start(start_request(kTenant, kAlice, kT0 + seconds(2), o)).decision.verdict,
            Send::kStart);
}

TEST_P(StartConformance, RefusedSendsChangeNothing) {
  Verification v1 = started(kTenant, kAlice, kT0);
  const Verification before = stored(v1);
  for (int s : {5, 10, 20, 29}) {
    EXPECT_EQ(start(start_request(kTenant, kAlice, kT0 + seconds(s))).decision.verdict,
              Send::kCooldown);
  }
  expect_same(stored(v1), before);
  EXPECT_EQ(depth(), 1u);
  EXPECT_EQ(take(kT0 + seconds(29)).size(), 1u);

  // The refusals did not count as sends: this is the 2nd, not the 6th (which would be
  // refused by the window).
  Verification v2 = started(kTenant, kAlice, kT0 + seconds(30));
  EXPECT_EQ(v2.resend_at, kT0 + seconds(30 + 60));
}

TEST_P(StartConformance, SendsRefusedByTheWindowDoNotCount) {
  const StartOptions o{.cooldown_seconds = 0, .max_sends = 2, .window_seconds = 600};
  started(kTenant, kAlice, kT0, o);
  started(kTenant, kAlice, kT0 + seconds(100), o);
  EXPECT_EQ(start(start_request(kTenant, kAlice, kT0 + seconds(200), o)).decision.verdict,
            Send::kSendLimit);
  EXPECT_EQ(start(start_request(kTenant, kAlice, kT0 + seconds(300), o)).decision.verdict,
            Send::kSendLimit);
  started(kTenant, kAlice, kT0 + seconds(601), o);
  StartOutcome refused = start(start_request(kTenant, kAlice, kT0 + seconds(602), o));
  EXPECT_EQ(refused.decision.verdict, Send::kSendLimit);
  EXPECT_EQ(refused.decision.retry_after, seconds(98));  // the send at t0+100 leaves at t0+700
}

TEST_P(StartConformance, ZeroSendLimitMeansNoWindowLimit) {
  const StartOptions o{.cooldown_seconds = 0, .max_sends = 0};
  for (int i = 0; i < 8; ++i) started(kTenant, kAlice, kT0 + seconds(i), o);
}

TEST_P(StartConformance, SupersedeCancelsThePreviousCodeAndItsDelivery) {
  Verification v1 = started(kTenant, kAlice, kT0, {.code = "111111"});
  StartOutcome second =
      start(start_request(kTenant, kAlice, kT0 + seconds(30), {.code = "222222"}));
  ASSERT_EQ(second.decision.verdict, Send::kStart);
  ASSERT_EQ(second.superseded, v1.id);
  const Verification& v2 = second.verification;

  EXPECT_EQ(stored(v1).status, Status::kCanceled);
  EXPECT_EQ(check(v1, "111111", kT0 + seconds(31)).verdict, Check::kNotFound);
  EXPECT_EQ(check(v2, "111111", kT0 + seconds(32)).verdict, Check::kInvalid);
  EXPECT_EQ(check(v2, "222222", kT0 + seconds(33)).verdict, Check::kApproved);

  EXPECT_EQ(depth(), 1u);
  auto jobs = take(kT0 + seconds(34));
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, v2.id);
}

TEST_P(StartConformance, StartsInTheSameMillisecondSupersedeInOrder) {
  const StartOptions o{.cooldown_seconds = 0};
  Verification v1 = started(kTenant, kAlice, kT0, o);
  StartOutcome second = start(start_request(kTenant, kAlice, kT0, o));
  ASSERT_EQ(second.decision.verdict, Send::kStart);
  EXPECT_EQ(second.superseded, v1.id);
  auto latest = newest_of(kTenant, {kAlice}, kT0);
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->id, second.verification.id);
}

TEST_P(StartConformance, RecipientWindowsArePerTenant) {
  const StartOptions o{.max_sends = 1};
  Verification mine = started(kTenant, kAlice, kT0, o);
  StartOutcome theirs = start(start_request(kOtherTenant, kAlice, kT0 + seconds(1), o));
  ASSERT_EQ(theirs.decision.verdict, Send::kStart);
  EXPECT_FALSE(theirs.superseded.has_value());
  EXPECT_EQ(theirs.verification.resend_at, kT0 + seconds(1 + 30));  // its first send
  EXPECT_EQ(stored(mine).status, Status::kPending);

  auto latest = newest_of(kOtherTenant, {kAlice}, kT0 + seconds(2));
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->id, theirs.verification.id);
  latest = newest_of(kTenant, {kAlice}, kT0 + seconds(2));
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->id, mine.id);
}

// ---- the history under every secret --------------------------------------------------

// A code stored under the recipient's hash under secret A holds back a send under secret
// B, once the history names both: a rotation resets no cooldown.
TEST_P(StartConformance, TheCooldownSpansTheRecipientsHashes) {
  started(kTenant, kUnderA, kT0);
  StartOutcome refused =
      start(start_request(kTenant, kUnderB, kT0 + seconds(10), {.older_hashes = {kUnderA}}));
  EXPECT_EQ(refused.decision.verdict, Send::kCooldown);
  EXPECT_EQ(refused.decision.retry_after, seconds(20));
  // Without the older hash in the history, B's history is empty and nothing holds it back.
  EXPECT_EQ(start(start_request(kTenant, kUnderB, kT0 + seconds(10))).decision.verdict,
            Send::kStart);
}

TEST_P(StartConformance, TheWindowSumsAcrossTheRecipientsHashes) {
  const StartOptions under_a{.cooldown_seconds = 30, .max_sends = 3};
  const StartOptions under_b{.cooldown_seconds = 30, .max_sends = 3, .older_hashes = {kUnderA}};
  started(kTenant, kUnderA, kT0, under_a);
  Verification second = started(kTenant, kUnderA, kT0 + seconds(30), under_a);
  ASSERT_EQ(second.resend_at, kT0 + seconds(30 + 60));
  // The third send, under B: doubled again, as the two under A count in its window.
  Verification third = started(kTenant, kUnderB, kT0 + seconds(90), under_b);
  EXPECT_EQ(third.resend_at, kT0 + seconds(90 + 120));
  EXPECT_EQ(third.recipient, kUnderB);

  // The window (3) is full, counting both hashes; the oldest (under A, at t0) frees a slot.
  StartOutcome refused = start(start_request(kTenant, kUnderB, kT0 + seconds(210), under_b));
  EXPECT_EQ(refused.decision.verdict, Send::kSendLimit);
  EXPECT_EQ(refused.decision.retry_after, seconds(390));
  // A history the other way round (A current, B older) sees the same sends.
  refused =
      start(start_request(kTenant, kUnderA, kT0 + seconds(210),
                          {.cooldown_seconds = 30, .max_sends = 3, .older_hashes = {kUnderB}}));
  EXPECT_EQ(refused.decision.verdict, Send::kSendLimit);
  EXPECT_EQ(refused.decision.retry_after, seconds(390));
}

TEST_P(StartConformance, ASendUnderANewSecretSupersedesThePendingCodeUnderTheOld) {
  Verification old = started(kTenant, kUnderA, kT0, {.code = "111111"});
  StartOutcome fresh = start(start_request(kTenant, kUnderB, kT0 + seconds(30),
                                           {.code = "222222", .older_hashes = {kUnderA}}));
  ASSERT_EQ(fresh.decision.verdict, Send::kStart);
  EXPECT_EQ(fresh.superseded, old.id);
  // Stored under the hash it names, the current secret's.
  EXPECT_EQ(stored(fresh.verification).recipient, kUnderB);

  EXPECT_EQ(stored(old).status, Status::kCanceled);
  EXPECT_EQ(check(old, "111111", kT0 + seconds(31)).verdict, Check::kNotFound);
  core::CheckDecision by_old_code =
      check(check_by_recipient(kTenant, {kUnderB, kUnderA}, "111111", kT0 + seconds(32)));
  EXPECT_EQ(by_old_code.verdict, Check::kInvalid);
  EXPECT_EQ(after_of(by_old_code).id, fresh.verification.id);
  // Its delivery job went with it: only the new code is delivered.
  auto jobs = take(kT0 + seconds(33));
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, fresh.verification.id);
  EXPECT_EQ(check(fresh.verification, "222222", kT0 + seconds(34)).verdict, Check::kApproved);
}

// ---- the failure budget holds back sends ---------------------------------------------

// A recipient whose failure budget is spent gets no new code: it could not be checked.
TEST_P(StartConformance, ASpentFailureBudgetRefusesASendUntilTheOldestFailureIsAnHourOld) {
  const StartOptions o{.ttl_seconds = 7200, .max_attempts = 2, .failures_per_hour = 2};
  Verification v = started(kTenant, kAlice, kT0, o);
  ASSERT_EQ(check(v, "000000", kT0).verdict, Check::kInvalid);
  ASSERT_EQ(check(v, "000001", kT0 + seconds(10)).verdict, Check::kLocked);  // no cooldown now

  StartOutcome refused = start(start_request(kTenant, kAlice, kT0 + seconds(1200), o));
  EXPECT_EQ(refused.decision.verdict, Send::kTooManyFailures);
  EXPECT_EQ(refused.decision.retry_after, seconds(2400));
  refused = start(start_request(kTenant, kAlice, kT0 + hours(1) - milliseconds(1), o));
  EXPECT_EQ(refused.decision.verdict, Send::kTooManyFailures);
  EXPECT_EQ(refused.decision.retry_after, seconds(1));
  EXPECT_EQ(depth(), 1u);  // nothing queued for the refused sends

  // The failure at t0 leaves the hour (now - 1 h, now] exactly at t0 + 1 h.
  EXPECT_EQ(start(start_request(kTenant, kAlice, kT0 + hours(1), o)).decision.verdict,
            Send::kStart);
  // Another recipient's budget is its own.
  EXPECT_EQ(start(start_request(kTenant, kBob, kT0 + seconds(20), o)).decision.verdict,
            Send::kStart);
}

TEST_P(StartConformance, TheFailureBudgetOfASendSumsAcrossTheRecipientsHashes) {
  const StartOptions o{.ttl_seconds = 7200, .max_attempts = 1};
  Verification under_a = started(kTenant, kUnderA, kT0, o);
  ASSERT_EQ(check(under_a, "000000", kT0 + seconds(1)).verdict, Check::kLocked);
  Verification under_b = started(kTenant, kUnderB, kT0 + seconds(2), o);
  ASSERT_EQ(check(under_b, "000000", kT0 + seconds(3)).verdict, Check::kLocked);

  const StartOptions budget{.failures_per_hour = 2, .older_hashes = {kUnderA}};
  StartOutcome refused = start(start_request(kTenant, kUnderB, kT0 + seconds(4), budget));
  EXPECT_EQ(refused.decision.verdict, Send::kTooManyFailures);
  EXPECT_EQ(refused.decision.retry_after, seconds(3597));  // the failure at t0+1 s
  // Each hash alone holds one failure: a budget of 2 is not spent by either.
  EXPECT_EQ(start(start_request(kTenant, kUnderB, kT0 + seconds(4), {.failures_per_hour = 2}))
                .decision.verdict,
            Send::kStart);
}

TEST_P(StartConformance, TheFailureBudgetIsCheckedAfterTheWindowAndRefusesWithoutCounting) {
  const StartOptions o{.max_attempts = 1, .max_sends = 2, .failures_per_hour = 1};
  Verification v = started(kTenant, kAlice, kT0, o);
  ASSERT_EQ(check(v, "000000", kT0 + seconds(1)).verdict, Check::kLocked);
  EXPECT_EQ(start(start_request(kTenant, kAlice, kT0 + seconds(2), o)).decision.verdict,
            Send::kTooManyFailures);
  EXPECT_EQ(start(start_request(kTenant, kAlice, kT0 + seconds(3), o)).decision.verdict,
            Send::kTooManyFailures);
  // The refusals were not sends: with the budget off this is the 2nd in the window (60 s
  // cooldown), and only a 3rd is refused by the window, before the budget is looked at.
  const StartOptions off{.max_attempts = 1, .max_sends = 2};
  Verification second = started(kTenant, kAlice, kT0 + seconds(4), off);
  EXPECT_EQ(second.resend_at, kT0 + seconds(4 + 60));
  ASSERT_EQ(check(second, "000000", kT0 + seconds(5)).verdict, Check::kLocked);
  EXPECT_EQ(start(start_request(kTenant, kAlice, kT0 + seconds(6), o)).decision.verdict,
            Send::kSendLimit);
}

}  // namespace
}  // namespace otpd::store::testing
