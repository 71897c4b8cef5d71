// The Store contract (store.hpp, PRODUCT.md §2-§4) as backend-neutral tests.
#include "store_conformance.hpp"

#include <algorithm>
#include <atomic>
#include <latch>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace otpd::store::testing {
namespace {

using core::DeliveryStatus;
using core::Millis;
using core::RecipientHash;
using core::Seconds;
using core::Status;
using core::TenantId;
using core::TimePoint;
using core::Verification;
using core::VerificationId;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using Check = CheckOutcome::Kind;
using Start = StartOutcome::Kind;
using Reservation = IdempotencyReservation::Kind;

const TimePoint kT0 = core::from_unix_ms(1'900'000'000'000);  // 2030-03-17
const TenantId kTenant("acme");
const TenantId kOtherTenant("globex");
const RecipientHash kAlice("a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1");
const RecipientHash kBob("b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0");

VerificationId new_id() {
  static std::atomic<int> next{0};
  return VerificationId("vrf_" + std::to_string(++next) + "_9f2c4e");
}

}  // namespace

std::string hash_of(const std::string& code) { return "hmac:" + code; }

StartRequest start_request(const TenantId& tenant, const RecipientHash& recipient, TimePoint now,
                           const StartOptions& o) {
  StartRequest r;
  Verification& v = r.verification;
  v.tenant = tenant;
  v.id = new_id();
  v.recipient = recipient;
  v.masked_to = "a***@example.com";
  v.channel = o.channel;
  v.alphabet = core::Alphabet::kDigits;
  v.code_length = static_cast<int>(o.code.size());
  v.code_hash = hash_of(o.code);
  v.max_attempts = o.max_attempts;
  v.created_at = now;
  v.expires_at = now + seconds(o.ttl_seconds);
  v.resend_at = now;  // the store decides
  v.delete_after = v.expires_at + seconds(o.retention_seconds);
  v.locale = "de";
  v.metadata_json = R"({"order":"42"})";
  r.resend_cooldown_seconds = o.cooldown_seconds;
  r.max_sends_per_window = o.max_sends;
  r.send_window_seconds = o.window_seconds;
  r.sealed_delivery = std::string("sealed\0payload:", 15) + v.id.str();
  return r;
}

CheckRequest check_request(const Verification& v, const std::string& code, TimePoint now,
                           int failure_budget) {
  CheckRequest r;
  r.tenant = v.tenant;
  r.id = v.id;
  r.candidate_hashes = {hash_of(code)};
  r.now = now;
  r.failures_per_recipient_per_hour = failure_budget;
  return r;
}

void StoreConformance::SetUp() {
  backend_ = GetParam().make();
  if (!backend_) GTEST_SKIP() << GetParam().name << " is not available here";
  store_ = backend_->open();
  ASSERT_NE(store_, nullptr);
}

void StoreConformance::TearDown() {
  store_.reset();
  backend_.reset();
}

void StoreConformance::reopen() {
  store_.reset();
  store_ = backend_->open();
  ASSERT_NE(store_, nullptr);
}

StartOutcome StoreConformance::start(const StartRequest& request) {
  return store_->start(request).value();
}

Verification StoreConformance::started(const StartRequest& request) {
  StartOutcome out = start(request);
  EXPECT_EQ(out.kind, Start::kStarted);
  return out.verification;
}

Verification StoreConformance::started(const TenantId& tenant, const RecipientHash& recipient,
                                       TimePoint now, const StartOptions& options) {
  return started(start_request(tenant, recipient, now, options));
}

CheckOutcome StoreConformance::check(const Verification& v, const std::string& code, TimePoint now,
                                     int failure_budget) {
  return store_->check(check_request(v, code, now, failure_budget)).value();
}

std::optional<Verification> StoreConformance::get(const Verification& v) {
  return store_->get(v.tenant, v.id).value();
}

Verification StoreConformance::stored(const Verification& v) {
  auto found = get(v);
  if (!found) throw std::runtime_error("verification " + v.id.str() + " not found");
  return *found;
}

std::vector<DeliveryJob> StoreConformance::take(TimePoint now, std::size_t max) {
  return store_->take_due_deliveries(now, max, now + seconds(30)).value();
}

std::size_t StoreConformance::depth() { return store_->delivery_queue_depth().value(); }

namespace {

void expect_same(const Verification& a, const Verification& b) {
  EXPECT_EQ(a.tenant, b.tenant);
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.recipient, b.recipient);
  EXPECT_EQ(a.masked_to, b.masked_to);
  EXPECT_EQ(a.channel, b.channel);
  EXPECT_EQ(a.alphabet, b.alphabet);
  EXPECT_EQ(a.code_length, b.code_length);
  EXPECT_EQ(a.code_hash, b.code_hash);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.attempts, b.attempts);
  EXPECT_EQ(a.max_attempts, b.max_attempts);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.expires_at, b.expires_at);
  EXPECT_EQ(a.resend_at, b.resend_at);
  EXPECT_EQ(a.approved_at, b.approved_at);
  EXPECT_EQ(a.delete_after, b.delete_after);
  EXPECT_EQ(a.delivery, b.delivery);
  EXPECT_EQ(a.locale, b.locale);
  EXPECT_EQ(a.metadata_json, b.metadata_json);
}

// Runs fn(i) on n threads released together, so the calls really overlap.
template <typename Fn>
void race(int n, Fn fn) {
  std::latch go(n);
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      go.arrive_and_wait();
      fn(i);
    });
  }
  for (auto& t : threads) t.join();
}

// Midnight UTC after kT0, so a whole number of every window used below (a day, an hour, a
// minute): offsets from it say where in its window a send falls.
const TimePoint kMidnight = core::from_unix_ms((1'900'000'000'000 / 86'400'000 + 1) * 86'400'000);

RecipientHash nth_recipient(int i) {
  return RecipientHash("c" + std::to_string(i) + std::string(60, 'c'));
}

StartRequest counted_start(const RecipientHash& recipient, TimePoint now,
                           std::vector<SendCounter> counters, const StartOptions& options = {}) {
  StartRequest r = start_request(kTenant, recipient, now, options);
  r.counters = std::move(counters);
  return r;
}

TokenOutcome take_from(Store& store, const std::string& key, double rate, double burst,
                       TimePoint now) {
  return store.take_token(TokenRequest{key, rate, burst, now}).value();
}

}  // namespace

// ---- start: storing, cooldown, window, supersede -------------------------------------

TEST_P(StoreConformance, StartStoresTheVerificationAndQueuesItsDelivery) {
  StartRequest request = start_request(kTenant, kAlice, kT0);
  StartOutcome out = start(request);
  ASSERT_EQ(out.kind, Start::kStarted);
  EXPECT_FALSE(out.superseded.has_value());

  Verification expected = request.verification;
  expected.resend_at = kT0 + seconds(30);
  expected.delivery = DeliveryStatus::kQueued;
  expect_same(out.verification, expected);
  expect_same(stored(expected), expected);
  EXPECT_EQ(depth(), 1u);
}

TEST_P(StoreConformance, FieldsRoundTripIncludingEmptyMetadata) {
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

TEST_P(StoreConformance, CooldownRefusesANewSendWithRetryAfter) {
  Verification first = started(kTenant, kAlice, kT0);

  StartOutcome early = start(start_request(kTenant, kAlice, kT0 + seconds(10)));
  EXPECT_EQ(early.kind, Start::kCooldown);
  EXPECT_EQ(early.retry_after, seconds(20));

  // Rounded up, and never 0.
  StartOutcome late = start(start_request(kTenant, kAlice, kT0 + milliseconds(29'500)));
  EXPECT_EQ(late.kind, Start::kCooldown);
  EXPECT_EQ(late.retry_after, seconds(1));
  late = start(start_request(kTenant, kAlice, kT0 + milliseconds(29'999)));
  EXPECT_EQ(late.kind, Start::kCooldown);
  EXPECT_EQ(late.retry_after, seconds(1));

  StartOutcome after = start(start_request(kTenant, kAlice, kT0 + seconds(30)));
  EXPECT_EQ(after.kind, Start::kStarted);
  EXPECT_EQ(after.superseded, first.id);
}

TEST_P(StoreConformance, CooldownDoublesWithEachSendInTheWindow) {
  Verification v1 = started(kTenant, kAlice, kT0);
  EXPECT_EQ(v1.resend_at, kT0 + seconds(30));
  Verification v2 = started(kTenant, kAlice, kT0 + seconds(30));
  EXPECT_EQ(v2.resend_at, kT0 + seconds(30 + 60));

  StartOutcome held = start(start_request(kTenant, kAlice, kT0 + seconds(89)));
  EXPECT_EQ(held.kind, Start::kCooldown);
  EXPECT_EQ(held.retry_after, seconds(1));

  Verification v3 = started(kTenant, kAlice, kT0 + seconds(90));
  EXPECT_EQ(v3.resend_at, kT0 + seconds(90 + 120));
  Verification v4 = started(kTenant, kAlice, kT0 + seconds(210));
  EXPECT_EQ(v4.resend_at, kT0 + seconds(210 + 240));
}

TEST_P(StoreConformance, CooldownIsCappedAtTheWindow) {
  const StartOptions o{.cooldown_seconds = 30, .max_sends = 10, .window_seconds = 100};
  Verification v1 = started(kTenant, kAlice, kT0, o);
  EXPECT_EQ(v1.resend_at - v1.created_at, seconds(30));
  Verification v2 = started(kTenant, kAlice, v1.resend_at, o);
  EXPECT_EQ(v2.resend_at - v2.created_at, seconds(60));
  Verification v3 = started(kTenant, kAlice, v2.resend_at, o);
  EXPECT_EQ(v3.resend_at - v3.created_at, seconds(100));
}

TEST_P(StoreConformance, CooldownRestartsWhenOldSendsLeaveTheWindow) {
  const StartOptions o{.cooldown_seconds = 30, .max_sends = 5, .window_seconds = 100};
  Verification v1 = started(kTenant, kAlice, kT0, o);
  Verification v2 = started(kTenant, kAlice, v1.resend_at, o);  // 2nd in window: 60 s
  ASSERT_EQ(v2.resend_at, kT0 + seconds(90));
  // At t0+200 both earlier sends are older than the window: back to the base cooldown.
  Verification v3 = started(kTenant, kAlice, kT0 + seconds(200), o);
  EXPECT_EQ(v3.resend_at - v3.created_at, seconds(30));
}

TEST_P(StoreConformance, SendLimitCountsTheWindowAndSaysWhenASlotFrees) {
  const StartOptions o{.cooldown_seconds = 0, .max_sends = 3, .window_seconds = 600};
  started(kTenant, kAlice, kT0, o);
  started(kTenant, kAlice, kT0 + seconds(1), o);
  started(kTenant, kAlice, kT0 + seconds(2), o);

  StartOutcome refused = start(start_request(kTenant, kAlice, kT0 + seconds(3), o));
  EXPECT_EQ(refused.kind, Start::kSendLimit);
  EXPECT_EQ(refused.retry_after, seconds(597));

  refused = start(start_request(kTenant, kAlice, kT0 + milliseconds(599'999), o));
  EXPECT_EQ(refused.kind, Start::kSendLimit);
  EXPECT_EQ(refused.retry_after, seconds(1));

  // The send at t0 leaves the window (now - window, now] exactly at t0 + 600 s.
  started(kTenant, kAlice, kT0 + seconds(600), o);
  refused = start(start_request(kTenant, kAlice, kT0 + seconds(600), o));
  EXPECT_EQ(refused.kind, Start::kSendLimit);
  EXPECT_EQ(refused.retry_after, seconds(1));
}

TEST_P(StoreConformance, CooldownIsCheckedBeforeTheSendLimit) {
  const StartOptions o{.cooldown_seconds = 30, .max_sends = 1, .window_seconds = 600};
  started(kTenant, kAlice, kT0, o);
  StartOutcome refused = start(start_request(kTenant, kAlice, kT0 + seconds(5), o));
  EXPECT_EQ(refused.kind, Start::kCooldown);
  EXPECT_EQ(refused.retry_after, seconds(25));
  refused = start(start_request(kTenant, kAlice, kT0 + seconds(30), o));
  EXPECT_EQ(refused.kind, Start::kSendLimit);
  EXPECT_EQ(refused.retry_after, seconds(570));
}

TEST_P(StoreConformance, NoCooldownAfterApprovalButTheWindowStillCounts) {
  const StartOptions o{.cooldown_seconds = 60, .max_sends = 2};
  Verification v1 = started(kTenant, kAlice, kT0, o);
  ASSERT_EQ(check(v1, "123456", kT0 + seconds(1)).kind, Check::kApproved);

  StartOutcome second = start(start_request(kTenant, kAlice, kT0 + seconds(2), o));
  ASSERT_EQ(second.kind, Start::kStarted);
  EXPECT_FALSE(second.superseded.has_value());  // nothing pending to cancel
  EXPECT_EQ(stored(v1).status, Status::kApproved);
  ASSERT_EQ(check(second.verification, "123456", kT0 + seconds(3)).kind, Check::kApproved);

  StartOutcome third = start(start_request(kTenant, kAlice, kT0 + seconds(4), o));
  EXPECT_EQ(third.kind, Start::kSendLimit);
  EXPECT_EQ(third.retry_after, seconds(596));
}

TEST_P(StoreConformance, NoCooldownAfterCancel) {
  Verification v1 = started(kTenant, kAlice, kT0);
  ASSERT_EQ(store_->cancel(kTenant, v1.id, kT0 + seconds(1)).value(), CancelOutcome::kCanceled);
  StartOutcome second = start(start_request(kTenant, kAlice, kT0 + seconds(2)));
  EXPECT_EQ(second.kind, Start::kStarted);
  EXPECT_FALSE(second.superseded.has_value());
  // It is the 2nd send in the window: the doubled cooldown.
  EXPECT_EQ(second.verification.resend_at, kT0 + seconds(2 + 60));
}

TEST_P(StoreConformance, NoCooldownAfterExpiry) {
  const StartOptions o{.ttl_seconds = 20, .cooldown_seconds = 60};
  Verification v1 = started(kTenant, kAlice, kT0, o);
  StartOutcome held = start(start_request(kTenant, kAlice, kT0 + seconds(19), o));
  EXPECT_EQ(held.kind, Start::kCooldown);
  StartOutcome second = start(start_request(kTenant, kAlice, kT0 + seconds(20), o));
  ASSERT_EQ(second.kind, Start::kStarted);
  // Left as it was: it reads as expired, not canceled.
  EXPECT_FALSE(second.superseded.has_value());
  EXPECT_EQ(stored(v1).status, Status::kPending);
  EXPECT_EQ(stored(v1).effective_status(kT0 + seconds(20)), Status::kExpired);
}

TEST_P(StoreConformance, NoCooldownAfterLock) {
  const StartOptions o{.max_attempts = 1, .cooldown_seconds = 60};
  Verification v1 = started(kTenant, kAlice, kT0, o);
  ASSERT_EQ(check(v1, "000000", kT0 + seconds(1)).kind, Check::kLocked);
  EXPECT_EQ(start(start_request(kTenant, kAlice, kT0 + seconds(2), o)).kind, Start::kStarted);
}

TEST_P(StoreConformance, RefusedSendsChangeNothing) {
  Verification v1 = started(kTenant, kAlice, kT0);
  const Verification before = stored(v1);
  for (int s : {5, 10, 20, 29}) {
    EXPECT_EQ(start(start_request(kTenant, kAlice, kT0 + seconds(s))).kind, Start::kCooldown);
  }
  expect_same(stored(v1), before);
  EXPECT_EQ(depth(), 1u);
  EXPECT_EQ(take(kT0 + seconds(29)).size(), 1u);

  // The refusals did not count as sends: this is the 2nd, not the 6th (which would be
  // refused by the window).
  Verification v2 = started(kTenant, kAlice, kT0 + seconds(30));
  EXPECT_EQ(v2.resend_at, kT0 + seconds(30 + 60));
}

TEST_P(StoreConformance, SendsRefusedByTheWindowDoNotCount) {
  const StartOptions o{.cooldown_seconds = 0, .max_sends = 2, .window_seconds = 600};
  started(kTenant, kAlice, kT0, o);
  started(kTenant, kAlice, kT0 + seconds(100), o);
  EXPECT_EQ(start(start_request(kTenant, kAlice, kT0 + seconds(200), o)).kind, Start::kSendLimit);
  EXPECT_EQ(start(start_request(kTenant, kAlice, kT0 + seconds(300), o)).kind, Start::kSendLimit);
  started(kTenant, kAlice, kT0 + seconds(601), o);
  StartOutcome refused = start(start_request(kTenant, kAlice, kT0 + seconds(602), o));
  EXPECT_EQ(refused.kind, Start::kSendLimit);
  EXPECT_EQ(refused.retry_after, seconds(98));  // the send at t0+100 leaves at t0+700
}

TEST_P(StoreConformance, ZeroSendLimitMeansNoWindowLimit) {
  const StartOptions o{.cooldown_seconds = 0, .max_sends = 0};
  for (int i = 0; i < 8; ++i) started(kTenant, kAlice, kT0 + seconds(i), o);
}

TEST_P(StoreConformance, SupersedeCancelsThePreviousCodeAndItsDelivery) {
  Verification v1 = started(kTenant, kAlice, kT0, {.code = "111111"});
  StartOutcome second =
      start(start_request(kTenant, kAlice, kT0 + seconds(30), {.code = "222222"}));
  ASSERT_EQ(second.kind, Start::kStarted);
  ASSERT_EQ(second.superseded, v1.id);
  const Verification& v2 = second.verification;

  EXPECT_EQ(stored(v1).status, Status::kCanceled);
  EXPECT_EQ(check(v1, "111111", kT0 + seconds(31)).kind, Check::kNotFound);
  EXPECT_EQ(check(v2, "111111", kT0 + seconds(32)).kind, Check::kInvalid);
  EXPECT_EQ(check(v2, "222222", kT0 + seconds(33)).kind, Check::kApproved);

  EXPECT_EQ(depth(), 1u);
  auto jobs = take(kT0 + seconds(34));
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, v2.id);
}

TEST_P(StoreConformance, StartsInTheSameMillisecondSupersedeInOrder) {
  const StartOptions o{.cooldown_seconds = 0};
  Verification v1 = started(kTenant, kAlice, kT0, o);
  StartOutcome second = start(start_request(kTenant, kAlice, kT0, o));
  ASSERT_EQ(second.kind, Start::kStarted);
  EXPECT_EQ(second.superseded, v1.id);
  auto latest = store_->find_latest(kTenant, {kAlice}).value();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->id, second.verification.id);
}

// ---- start: send counters -----------------------------------------------------------

TEST_P(StoreConformance, ACounterRefusesAtItsLimitUntilItsWindowEnds) {
  const std::vector<SendCounter> counters = {{"daily:acme:email", 100, hours(24)},
                                             {"prefix:acme:+44", 2, hours(1)}};
  const TimePoint hour = kMidnight + hours(5);
  started(counted_start(nth_recipient(1), hour + minutes(10), counters));
  started(counted_start(nth_recipient(2), hour + minutes(20), counters));

  StartOutcome refused = start(counted_start(nth_recipient(3), hour + minutes(30), counters));
  EXPECT_EQ(refused.kind, Start::kCounterLimit);
  EXPECT_EQ(refused.counter_index, 1u);
  EXPECT_EQ(refused.retry_after, seconds(1800));
  // Rounded up, and never 0.
  refused = start(counted_start(nth_recipient(3), hour + milliseconds(3'598'999), counters));
  EXPECT_EQ(refused.kind, Start::kCounterLimit);
  EXPECT_EQ(refused.retry_after, seconds(2));
  refused = start(counted_start(nth_recipient(3), hour + milliseconds(3'599'999), counters));
  EXPECT_EQ(refused.kind, Start::kCounterLimit);
  EXPECT_EQ(refused.retry_after, seconds(1));

  // The next hour is a new window.
  started(counted_start(nth_recipient(3), hour + hours(1), counters));
  started(counted_start(nth_recipient(4), hour + hours(1), counters));
  refused = start(counted_start(nth_recipient(5), hour + hours(1), counters));
  EXPECT_EQ(refused.kind, Start::kCounterLimit);
  EXPECT_EQ(refused.retry_after, seconds(3600));
}

TEST_P(StoreConformance, CounterWindowsAreFixedFromTheEpochNotFromTheFirstSend) {
  const std::vector<SendCounter> per_minute = {{"velocity:acme:+1", 1, seconds(60)}};
  const TimePoint minute = kMidnight + minutes(7);
  started(counted_start(nth_recipient(1), minute + seconds(50), per_minute));
  StartOutcome refused = start(counted_start(nth_recipient(2), minute + seconds(55), per_minute));
  EXPECT_EQ(refused.kind, Start::kCounterLimit);
  EXPECT_EQ(refused.counter_index, 0u);
  EXPECT_EQ(refused.retry_after, seconds(5));  // the minute ends, not 60 s after the send
  started(counted_start(nth_recipient(2), minute + seconds(60), per_minute));
  refused = start(counted_start(nth_recipient(3), minute + seconds(61), per_minute));
  EXPECT_EQ(refused.kind, Start::kCounterLimit);
  EXPECT_EQ(refused.retry_after, seconds(59));

  // A day is a UTC day.
  const std::vector<SendCounter> daily = {{"daily:acme:sms", 1, hours(24)}};
  started(counted_start(nth_recipient(4), kMidnight - hours(1), daily));
  refused = start(counted_start(nth_recipient(5), kMidnight - seconds(10), daily));
  EXPECT_EQ(refused.kind, Start::kCounterLimit);
  EXPECT_EQ(refused.retry_after, seconds(10));
  started(counted_start(nth_recipient(5), kMidnight, daily));
}

TEST_P(StoreConformance, TheFirstFullCounterIsTheOneReported) {
  const std::vector<SendCounter> counters = {
      {"open", 10, hours(1)}, {"daily", 1, hours(24)}, {"hourly", 1, hours(1)}};
  const TimePoint at = kMidnight + hours(3);
  started(counted_start(kAlice, at, counters));
  StartOutcome refused = start(counted_start(kBob, at + minutes(15), counters));
  EXPECT_EQ(refused.kind, Start::kCounterLimit);
  EXPECT_EQ(refused.counter_index, 1u);
  EXPECT_EQ(refused.retry_after, seconds(21 * 3600 - 15 * 60));  // until midnight UTC
}

TEST_P(StoreConformance, ARefusalByACounterChangesNothing) {
  const StartOptions o{.cooldown_seconds = 30, .max_sends = 5};
  Verification v1 = started(counted_start(kAlice, kT0, {{"shared", 2, hours(24)}}, o));
  started(counted_start(kBob, kT0, {{"shared", 2, hours(24)}}, o));  // "shared" is full
  const Verification before = stored(v1);

  // Past Alice's cooldown and inside her window: only the counter stands in the way.
  StartRequest request = counted_start(kAlice, kT0 + seconds(30),
                                       {{"own", 5, hours(24)}, {"shared", 2, hours(24)}}, o);
  StartOutcome refused = start(request);
  ASSERT_EQ(refused.kind, Start::kCounterLimit);
  EXPECT_EQ(refused.counter_index, 1u);

  EXPECT_FALSE(store_->get(kTenant, request.verification.id).value().has_value());
  expect_same(stored(v1), before);  // still pending, not superseded, its cooldown unmoved
  auto latest = store_->find_latest(kTenant, {kAlice}).value();
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
  EXPECT_EQ(
      start(counted_start(nth_recipient(1), kT0 + seconds(32), {{"shared", 3, hours(24)}})).kind,
      Start::kCounterLimit);
  EXPECT_EQ(
      start(counted_start(nth_recipient(1), kT0 + seconds(32), {{"shared", 4, hours(24)}})).kind,
      Start::kStarted);
}

TEST_P(StoreConformance, CountersWithoutALimitAreSkippedAndNotCounted) {
  const StartOptions o{.cooldown_seconds = 0, .max_sends = 0};
  for (int i = 0; i < 5; ++i) {
    started(counted_start(kAlice, kT0 + seconds(i),
                          {{"off", 0, hours(24)}, {"negative", -1, hours(24)}}, o));
  }
  started(counted_start(kAlice, kT0 + seconds(5),
                        {{"off", 1, hours(24)}, {"negative", 1, hours(24)}}, o));
  StartOutcome refused = start(counted_start(kAlice, kT0 + seconds(6), {{"off", 1, hours(24)}}, o));
  EXPECT_EQ(refused.kind, Start::kCounterLimit);
}

TEST_P(StoreConformance, CountersAreIndependentPerKey) {
  const StartOptions o{.cooldown_seconds = 0, .max_sends = 0};
  started(counted_start(kAlice, kT0, {{"daily:acme:sms", 1, hours(24)}}, o));
  EXPECT_EQ(
      start(counted_start(kAlice, kT0 + seconds(1), {{"daily:acme:sms", 1, hours(24)}}, o)).kind,
      Start::kCounterLimit);
  started(counted_start(kAlice, kT0 + seconds(1), {{"daily:acme:email", 1, hours(24)}}, o));
  started(counted_start(kAlice, kT0 + seconds(2), {{"daily:globex:sms", 1, hours(24)}}, o));
  started(counted_start(kAlice, kT0 + seconds(3), {}, o));
}

TEST_P(StoreConformance, CooldownAndSendLimitAreCheckedBeforeCounters) {
  const StartOptions o{.cooldown_seconds = 30, .max_sends = 1};
  const std::vector<SendCounter> cap = {{"daily", 1, hours(24)}};
  started(counted_start(kAlice, kT0, cap, o));  // the counter is now full too
  StartOutcome refused = start(counted_start(kAlice, kT0 + seconds(5), cap, o));
  EXPECT_EQ(refused.kind, Start::kCooldown);
  EXPECT_EQ(refused.retry_after, seconds(25));
  refused = start(counted_start(kAlice, kT0 + seconds(30), cap, o));
  EXPECT_EQ(refused.kind, Start::kSendLimit);
  refused = start(counted_start(kBob, kT0 + seconds(30), cap, o));
  EXPECT_EQ(refused.kind, Start::kCounterLimit);
}

TEST_P(StoreConformance, SendsRefusedByCooldownOrWindowDoNotCount) {
  const StartOptions o{.cooldown_seconds = 30, .max_sends = 1};
  const std::vector<SendCounter> cap = {{"daily", 2, hours(24)}};
  started(counted_start(kAlice, kT0, cap, o));
  EXPECT_EQ(start(counted_start(kAlice, kT0 + seconds(5), cap, o)).kind, Start::kCooldown);
  EXPECT_EQ(start(counted_start(kAlice, kT0 + seconds(30), cap, o)).kind, Start::kSendLimit);
  started(counted_start(kBob, kT0 + seconds(31), cap, o));  // the 2nd, not the 4th
  StartOutcome full = start(counted_start(nth_recipient(1), kT0 + seconds(32), cap, o));
  EXPECT_EQ(full.kind, Start::kCounterLimit);
}

// ---- check ---------------------------------------------------------------------------

TEST_P(StoreConformance, RightCodeIsApprovedOnceThenNotFound) {
  Verification v = started(kTenant, kAlice, kT0);
  CheckOutcome ok = check(v, "123456", kT0 + seconds(5));
  ASSERT_EQ(ok.kind, Check::kApproved);
  EXPECT_EQ(ok.verification.id, v.id);
  EXPECT_EQ(ok.verification.status, Status::kApproved);
  EXPECT_EQ(ok.verification.approved_at, kT0 + seconds(5));
  EXPECT_EQ(ok.verification.attempts, 0);

  Verification s = stored(v);
  EXPECT_EQ(s.status, Status::kApproved);
  EXPECT_EQ(s.approved_at, kT0 + seconds(5));

  EXPECT_EQ(check(v, "123456", kT0 + seconds(6)).kind, Check::kNotFound);
  EXPECT_EQ(check(v, "000000", kT0 + seconds(7)).kind, Check::kNotFound);
  EXPECT_EQ(stored(v).attempts, 0);
}

TEST_P(StoreConformance, AnyCandidateHashMatches) {
  Verification v = started(kTenant, kAlice, kT0);
  CheckRequest r = check_request(v, "123456", kT0 + seconds(1));
  r.candidate_hashes = {hash_of("999999"), hash_of("123456")};
  EXPECT_EQ(store_->check(r).value().kind, Check::kApproved);
}

TEST_P(StoreConformance, NoCandidateIsAWrongCode) {
  Verification v = started(kTenant, kAlice, kT0);
  CheckRequest r = check_request(v, "123456", kT0 + seconds(1));
  r.candidate_hashes.clear();
  EXPECT_EQ(store_->check(r).value().kind, Check::kInvalid);
}

// The hasher sees the verification the store found, so the caller needs no read first.
TEST_P(StoreConformance, TheHasherIsAskedWithTheVerificationFound) {
  Verification v = started(kTenant, kAlice, kT0);
  CheckRequest r = check_request(v, "ignored", kT0 + seconds(1));
  std::vector<std::string> seen;
  r.hash_code = [&](const Verification& found) -> std::optional<std::vector<std::string>> {
    seen.push_back(found.id.str());
    return std::vector<std::string>{hash_of("123456")};
  };
  CheckOutcome c = store_->check(r).value();
  EXPECT_EQ(c.kind, Check::kApproved);
  EXPECT_EQ(seen, std::vector<std::string>{v.id.str()});
  // Approved (and so single use): not found, and the hasher is not asked.
  EXPECT_EQ(store_->check(r).value().kind, Check::kNotFound);
  EXPECT_EQ(seen.size(), 1u);
}

TEST_P(StoreConformance, ACodeTheHasherRefusesIsMalformedAndCountsNothing) {
  Verification v = started(kTenant, kAlice, kT0, {.max_attempts = 2});
  CheckRequest r = check_request(v, "123456", kT0 + seconds(1), 1);
  r.hash_code = [](const Verification&) -> std::optional<std::vector<std::string>> {
    return std::nullopt;
  };
  for (int i = 0; i < 3; ++i) {
    CheckOutcome c = store_->check(r).value();
    EXPECT_EQ(c.kind, Check::kMalformed);
    EXPECT_EQ(c.verification.id, v.id);
  }
  EXPECT_EQ(stored(v).attempts, 0);
  EXPECT_EQ(stored(v).status, Status::kPending);
  // Judged before the expiry, as a malformed code is judged before anything else.
  r.now = kT0 + hours(2);
  EXPECT_EQ(store_->check(r).value().kind, Check::kMalformed);
  // Nor did it spend the recipient's failure budget of 1.
  EXPECT_EQ(check(v, "123456", kT0 + seconds(2), 1).kind, Check::kApproved);
}

TEST_P(StoreConformance, CheckByRecipientChecksTheNewestOfTheFirstThatHasOne) {
  Verification old = started(kTenant, kAlice, kT0);
  StartOutcome newer = start(start_request(kTenant, kAlice, kT0 + seconds(60)));
  ASSERT_EQ(newer.kind, StartOutcome::Kind::kStarted);
  CheckRequest r = check_request(old, "123456", kT0 + seconds(61));
  r.id = core::VerificationId("not-used");
  r.recipients = {RecipientHash(std::string(64, 'e')), kAlice, kBob};
  CheckOutcome c = store_->check(r).value();
  EXPECT_EQ(c.kind, Check::kApproved);
  EXPECT_EQ(c.verification.id, newer.verification.id);
  EXPECT_EQ(stored(old).status, Status::kCanceled);
  // Another tenant's recipient hash finds nothing here.
  r.tenant = kOtherTenant;
  EXPECT_EQ(store_->check(r).value().kind, Check::kNotFound);
  r.tenant = kTenant;
  r.recipients = {kBob};
  EXPECT_EQ(store_->check(r).value().kind, Check::kNotFound);
}

TEST_P(StoreConformance, WrongCodesCountAttemptsThenLock) {
  Verification v = started(kTenant, kAlice, kT0, {.max_attempts = 3});
  CheckOutcome c = check(v, "000000", kT0 + seconds(1));
  EXPECT_EQ(c.kind, Check::kInvalid);
  EXPECT_EQ(c.verification.attempts, 1);
  EXPECT_EQ(c.verification.attempts_remaining(), 2);
  c = check(v, "000001", kT0 + seconds(2));
  EXPECT_EQ(c.kind, Check::kInvalid);
  EXPECT_EQ(c.verification.attempts_remaining(), 1);
  c = check(v, "000002", kT0 + seconds(3));
  EXPECT_EQ(c.kind, Check::kLocked);
  EXPECT_EQ(c.verification.status, Status::kMaxAttemptsReached);
  EXPECT_EQ(c.verification.attempts, 3);

  // Locked answers every later check, the right code included, and counts nothing more.
  c = check(v, "123456", kT0 + seconds(4));
  EXPECT_EQ(c.kind, Check::kLocked);
  EXPECT_EQ(c.verification.attempts, 3);
  EXPECT_EQ(check(v, "000003", kT0 + seconds(5)).kind, Check::kLocked);
  EXPECT_EQ(stored(v).attempts, 3);
  EXPECT_EQ(stored(v).status, Status::kMaxAttemptsReached);
  // Past its expiry a locked code answers expired: PRODUCT.md decides expired before locked.
  EXPECT_EQ(check(v, "123456", kT0 + hours(1)).kind, Check::kExpired);
}

TEST_P(StoreConformance, RightCodeAfterWrongOnesIsApproved) {
  Verification v = started(kTenant, kAlice, kT0, {.max_attempts = 3});
  EXPECT_EQ(check(v, "000000", kT0 + seconds(1)).kind, Check::kInvalid);
  EXPECT_EQ(check(v, "000001", kT0 + seconds(2)).kind, Check::kInvalid);
  CheckOutcome c = check(v, "123456", kT0 + seconds(3));
  EXPECT_EQ(c.kind, Check::kApproved);
  EXPECT_EQ(c.verification.attempts, 2);
}

TEST_P(StoreConformance, ExpiredCountsNoAttempt) {
  Verification v = started(kTenant, kAlice, kT0, {.ttl_seconds = 60});
  CheckOutcome c = check(v, "000000", kT0 + seconds(60));
  EXPECT_EQ(c.kind, Check::kExpired);
  EXPECT_EQ(c.verification.id, v.id);
  EXPECT_EQ(c.verification.attempts, 0);
  EXPECT_EQ(check(v, "123456", kT0 + seconds(61)).kind, Check::kExpired);
  EXPECT_EQ(stored(v).attempts, 0);
  EXPECT_EQ(stored(v).status, Status::kPending);
}

TEST_P(StoreConformance, LastMillisecondBeforeExpiryStillApproves) {
  Verification v = started(kTenant, kAlice, kT0, {.ttl_seconds = 60});
  EXPECT_EQ(check(v, "123456", kT0 + seconds(60) - milliseconds(1)).kind, Check::kApproved);
}

TEST_P(StoreConformance, UnknownAndCanceledAreNotFound) {
  Verification v = started(kTenant, kAlice, kT0);
  Verification unknown = v;
  unknown.id = VerificationId("vrf_does_not_exist");
  CheckOutcome c = check(unknown, "123456", kT0 + seconds(1));
  EXPECT_EQ(c.kind, Check::kNotFound);
  EXPECT_TRUE(c.verification.id.empty());

  ASSERT_EQ(store_->cancel(kTenant, v.id, kT0 + seconds(2)).value(), CancelOutcome::kCanceled);
  EXPECT_EQ(check(v, "123456", kT0 + seconds(3)).kind, Check::kNotFound);
}

TEST_P(StoreConformance, FailureBudgetSpansTheRecipientsCodes) {
  const StartOptions o{.ttl_seconds = 7200, .max_attempts = 3};
  const int budget = 4;
  Verification v1 = started(kTenant, kAlice, kT0, o);
  EXPECT_EQ(check(v1, "000000", kT0, budget).kind, Check::kInvalid);
  EXPECT_EQ(check(v1, "000001", kT0 + seconds(1), budget).kind, Check::kInvalid);
  EXPECT_EQ(check(v1, "000002", kT0 + seconds(2), budget).kind, Check::kLocked);

  // A fresh code buys no fresh guesses beyond the budget.
  Verification v2 = started(kTenant, kAlice, kT0 + seconds(3), o);
  EXPECT_EQ(check(v2, "000003", kT0 + seconds(3), budget).kind, Check::kInvalid);
  CheckOutcome c = check(v2, "123456", kT0 + seconds(10), budget);
  EXPECT_EQ(c.kind, Check::kTooManyFailures);
  EXPECT_EQ(c.retry_after, seconds(3590));  // the failure at t0 leaves the hour at t0+1h
  EXPECT_EQ(c.verification.id, v2.id);
  EXPECT_EQ(stored(v2).attempts, 1);  // no attempt counted
  EXPECT_EQ(stored(v2).status, Status::kPending);

  // Another recipient, and the same one in another tenant, have budgets of their own.
  Verification bob = started(kTenant, kBob, kT0 + seconds(10), o);
  EXPECT_EQ(check(bob, "123456", kT0 + seconds(11), budget).kind, Check::kApproved);
  Verification other = started(kOtherTenant, kAlice, kT0 + seconds(10), o);
  EXPECT_EQ(check(other, "123456", kT0 + seconds(11), budget).kind, Check::kApproved);

  // Budget off: the same history blocks nothing.
  EXPECT_EQ(check(v2, "000004", kT0 + seconds(20), 0).kind, Check::kInvalid);

  // The budget frees up as failures leave the hour; the one at t0+20 s counts too.
  EXPECT_EQ(check(v2, "123456", kT0 + hours(1) - milliseconds(1), budget).kind,
            Check::kTooManyFailures);
  EXPECT_EQ(check(v2, "123456", kT0 + hours(1), budget).kind, Check::kTooManyFailures);
  // Failures at t0, t0+1, t0+2, t0+3, t0+20: three still inside the hour at t0+1h+1s.
  EXPECT_EQ(check(v2, "123456", kT0 + hours(1) + seconds(1), budget).kind, Check::kApproved);
}

TEST_P(StoreConformance, ExpiredAndLockedAreReportedBeforeTheFailureBudget) {
  const StartOptions o{.ttl_seconds = 60, .max_attempts = 2};
  Verification v1 = started(kTenant, kAlice, kT0, o);
  check(v1, "000000", kT0, 0);
  check(v1, "000001", kT0, 0);
  Verification v2 = started(kTenant, kAlice, kT0 + seconds(1), o);
  EXPECT_EQ(check(v1, "123456", kT0 + seconds(2), 1).kind, Check::kLocked);
  EXPECT_EQ(check(v2, "123456", kT0 + seconds(61), 1).kind, Check::kExpired);
  EXPECT_EQ(check(v2, "123456", kT0 + seconds(2), 1).kind, Check::kTooManyFailures);
}

// ---- tenants -------------------------------------------------------------------------

TEST_P(StoreConformance, AnotherTenantCannotSeeOrTouchAVerification) {
  Verification v = started(kTenant, kAlice, kT0);
  EXPECT_FALSE(store_->get(kOtherTenant, v.id).value().has_value());

  Verification foreign = v;
  foreign.tenant = kOtherTenant;
  EXPECT_EQ(check(foreign, "123456", kT0 + seconds(1)).kind, Check::kNotFound);
  EXPECT_EQ(check(foreign, "000000", kT0 + seconds(1)).kind, Check::kNotFound);
  EXPECT_EQ(store_->cancel(kOtherTenant, v.id, kT0 + seconds(1)).value(), CancelOutcome::kNotFound);
  EXPECT_FALSE(store_->find_latest(kOtherTenant, {kAlice}).value().has_value());

  Verification s = stored(v);
  EXPECT_EQ(s.status, Status::kPending);
  EXPECT_EQ(s.attempts, 0);
}

TEST_P(StoreConformance, RecipientWindowsArePerTenant) {
  const StartOptions o{.max_sends = 1};
  Verification mine = started(kTenant, kAlice, kT0, o);
  StartOutcome theirs = start(start_request(kOtherTenant, kAlice, kT0 + seconds(1), o));
  ASSERT_EQ(theirs.kind, Start::kStarted);
  EXPECT_FALSE(theirs.superseded.has_value());
  EXPECT_EQ(theirs.verification.resend_at, kT0 + seconds(1 + 30));  // its first send
  EXPECT_EQ(stored(mine).status, Status::kPending);

  auto latest = store_->find_latest(kOtherTenant, {kAlice}).value();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->id, theirs.verification.id);
  latest = store_->find_latest(kTenant, {kAlice}).value();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->id, mine.id);
}

TEST_P(StoreConformance, TheSameIdInTwoTenantsIsTwoVerifications) {
  StartRequest a = start_request(kTenant, kAlice, kT0, {.code = "111111"});
  StartRequest b = start_request(kOtherTenant, kBob, kT0, {.code = "222222"});
  b.verification.id = a.verification.id;
  Verification va = started(a);
  Verification vb = started(b);
  EXPECT_EQ(check(vb, "111111", kT0 + seconds(1)).kind, Check::kInvalid);
  EXPECT_EQ(check(va, "111111", kT0 + seconds(1)).kind, Check::kApproved);
  EXPECT_EQ(stored(vb).status, Status::kPending);
  EXPECT_EQ(stored(vb).attempts, 1);
}

// ---- find_latest ---------------------------------------------------------------------

TEST_P(StoreConformance, FindLatestTakesTheFirstRecipientThatHasOne) {
  EXPECT_FALSE(store_->find_latest(kTenant, {kAlice, kBob}).value().has_value());
  EXPECT_FALSE(store_->find_latest(kTenant, {}).value().has_value());

  Verification bob = started(kTenant, kBob, kT0);
  auto latest = store_->find_latest(kTenant, {kAlice, kBob}).value();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->id, bob.id);

  Verification alice = started(kTenant, kAlice, kT0 + seconds(1));
  latest = store_->find_latest(kTenant, {kAlice, kBob}).value();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->id, alice.id);
  latest = store_->find_latest(kTenant, {kBob, kAlice}).value();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->id, bob.id);
}

TEST_P(StoreConformance, FindLatestReturnsTheNewestWhateverItsState) {
  Verification v1 = started(kTenant, kAlice, kT0);
  Verification v2 = started(kTenant, kAlice, kT0 + seconds(30));
  ASSERT_EQ(check(v2, "123456", kT0 + seconds(31)).kind, Check::kApproved);
  auto latest = store_->find_latest(kTenant, {kAlice}).value();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->id, v2.id);
  EXPECT_EQ(latest->status, Status::kApproved);
  expect_same(*latest, stored(v2));
  (void)v1;
}

// ---- cancel --------------------------------------------------------------------------

TEST_P(StoreConformance, CancelOutcomes) {
  Verification pending = started(kTenant, kAlice, kT0);
  EXPECT_EQ(store_->cancel(kTenant, pending.id, kT0 + seconds(1)).value(),
            CancelOutcome::kCanceled);
  EXPECT_EQ(stored(pending).status, Status::kCanceled);
  EXPECT_EQ(depth(), 0u);  // its delivery is dropped with it
  EXPECT_EQ(store_->cancel(kTenant, pending.id, kT0 + seconds(2)).value(),
            CancelOutcome::kNotPending);

  Verification approved = started(kTenant, kBob, kT0);
  ASSERT_EQ(check(approved, "123456", kT0 + seconds(1)).kind, Check::kApproved);
  EXPECT_EQ(store_->cancel(kTenant, approved.id, kT0 + seconds(2)).value(),
            CancelOutcome::kAlreadyApproved);

  const RecipientHash carol("c" + std::string(63, '0'));
  Verification locked = started(kTenant, carol, kT0, {.max_attempts = 1});
  ASSERT_EQ(check(locked, "000000", kT0 + seconds(1)).kind, Check::kLocked);
  EXPECT_EQ(store_->cancel(kTenant, locked.id, kT0 + seconds(2)).value(),
            CancelOutcome::kNotPending);

  const RecipientHash dave("d" + std::string(63, '0'));
  Verification expired = started(kTenant, dave, kT0, {.ttl_seconds = 60});
  EXPECT_EQ(store_->cancel(kTenant, expired.id, kT0 + seconds(60)).value(),
            CancelOutcome::kNotPending);
  EXPECT_EQ(stored(expired).status, Status::kPending);  // still reads as expired

  EXPECT_EQ(store_->cancel(kTenant, VerificationId("vrf_nope"), kT0).value(),
            CancelOutcome::kNotFound);
}

// ---- idempotency ---------------------------------------------------------------------

TEST_P(StoreConformance, IdempotencyReserveReplayAndConflict) {
  const std::string key = "key-1";
  auto r = store_->reserve_idempotency(kTenant, key, "body-a", kT0, seconds(30)).value();
  EXPECT_EQ(r.kind, Reservation::kReserved);
  r = store_->reserve_idempotency(kTenant, key, "body-a", kT0 + seconds(1), seconds(30)).value();
  EXPECT_EQ(r.kind, Reservation::kInProgress);
  r = store_->reserve_idempotency(kTenant, key, "body-b", kT0 + seconds(1), seconds(30)).value();
  EXPECT_EQ(r.kind, Reservation::kConflict);

  ASSERT_TRUE(store_->complete_idempotency(kTenant, key, 201, R"({"id":"v1"})", kT0 + hours(24)));
  r = store_->reserve_idempotency(kTenant, key, "body-a", kT0 + seconds(2), seconds(30)).value();
  EXPECT_EQ(r.kind, Reservation::kReplay);
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.response_body, R"({"id":"v1"})");
  // Long after the lease: a completed key replays until keep_until.
  r = store_->reserve_idempotency(kTenant, key, "body-a", kT0 + hours(23), seconds(30)).value();
  EXPECT_EQ(r.kind, Reservation::kReplay);
  r = store_->reserve_idempotency(kTenant, key, "body-b", kT0 + hours(23), seconds(30)).value();
  EXPECT_EQ(r.kind, Reservation::kConflict);

  r = store_->reserve_idempotency(kTenant, key, "body-b", kT0 + hours(24), seconds(30)).value();
  EXPECT_EQ(r.kind, Reservation::kReserved);
}

TEST_P(StoreConformance, IdempotencyReservationLapsesAfterItsLease) {
  const std::string key = "key-crash";
  ASSERT_EQ(store_->reserve_idempotency(kTenant, key, "h1", kT0, seconds(30)).value().kind,
            Reservation::kReserved);
  EXPECT_EQ(store_->reserve_idempotency(kTenant, key, "h1", kT0 + milliseconds(29'999), seconds(30))
                .value()
                .kind,
            Reservation::kInProgress);
  EXPECT_EQ(
      store_->reserve_idempotency(kTenant, key, "h2", kT0 + seconds(30), seconds(30)).value().kind,
      Reservation::kReserved);
  // The new holder is the one in progress now.
  EXPECT_EQ(
      store_->reserve_idempotency(kTenant, key, "h1", kT0 + seconds(31), seconds(30)).value().kind,
      Reservation::kConflict);
}

TEST_P(StoreConformance, IdempotencyReleaseFreesTheKey) {
  const std::string key = "key-error";
  ASSERT_EQ(store_->reserve_idempotency(kTenant, key, "h1", kT0, seconds(30)).value().kind,
            Reservation::kReserved);
  ASSERT_TRUE(store_->release_idempotency(kTenant, key));
  EXPECT_EQ(
      store_->reserve_idempotency(kTenant, key, "h2", kT0 + seconds(1), seconds(30)).value().kind,
      Reservation::kReserved);
  // Releasing an unknown key is harmless.
  EXPECT_TRUE(store_->release_idempotency(kTenant, "never-reserved"));
}

TEST_P(StoreConformance, IdempotencyKeysArePerTenant) {
  const std::string key = "shared-key";
  ASSERT_EQ(store_->reserve_idempotency(kTenant, key, "h1", kT0, seconds(30)).value().kind,
            Reservation::kReserved);
  ASSERT_TRUE(store_->complete_idempotency(kTenant, key, 201, "{}", kT0 + hours(24)));
  EXPECT_EQ(store_->reserve_idempotency(kOtherTenant, key, "h2", kT0, seconds(30)).value().kind,
            Reservation::kReserved);
  ASSERT_TRUE(store_->release_idempotency(kOtherTenant, key));
  EXPECT_EQ(store_->reserve_idempotency(kTenant, key, "h1", kT0, seconds(30)).value().kind,
            Reservation::kReplay);
}

// ---- delivery queue ------------------------------------------------------------------

TEST_P(StoreConformance, DeliveryIsDueAtOnceAndHiddenWhileLeased) {
  StartRequest request = start_request(kTenant, kAlice, kT0, {.channel = core::ChannelKind::kSms});
  Verification v = started(request);

  auto jobs = store_->take_due_deliveries(kT0, 10, kT0 + seconds(30)).value();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].tenant, kTenant);
  EXPECT_EQ(jobs[0].id, v.id);
  EXPECT_EQ(jobs[0].channel, core::ChannelKind::kSms);
  EXPECT_EQ(jobs[0].sealed, request.sealed_delivery);  // binary-safe, embedded NUL included
  EXPECT_EQ(jobs[0].attempts, 0);
  EXPECT_EQ(jobs[0].expires_at, v.expires_at);

  EXPECT_TRUE(
      store_->take_due_deliveries(kT0 + seconds(29), 10, kT0 + seconds(59)).value().empty());
  EXPECT_EQ(depth(), 1u);  // leased, still queued
  jobs = store_->take_due_deliveries(kT0 + seconds(30), 10, kT0 + seconds(60)).value();
  ASSERT_EQ(jobs.size(), 1u);  // the lease lapsed: a crashed worker's job comes back
  EXPECT_EQ(jobs[0].attempts, 0);
}

TEST_P(StoreConformance, DeliveryRetryCountsTheAttemptAndWaits) {
  Verification v = started(kTenant, kAlice, kT0);
  ASSERT_EQ(take(kT0).size(), 1u);
  ASSERT_TRUE(store_->retry_delivery(kTenant, v.id, kT0 + seconds(5)));
  EXPECT_TRUE(take(kT0 + seconds(4)).empty());
  auto jobs = take(kT0 + seconds(5));
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].attempts, 1);
  ASSERT_TRUE(store_->retry_delivery(kTenant, v.id, kT0 + seconds(7)));
  jobs = take(kT0 + seconds(7));
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].attempts, 2);
  EXPECT_EQ(stored(v).delivery, DeliveryStatus::kQueued);
}

TEST_P(StoreConformance, FinishRecordsTheOutcomeAndDropsThePayload) {
  Verification sent = started(kTenant, kAlice, kT0);
  Verification failed = started(kTenant, kBob, kT0);
  ASSERT_EQ(take(kT0).size(), 2u);
  ASSERT_TRUE(store_->finish_delivery(kTenant, sent.id, DeliveryStatus::kSent));
  ASSERT_TRUE(store_->finish_delivery(kTenant, failed.id, DeliveryStatus::kFailed));
  EXPECT_EQ(stored(sent).delivery, DeliveryStatus::kSent);
  EXPECT_EQ(stored(failed).delivery, DeliveryStatus::kFailed);
  EXPECT_EQ(depth(), 0u);
  EXPECT_TRUE(take(kT0 + seconds(120)).empty());
  // The verification itself is untouched.
  EXPECT_EQ(check(sent, "123456", kT0 + seconds(121)).kind, Check::kApproved);
}

// A send whose job goes straight to a worker: queued (durable) but leased from the start.
TEST_P(StoreConformance, AJobHandedOverAtStartIsLeasedUntilItsLeaseEnds) {
  StartRequest request = start_request(kTenant, kAlice, kT0);
  request.delivery_leased_until = kT0 + seconds(20);
  Verification v = started(request);
  EXPECT_EQ(depth(), 1u);
  EXPECT_EQ(stored(v).delivery, DeliveryStatus::kQueued);
  EXPECT_TRUE(take(kT0).empty());
  EXPECT_TRUE(take(kT0 + seconds(19)).empty());
  auto jobs = take(kT0 + seconds(20));  // the worker it went to died
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, v.id);
  EXPECT_EQ(jobs[0].attempts, 0);
  EXPECT_EQ(jobs[0].sealed, request.sealed_delivery);
}

TEST_P(StoreConformance, FinishingSeveralAtOnceRecordsEachOutcome) {
  Verification sent = started(kTenant, kAlice, kT0);
  Verification failed = started(kTenant, kBob, kT0);
  Verification waiting = started(kTenant, RecipientHash(std::string(64, 'c')), kT0);
  ASSERT_EQ(take(kT0).size(), 3u);
  ASSERT_TRUE(store_->finish_deliveries({}));
  ASSERT_TRUE(store_->finish_deliveries(
      {{kTenant, sent.id, DeliveryStatus::kSent}, {kTenant, failed.id, DeliveryStatus::kFailed}}));
  EXPECT_EQ(stored(sent).delivery, DeliveryStatus::kSent);
  EXPECT_EQ(stored(failed).delivery, DeliveryStatus::kFailed);
  EXPECT_EQ(stored(waiting).delivery, DeliveryStatus::kQueued);
  EXPECT_EQ(depth(), 1u);
  // Idempotent: the same outcomes again (a retried batch) change nothing.
  ASSERT_TRUE(store_->finish_deliveries({{kTenant, sent.id, DeliveryStatus::kSent}}));
  EXPECT_EQ(stored(sent).delivery, DeliveryStatus::kSent);
  EXPECT_EQ(depth(), 1u);
}

TEST_P(StoreConformance, ExpiredJobsAreDroppedAsFailed) {
  Verification v = started(kTenant, kAlice, kT0, {.ttl_seconds = 60});
  Verification live = started(kTenant, kBob, kT0 + seconds(30), {.ttl_seconds = 60});
  auto jobs = take(kT0 + seconds(60));
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, live.id);
  EXPECT_EQ(stored(v).delivery, DeliveryStatus::kFailed);
  EXPECT_EQ(stored(live).delivery, DeliveryStatus::kQueued);
  EXPECT_EQ(depth(), 1u);
}

TEST_P(StoreConformance, TakeHandsOutAtMostMaxOldestFirst) {
  std::vector<VerificationId> ids;
  for (int i = 0; i < 5; ++i) {
    const RecipientHash r("r" + std::to_string(i) + std::string(62, '0'));
    ids.push_back(started(kTenant, r, kT0 + seconds(i)).id);
  }
  const TimePoint now = kT0 + seconds(10);
  std::vector<VerificationId> order;
  for (std::size_t expected : {2u, 2u, 1u, 0u}) {
    auto jobs = store_->take_due_deliveries(now, 2, now + seconds(30)).value();
    EXPECT_EQ(jobs.size(), expected);
    for (auto& j : jobs) order.push_back(j.id);
  }
  EXPECT_EQ(order, ids);
  EXPECT_EQ(depth(), 5u);
}

TEST_P(StoreConformance, CancelAndSupersedeDropTheJob) {
  Verification v1 = started(kTenant, kAlice, kT0);
  ASSERT_EQ(store_->cancel(kTenant, v1.id, kT0 + seconds(1)).value(), CancelOutcome::kCanceled);
  EXPECT_EQ(depth(), 0u);
  EXPECT_TRUE(take(kT0 + seconds(1)).empty());

  Verification v2 = started(kTenant, kBob, kT0);
  StartOutcome v3 = start(start_request(kTenant, kBob, kT0 + seconds(30)));
  ASSERT_EQ(v3.superseded, v2.id);
  auto jobs = take(kT0 + seconds(30));
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, v3.verification.id);
}

// ---- token buckets -------------------------------------------------------------------

TEST_P(StoreConformance, ABucketStartsFullAndRefusesWhenEmpty) {
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(take_from(*store_, "send:acme", 1, 3, kT0).allowed) << i;
  TokenOutcome refused = take_from(*store_, "send:acme", 1, 3, kT0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, seconds(1));

  // 0.2 token/s: one token every 5 s.
  for (int i = 0; i < 2; ++i) EXPECT_TRUE(take_from(*store_, "slow", 0.2, 2, kT0).allowed) << i;
  refused = take_from(*store_, "slow", 0.2, 2, kT0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, seconds(5));
}

TEST_P(StoreConformance, ABucketRefillsAtItsRateUpToItsBurst) {
  const std::string key = "key:abc";
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(take_from(*store_, key, 2, 3, kT0).allowed);
  // 2 tokens/s: half a token after 250 ms, a whole one after 500 ms.
  TokenOutcome refused = take_from(*store_, key, 2, 3, kT0 + milliseconds(250));
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, seconds(1));  // 250 ms, rounded up
  EXPECT_TRUE(take_from(*store_, key, 2, 3, kT0 + milliseconds(500)).allowed);
  EXPECT_FALSE(take_from(*store_, key, 2, 3, kT0 + milliseconds(500)).allowed);
  EXPECT_TRUE(take_from(*store_, key, 2, 3, kT0 + milliseconds(1000)).allowed);

  // A long pause refills to the burst and no further.
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE(take_from(*store_, key, 2, 3, kT0 + hours(1)).allowed) << i;
  EXPECT_FALSE(take_from(*store_, key, 2, 3, kT0 + hours(1)).allowed);
}

TEST_P(StoreConformance, RefusedTakesDoNotLoseTheRefill) {
  const std::string key = "send:acme";
  ASSERT_TRUE(take_from(*store_, key, 1, 1, kT0).allowed);
  for (int ms : {200, 400, 600, 800, 999}) {
    TokenOutcome refused = take_from(*store_, key, 1, 1, kT0 + milliseconds(ms));
    EXPECT_FALSE(refused.allowed) << ms;
    EXPECT_EQ(refused.retry_after, seconds(1)) << ms;
  }
  EXPECT_TRUE(take_from(*store_, key, 1, 1, kT0 + seconds(1)).allowed);
  EXPECT_FALSE(take_from(*store_, key, 1, 1, kT0 + seconds(1)).allowed);
}

TEST_P(StoreConformance, FractionalRatesRefillFractionsOfATokenAndRetryAfterHolds) {
  // 0.5 token/s: a token every 2 s.
  const std::string half = "half";
  ASSERT_TRUE(take_from(*store_, half, 0.5, 1, kT0).allowed);
  TokenOutcome refused = take_from(*store_, half, 0.5, 1, kT0);
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, seconds(2));
  refused = take_from(*store_, half, 0.5, 1, kT0 + seconds(1));
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, seconds(1));
  refused = take_from(*store_, half, 0.5, 1, kT0 + milliseconds(1999));
  EXPECT_FALSE(refused.allowed);
  EXPECT_EQ(refused.retry_after, seconds(1));
  EXPECT_TRUE(take_from(*store_, half, 0.5, 1, kT0 + seconds(2)).allowed);

  // 0.1 token/s: 10 s, and a token is really back after them despite 0.1 being inexact.
  const std::string tenth = "tenth";
  ASSERT_TRUE(take_from(*store_, tenth, 0.1, 1, kT0).allowed);
  EXPECT_EQ(take_from(*store_, tenth, 0.1, 1, kT0).retry_after, seconds(10));
  EXPECT_FALSE(take_from(*store_, tenth, 0.1, 1, kT0 + milliseconds(9'999)).allowed);
  EXPECT_TRUE(take_from(*store_, tenth, 0.1, 1, kT0 + seconds(10)).allowed);

  // 0.3 token/s, burst 2: what is left over after each token carries to the next (waits
  // of 4 s, 3 s, 3 s, 4 s...), and coming back after retry_after always finds a token.
  const std::string odd = "odd";
  TimePoint t = kT0;
  ASSERT_TRUE(take_from(*store_, odd, 0.3, 2, t).allowed);
  ASSERT_TRUE(take_from(*store_, odd, 0.3, 2, t).allowed);
  std::vector<Seconds> waits;
  for (int i = 0; i < 10; ++i) {
    TokenOutcome wait = take_from(*store_, odd, 0.3, 2, t);
    ASSERT_FALSE(wait.allowed) << i;
    waits.push_back(wait.retry_after);
    t += wait.retry_after;
    EXPECT_TRUE(take_from(*store_, odd, 0.3, 2, t).allowed) << i;
  }
  EXPECT_EQ(waits,
            (std::vector<Seconds>{seconds(4), seconds(3), seconds(3), seconds(4), seconds(3),
                                  seconds(3), seconds(4), seconds(3), seconds(3), seconds(4)}));
}

TEST_P(StoreConformance, ANonPositiveRateIsNoLimit) {
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(take_from(*store_, "free", 0, 1, kT0).allowed) << i;
  EXPECT_TRUE(take_from(*store_, "free", -1, 1, kT0).allowed);
  // With a rate, the same key is a bucket that starts full.
  EXPECT_TRUE(take_from(*store_, "free", 1, 2, kT0).allowed);
  EXPECT_TRUE(take_from(*store_, "free", 1, 2, kT0).allowed);
  EXPECT_FALSE(take_from(*store_, "free", 1, 2, kT0).allowed);
  EXPECT_TRUE(take_from(*store_, "free", 0, 2, kT0).allowed);
}

TEST_P(StoreConformance, BucketsAreIndependentPerKey) {
  ASSERT_TRUE(take_from(*store_, "send:acme", 1, 1, kT0).allowed);
  EXPECT_FALSE(take_from(*store_, "send:acme", 1, 1, kT0).allowed);
  EXPECT_TRUE(take_from(*store_, "send:globex", 1, 1, kT0).allowed);
  EXPECT_TRUE(take_from(*store_, "key:acme", 1, 1, kT0).allowed);
}

TEST_P(StoreConformance, AClockGoingBackRefillsNothingAndLosesNothing) {
  const std::string key = "skew";
  ASSERT_TRUE(take_from(*store_, key, 1, 2, kT0).allowed);                // 1 left
  EXPECT_TRUE(take_from(*store_, key, 1, 2, kT0 - seconds(10)).allowed);  // 0 left
  TokenOutcome refused = take_from(*store_, key, 1, 2, kT0 - seconds(5));
  EXPECT_FALSE(refused.allowed);
  EXPECT_GE(refused.retry_after, seconds(1));
  // The refill runs from kT0, the latest time seen, not from the earlier readings.
  EXPECT_FALSE(take_from(*store_, key, 1, 2, kT0 + milliseconds(999)).allowed);
  EXPECT_TRUE(take_from(*store_, key, 1, 2, kT0 + seconds(1)).allowed);
  EXPECT_FALSE(take_from(*store_, key, 1, 2, kT0 + seconds(1)).allowed);
}

// ---- sweep ---------------------------------------------------------------------------

TEST_P(StoreConformance, SweepDeletesOnlyWhatIsPastDeleteAfter) {
  Verification old = started(kTenant, kAlice, kT0, {.ttl_seconds = 60, .retention_seconds = 60});
  Verification young = started(kTenant, kBob, kT0, {.ttl_seconds = 600});
  ASSERT_EQ(old.delete_after, kT0 + seconds(120));

  store_->sweep(old.delete_after - milliseconds(1), hours(2)).value();
  EXPECT_TRUE(get(old).has_value());
  EXPECT_TRUE(get(young).has_value());

  EXPECT_GE(store_->sweep(old.delete_after, hours(2)).value(), 1u);
  EXPECT_FALSE(get(old).has_value());
  EXPECT_EQ(check(old, "123456", old.delete_after).kind, Check::kNotFound);
  Verification y = stored(young);
  EXPECT_EQ(y.status, Status::kPending);
  EXPECT_EQ(check(young, "123456", old.delete_after).kind, Check::kApproved);
}

// A send record is kept while its verification is (however short the horizon) and goes
// with it.
TEST_P(StoreConformance, SendRecordsGoWithTheirVerification) {
  const StartOptions o{
      .ttl_seconds = 60, .cooldown_seconds = 0, .max_sends = 1, .retention_seconds = 60};
  Verification v = started(kTenant, kAlice, kT0, o);
  ASSERT_EQ(v.delete_after, kT0 + seconds(120));
  store_->sweep(kT0 + seconds(119), seconds(5)).value();
  EXPECT_EQ(start(start_request(kTenant, kAlice, kT0 + seconds(119), o)).kind, Start::kSendLimit);

  EXPECT_GE(store_->sweep(kT0 + seconds(120), hours(2)).value(), 2u);
  EXPECT_FALSE(get(v).has_value());
  EXPECT_EQ(start(start_request(kTenant, kAlice, kT0 + seconds(121), o)).kind, Start::kStarted);
}

TEST_P(StoreConformance, SweepForgetsLapsedIdempotencyKeysOnly) {
  store_->reserve_idempotency(kTenant, "lapsed", "h", kT0, seconds(30)).value();
  store_->reserve_idempotency(kTenant, "kept", "h", kT0, seconds(30)).value();
  ASSERT_TRUE(store_->complete_idempotency(kTenant, "kept", 201, "{}", kT0 + hours(24)));
  store_->sweep(kT0 + seconds(31), hours(2)).value();
  EXPECT_EQ(store_->reserve_idempotency(kTenant, "kept", "h", kT0 + seconds(32), seconds(30))
                .value()
                .kind,
            Reservation::kReplay);
  EXPECT_EQ(store_->reserve_idempotency(kTenant, "lapsed", "other", kT0 + seconds(32), seconds(30))
                .value()
                .kind,
            Reservation::kReserved);
}

TEST_P(StoreConformance, SweepKeepsCountersWhileTheirWindowLasts) {
  const std::vector<SendCounter> per_hour = {{"hourly", 1, hours(1)}};
  const TimePoint hour = kMidnight + hours(2);
  started(counted_start(kAlice, hour, per_hour));
  store_->sweep(hour + milliseconds(3'599'999), hours(2)).value();
  EXPECT_EQ(start(counted_start(kBob, hour + milliseconds(3'599'999), per_hour)).kind,
            Start::kCounterLimit);
  store_->sweep(hour + hours(1), hours(2)).value();
  started(counted_start(kBob, hour + hours(1), per_hour));
  EXPECT_EQ(start(counted_start(nth_recipient(1), hour + hours(1), per_hour)).kind,
            Start::kCounterLimit);
}

TEST_P(StoreConformance, SweepKeepsBucketsUntilTheyAreFullAgain) {
  // 1 token/s, burst 3: drained at t0, full again at t0 + 3 s.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(take_from(*store_, "b", 1, 3, kT0).allowed);
  const TimePoint almost = kT0 + milliseconds(2'999);
  store_->sweep(almost, hours(2)).value();
  EXPECT_TRUE(take_from(*store_, "b", 1, 3, almost).allowed);
  EXPECT_TRUE(take_from(*store_, "b", 1, 3, almost).allowed);
  EXPECT_FALSE(take_from(*store_, "b", 1, 3, almost).allowed);

  // Swept once full, it comes back as a new bucket: full.
  store_->sweep(kT0 + hours(1), hours(2)).value();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(take_from(*store_, "b", 1, 3, kT0 + hours(1)).allowed);
  EXPECT_FALSE(take_from(*store_, "b", 1, 3, kT0 + hours(1)).allowed);
}

// ---- concurrency (PRODUCT.md §4.5) ---------------------------------------------------

TEST_P(StoreConformance, ConcurrentRightCodesApproveExactlyOnce) {
  Verification v = started(kTenant, kAlice, kT0);
  constexpr int kThreads = 48;
  std::vector<std::optional<Check>> kinds(kThreads);
  race(kThreads, [&](int i) {
    auto r = store_->check(check_request(v, "123456", kT0 + seconds(1)));
    if (r) kinds[i] = r->kind;
  });
  int approved = 0;
  for (const auto& k : kinds) {
    ASSERT_TRUE(k.has_value()) << "a check failed in the backend";
    if (*k == Check::kApproved)
      ++approved;
    else
      EXPECT_EQ(*k, Check::kNotFound);
  }
  EXPECT_EQ(approved, 1);
  EXPECT_EQ(stored(v).status, Status::kApproved);
  EXPECT_EQ(stored(v).attempts, 0);
}

TEST_P(StoreConformance, ConcurrentWrongCodesNeverExceedMaxAttempts) {
  constexpr int kMaxAttempts = 5;
  constexpr int kThreads = 40;
  const StartOptions options{.max_attempts = kMaxAttempts};
  Verification v = started(kTenant, kAlice, kT0, options);
  std::vector<std::optional<CheckOutcome>> outcomes(kThreads);
  race(kThreads, [&](int i) {
    auto r = store_->check(check_request(v, "wrong" + std::to_string(i), kT0 + seconds(1)));
    if (r) outcomes[i] = *r;
  });
  // kMaxAttempts - 1 guesses answer kInvalid, each seeing a different count left; one more
  // uses the last attempt and answers kLocked, like every guess after it.
  int invalid = 0;
  int locked = 0;
  std::set<int> remaining_seen;
  for (const auto& out : outcomes) {
    ASSERT_TRUE(out.has_value()) << "a check failed in the backend";
    if (out->kind == Check::kInvalid) {
      ++invalid;
      remaining_seen.insert(out->verification.attempts_remaining());
    } else {
      ASSERT_EQ(out->kind, Check::kLocked);
      ++locked;
      EXPECT_EQ(out->verification.attempts, kMaxAttempts);
    }
  }
  EXPECT_EQ(invalid, kMaxAttempts - 1);
  EXPECT_EQ(remaining_seen, (std::set<int>{1, 2, 3, 4}));
  EXPECT_EQ(locked, kThreads - (kMaxAttempts - 1));
  EXPECT_EQ(stored(v).attempts, kMaxAttempts);
  EXPECT_EQ(stored(v).status, Status::kMaxAttemptsReached);

  // Exactly kMaxAttempts failures were recorded against the recipient: a budget of that
  // size is spent, one more is not.
  Verification next = started(kTenant, kAlice, kT0 + seconds(2), options);
  EXPECT_EQ(check(next, "123456", kT0 + seconds(3), kMaxAttempts).kind, Check::kTooManyFailures);
  EXPECT_EQ(check(next, "123456", kT0 + seconds(3), kMaxAttempts + 1).kind, Check::kApproved);
}

TEST_P(StoreConformance, ConcurrentStartsToOneRecipientStartOnce) {
  constexpr int kThreads = 16;
  std::vector<StartRequest> requests;
  for (int i = 0; i < kThreads; ++i) requests.push_back(start_request(kTenant, kAlice, kT0));
  std::vector<std::optional<StartOutcome>> outcomes(kThreads);
  race(kThreads, [&](int i) {
    auto r = store_->start(requests[i]);
    if (r) outcomes[i] = *r;
  });
  std::optional<VerificationId> winner;
  int cooldown = 0;
  for (const auto& o : outcomes) {
    ASSERT_TRUE(o.has_value()) << "a start failed in the backend";
    if (o->kind == Start::kStarted) {
      EXPECT_FALSE(winner.has_value()) << "two starts inside one cooldown";
      winner = o->verification.id;
    } else {
      EXPECT_EQ(o->kind, Start::kCooldown);
      EXPECT_EQ(o->retry_after, seconds(30));
      ++cooldown;
    }
  }
  ASSERT_TRUE(winner.has_value());
  EXPECT_EQ(cooldown, kThreads - 1);
  EXPECT_EQ(depth(), 1u);
  auto latest = store_->find_latest(kTenant, {kAlice}).value();
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->id, *winner);
}

TEST_P(StoreConformance, ConcurrentWorkersNeverShareAJob) {
  constexpr int kJobs = 30;
  constexpr int kWorkers = 8;
  for (int i = 0; i < kJobs; ++i) {
    started(kTenant, RecipientHash("q" + std::to_string(i) + std::string(60, '0')), kT0);
  }
  std::vector<std::vector<VerificationId>> taken(kWorkers);
  race(kWorkers, [&](int w) {
    for (int round = 0; round < 5; ++round) {
      auto r = store_->take_due_deliveries(kT0 + seconds(1), 3, kT0 + seconds(60));
      if (!r) return;
      for (auto& j : *r) taken[w].push_back(j.id);
    }
  });
  std::set<VerificationId> all;
  std::size_t total = 0;
  for (auto& t : taken) {
    total += t.size();
    all.insert(t.begin(), t.end());
  }
  EXPECT_EQ(total, static_cast<std::size_t>(kJobs));
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kJobs));
}

TEST_P(StoreConformance, ConcurrentStartsUnderACounterStartExactlyItsLimit) {
  constexpr int kThreads = 32;
  constexpr long long kLimit = 10;
  const std::vector<SendCounter> cap = {{"daily:acme:email", kLimit, hours(24)}};
  std::vector<StartRequest> requests;
  for (int i = 0; i < kThreads; ++i) requests.push_back(counted_start(nth_recipient(i), kT0, cap));
  std::vector<std::optional<StartOutcome>> outcomes(kThreads);
  race(kThreads, [&](int i) {
    auto r = store_->start(requests[i]);
    if (r) outcomes[i] = *r;
  });
  int started_count = 0;
  for (const auto& o : outcomes) {
    ASSERT_TRUE(o.has_value()) << "a start failed in the backend";
    if (o->kind == Start::kStarted) {
      ++started_count;
    } else {
      EXPECT_EQ(o->kind, Start::kCounterLimit);
      EXPECT_EQ(o->counter_index, 0u);
    }
  }
  EXPECT_EQ(started_count, kLimit);
  EXPECT_EQ(depth(), static_cast<std::size_t>(kLimit));
  // The counter holds exactly the limit.
  const std::vector<SendCounter> one_more = {{"daily:acme:email", kLimit + 1, hours(24)}};
  EXPECT_EQ(start(counted_start(nth_recipient(kThreads), kT0 + seconds(1), one_more)).kind,
            Start::kStarted);
  EXPECT_EQ(start(counted_start(nth_recipient(kThreads + 1), kT0 + seconds(1), one_more)).kind,
            Start::kCounterLimit);
}

TEST_P(StoreConformance, ConcurrentTakersNeverGetMoreThanTheBucketHeld) {
  constexpr int kThreads = 32;
  constexpr int kBurst = 5;
  std::vector<std::optional<TokenOutcome>> outcomes(kThreads);
  race(kThreads, [&](int i) {
    auto r = store_->take_token(TokenRequest{"send:acme", 1, kBurst, kT0});
    if (r) outcomes[i] = *r;
  });
  int allowed = 0;
  for (const auto& o : outcomes) {
    ASSERT_TRUE(o.has_value()) << "a take failed in the backend";
    if (o->allowed) {
      ++allowed;
    } else {
      EXPECT_EQ(o->retry_after, seconds(1));
    }
  }
  EXPECT_EQ(allowed, kBurst);
  EXPECT_FALSE(take_from(*store_, "send:acme", 1, kBurst, kT0).allowed);
}

// ---- durability (PRODUCT.md §4.7) ----------------------------------------------------

TEST_P(StoreConformance, DataAndCountersSurviveReopening) {
  const StartOptions o{.max_attempts = 3};
  Verification counted = started(kTenant, kAlice, kT0, o);
  ASSERT_EQ(check(counted, "000000", kT0 + seconds(1)).kind, Check::kInvalid);
  Verification approved = started(kTenant, kBob, kT0, o);
  ASSERT_EQ(check(approved, "123456", kT0 + seconds(1)).kind, Check::kApproved);
  store_->reserve_idempotency(kTenant, "k", "h", kT0, seconds(30)).value();
  ASSERT_TRUE(store_->complete_idempotency(kTenant, "k", 201, "{\"ok\":1}", kT0 + hours(24)));

  reopen();

  Verification c = stored(counted);
  EXPECT_EQ(c.attempts, 1);
  EXPECT_EQ(c.status, Status::kPending);
  EXPECT_EQ(stored(approved).status, Status::kApproved);
  EXPECT_EQ(stored(approved).approved_at, kT0 + seconds(1));
  EXPECT_EQ(check(approved, "123456", kT0 + seconds(2)).kind, Check::kNotFound);
  EXPECT_EQ(start(start_request(kTenant, kAlice, kT0 + seconds(2), o)).kind, Start::kCooldown);
  auto replay = store_->reserve_idempotency(kTenant, "k", "h", kT0 + seconds(3), seconds(30));
  EXPECT_EQ(replay.value().kind, Reservation::kReplay);
  EXPECT_EQ(replay.value().response_body, "{\"ok\":1}");
  EXPECT_EQ(depth(), 2u);

  EXPECT_EQ(check(counted, "000001", kT0 + seconds(3)).kind, Check::kInvalid);
  EXPECT_EQ(check(counted, "000002", kT0 + seconds(4)).kind, Check::kLocked);
  EXPECT_EQ(check(counted, "000001", kT0 + seconds(5), 3).kind, Check::kLocked);
}

TEST_P(StoreConformance, CountersAndBucketsSurviveReopening) {
  started(counted_start(kAlice, kT0, {{"daily", 1, hours(24)}}));
  ASSERT_TRUE(take_from(*store_, "send:acme", 1, 1, kT0).allowed);

  reopen();

  EXPECT_EQ(start(counted_start(kBob, kT0 + seconds(1), {{"daily", 1, hours(24)}})).kind,
            Start::kCounterLimit);
  EXPECT_FALSE(take_from(*store_, "send:acme", 1, 1, kT0 + milliseconds(500)).allowed);
  EXPECT_TRUE(take_from(*store_, "send:acme", 1, 1, kT0 + seconds(1)).allowed);
}

TEST_P(StoreConformance, PingAndSchemaCheckSucceedOnAnOpenStore) {
  EXPECT_TRUE(store_->ping());
  std::string missing;
  EXPECT_TRUE(store_->check_schema(&missing)) << missing;
  EXPECT_TRUE(store_->init_schema());  // idempotent
  EXPECT_TRUE(store_->check_schema(nullptr));
}

}  // namespace otpd::store::testing
