// Conformance, check: the verify order (not found, malformed, expired, locked, the failure
// budget, then the comparison), the code matcher, lookup by recipient, and tenants.
#include "store_conformance.hpp"

namespace otpd::store::testing {
namespace {

using core::RecipientHash;
using core::Status;
using core::Verification;
using core::VerificationId;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// The same recipient under the current secret (A) and a retired one (B).
const RecipientHash kUnderA("aa" + std::string(62, '1'));
const RecipientHash kUnderB("bb" + std::string(62, '2'));

TEST_P(CheckConformance, RightCodeIsApprovedOnceThenNotFound) {
  Verification v = started(kTenant, kAlice, kT0);
  core::CheckDecision ok = check(v, "123456", kT0 + seconds(5));
  ASSERT_EQ(ok.verdict, Check::kApproved);
  EXPECT_EQ(after_of(ok).id, v.id);
  EXPECT_EQ(after_of(ok).status, Status::kApproved);
  EXPECT_EQ(after_of(ok).approved_at, kT0 + seconds(5));
  EXPECT_EQ(after_of(ok).attempts, 0);

  Verification s = stored(v);
  EXPECT_EQ(s.status, Status::kApproved);
  EXPECT_EQ(s.approved_at, kT0 + seconds(5));

  EXPECT_EQ(check(v, "123456", kT0 + seconds(6)).verdict, Check::kNotFound);
  EXPECT_EQ(check(v, "000000", kT0 + seconds(7)).verdict, Check::kNotFound);
  EXPECT_EQ(stored(v).attempts, 0);
}

TEST_P(CheckConformance, AnyCandidateHashMatches) {
  Verification v = started(kTenant, kAlice, kT0);
  CheckRequest r = check_request(v, "123456", kT0 + seconds(1));
  r.match = matcher_of({hash_of("999999"), hash_of("123456")});
  EXPECT_EQ(check(r).verdict, Check::kApproved);
}

TEST_P(CheckConformance, NoCandidateIsAWrongCode) {
  Verification v = started(kTenant, kAlice, kT0);
  CheckRequest r = check_request(v, "123456", kT0 + seconds(1));
  r.match = matcher_of({});
  EXPECT_EQ(check(r).verdict, Check::kInvalid);
}

// The matcher sees the verification the store found, so the caller needs no read first.
TEST_P(CheckConformance, TheMatcherIsAskedWithTheVerificationFound) {
  Verification v = started(kTenant, kAlice, kT0);
  CheckRequest r = check_request(v, "ignored", kT0 + seconds(1));
  std::vector<std::string> seen;
  r.match = [&](const Verification& found) {
    seen.push_back(found.id.str());
    return found.code_hash == hash_of("123456") ? core::CodeMatch::kRight : core::CodeMatch::kWrong;
  };
  EXPECT_EQ(check(r).verdict, Check::kApproved);
  EXPECT_EQ(seen, std::vector<std::string>{v.id.str()});
  // Approved (and so single use): not found, whatever the matcher says.
  EXPECT_EQ(check(r).verdict, Check::kNotFound);
  for (const auto& id : seen) EXPECT_EQ(id, v.id.str());
}

TEST_P(CheckConformance, ACodeTheMatcherCallsMalformedCountsNothing) {
  Verification v = started(kTenant, kAlice, kT0, {.max_attempts = 2});
  CheckRequest r = check_request(v, "123456", kT0 + seconds(1), 1);
  r.match = [](const Verification&) { return core::CodeMatch::kMalformed; };
  for (int i = 0; i < 3; ++i) {
    core::CheckDecision c = check(r);
    EXPECT_EQ(c.verdict, Check::kMalformed);
    EXPECT_EQ(after_of(c).id, v.id);
  }
  EXPECT_EQ(stored(v).attempts, 0);
  EXPECT_EQ(stored(v).status, Status::kPending);
  // Judged before the expiry, as a malformed code is judged before anything else. (Past
  // expires_at, within the retention: past delete_after a store may have deleted it.)
  r.now = kT0 + minutes(30);
  EXPECT_EQ(check(r).verdict, Check::kMalformed);
  // Nor did it spend the recipient's failure budget of 1.
  EXPECT_EQ(check(v, "123456", kT0 + seconds(2), 1).verdict, Check::kApproved);
}

// A check by id may carry the typed code hashed ahead (`typed`), which `match` then only
// compares with: a store may use either, inside its commit or between read and commit, and
// must decide alike. The decision says how the code compared.
CheckRequest typed_check(const Verification& v, std::size_t length, const std::string& hash,
                         core::TimePoint now) {
  CheckRequest r = check_request(v, "ignored", now);
  core::TypedCodeHashes typed;
  typed.readings.push_back({core::Alphabet::kDigits, length, {hash}});
  r.typed = typed;
  r.match = [typed](const Verification& found) { return core::match_typed_code(typed, found); };
  return r;
}

TEST_P(CheckConformance, ACheckWithTheCodeHashedAheadDecidesAsAnyOther) {
  Verification v = started(kTenant, kAlice, kT0, {.max_attempts = 3});
  // Not the code's length: malformed, nothing counted.
  core::CheckDecision c = check(typed_check(v, 5, hash_of("12345"), kT0 + seconds(1)));
  EXPECT_EQ(c.verdict, Check::kMalformed);
  EXPECT_EQ(c.match, core::CodeMatch::kMalformed);
  EXPECT_EQ(stored(v).attempts, 0);
  // The wrong code: one attempt counted.
  c = check(typed_check(v, 6, hash_of("654321"), kT0 + seconds(2)));
  EXPECT_EQ(c.verdict, Check::kInvalid);
  EXPECT_EQ(c.match, core::CodeMatch::kWrong);
  EXPECT_EQ(stored(v).attempts, 1);
  // The right one: approved, once.
  c = check(typed_check(v, 6, hash_of("123456"), kT0 + seconds(3)));
  EXPECT_EQ(c.verdict, Check::kApproved);
  EXPECT_EQ(c.match, core::CodeMatch::kRight);
  EXPECT_EQ(after_of(c).attempts, 1);
  EXPECT_EQ(stored(v).status, Status::kApproved);
  EXPECT_EQ(check(typed_check(v, 6, hash_of("123456"), kT0 + seconds(4))).verdict,
            Check::kNotFound);
  // Unknown ids are not found, typed or not.
  Verification unknown = v;
  unknown.id = VerificationId("v_unknown");
  EXPECT_EQ(check(typed_check(unknown, 6, hash_of("123456"), kT0 + seconds(5))).verdict,
            Check::kNotFound);
}

// Past its expiry the right code still compares as right: the compatible API's rules
// answer an expired code differently when it was the right one.
TEST_P(CheckConformance, AnExpiredCheckStillSaysHowTheCodeCompared) {
  Verification v = started(kTenant, kAlice, kT0);
  core::CheckDecision c = check(typed_check(v, 6, hash_of("123456"), kT0 + minutes(6)));
  EXPECT_EQ(c.verdict, Check::kExpired);
  EXPECT_EQ(c.match, core::CodeMatch::kRight);
  c = check(typed_check(v, 6, hash_of("000000"), kT0 + minutes(6)));
  EXPECT_EQ(c.verdict, Check::kExpired);
  EXPECT_EQ(c.match, core::CodeMatch::kWrong);
}

TEST_P(CheckConformance, WrongCodesCountAttemptsThenLock) {
  Verification v = started(kTenant, kAlice, kT0, {.max_attempts = 3});
  core::CheckDecision c = check(v, "000000", kT0 + seconds(1));
  EXPECT_EQ(c.verdict, Check::kInvalid);
  EXPECT_EQ(after_of(c).attempts, 1);
  EXPECT_EQ(after_of(c).attempts_remaining(), 2);
  c = check(v, "000001", kT0 + seconds(2));
  EXPECT_EQ(c.verdict, Check::kInvalid);
  EXPECT_EQ(after_of(c).attempts_remaining(), 1);
  c = check(v, "000002", kT0 + seconds(3));
  EXPECT_EQ(c.verdict, Check::kLocked);
  EXPECT_EQ(after_of(c).status, Status::kMaxAttemptsReached);
  EXPECT_EQ(after_of(c).attempts, 3);

  // Locked answers every later check, the right code included, and counts nothing more.
  c = check(v, "123456", kT0 + seconds(4));
  EXPECT_EQ(c.verdict, Check::kLocked);
  EXPECT_EQ(after_of(c).attempts, 3);
  EXPECT_EQ(check(v, "000003", kT0 + seconds(5)).verdict, Check::kLocked);
  EXPECT_EQ(stored(v).attempts, 3);
  EXPECT_EQ(stored(v).status, Status::kMaxAttemptsReached);
  // Past its expiry a locked code answers expired: expired is decided before locked.
  EXPECT_EQ(check(v, "123456", kT0 + hours(1)).verdict, Check::kExpired);
}

TEST_P(CheckConformance, RightCodeAfterWrongOnesIsApproved) {
  Verification v = started(kTenant, kAlice, kT0, {.max_attempts = 3});
  EXPECT_EQ(check(v, "000000", kT0 + seconds(1)).verdict, Check::kInvalid);
  EXPECT_EQ(check(v, "000001", kT0 + seconds(2)).verdict, Check::kInvalid);
  core::CheckDecision c = check(v, "123456", kT0 + seconds(3));
  EXPECT_EQ(c.verdict, Check::kApproved);
  EXPECT_EQ(after_of(c).attempts, 2);
}

TEST_P(CheckConformance, ExpiredCountsNoAttempt) {
  Verification v = started(kTenant, kAlice, kT0, {.ttl_seconds = 60});
  core::CheckDecision c = check(v, "000000", kT0 + seconds(60));
  EXPECT_EQ(c.verdict, Check::kExpired);
  EXPECT_EQ(after_of(c).id, v.id);
  EXPECT_EQ(after_of(c).attempts, 0);
  EXPECT_EQ(check(v, "123456", kT0 + seconds(61)).verdict, Check::kExpired);
  EXPECT_EQ(stored(v).attempts, 0);
  EXPECT_EQ(stored(v).status, Status::kPending);
}

TEST_P(CheckConformance, LastMillisecondBeforeExpiryStillApproves) {
  Verification v = started(kTenant, kAlice, kT0, {.ttl_seconds = 60});
  EXPECT_EQ(check(v, "123456", kT0 + seconds(60) - milliseconds(1)).verdict, Check::kApproved);
}

TEST_P(CheckConformance, UnknownAndCanceledAreNotFound) {
  Verification v = started(kTenant, kAlice, kT0);
  Verification unknown = v;
  unknown.id = VerificationId("vrf_does_not_exist");
  core::CheckDecision c = check(unknown, "123456", kT0 + seconds(1));
  EXPECT_EQ(c.verdict, Check::kNotFound);
  EXPECT_FALSE(c.after.has_value());

  ASSERT_EQ(cancel(kTenant, v.id, kT0 + seconds(2)), Transit::kDone);
  EXPECT_EQ(check(v, "123456", kT0 + seconds(3)).verdict, Check::kNotFound);
}

TEST_P(CheckConformance, FailureBudgetSpansTheRecipientsCodes) {
  const StartOptions o{.ttl_seconds = 7200, .max_attempts = 3};
  const int budget = 4;
  Verification v1 = started(kTenant, kAlice, kT0, o);
  EXPECT_EQ(check(v1, "000000", kT0, budget).verdict, Check::kInvalid);
  EXPECT_EQ(check(v1, "000001", kT0 + seconds(1), budget).verdict, Check::kInvalid);
  EXPECT_EQ(check(v1, "000002", kT0 + seconds(2), budget).verdict, Check::kLocked);

  // A fresh code buys no fresh guesses beyond the budget.
  Verification v2 = started(kTenant, kAlice, kT0 + seconds(3), o);
  EXPECT_EQ(check(v2, "000003", kT0 + seconds(3), budget).verdict, Check::kInvalid);
  core::CheckDecision c = check(v2, "123456", kT0 + seconds(10), budget);
  EXPECT_EQ(c.verdict, Check::kTooManyFailures);
  EXPECT_EQ(c.retry_after, seconds(3590));  // the failure at t0 leaves the hour at t0+1h
  EXPECT_EQ(after_of(c).id, v2.id);
  EXPECT_EQ(stored(v2).attempts, 1);  // no attempt counted
  EXPECT_EQ(stored(v2).status, Status::kPending);

  // Another recipient, and the same one in another tenant, have budgets of their own.
  Verification bob = started(kTenant, kBob, kT0 + seconds(10), o);
  EXPECT_EQ(check(bob, "123456", kT0 + seconds(11), budget).verdict, Check::kApproved);
  Verification other = started(kOtherTenant, kAlice, kT0 + seconds(10), o);
  EXPECT_EQ(check(other, "123456", kT0 + seconds(11), budget).verdict, Check::kApproved);

  // Budget off: the same history blocks nothing.
  EXPECT_EQ(check(v2, "000004", kT0 + seconds(20), 0).verdict, Check::kInvalid);

  // The budget frees up as failures leave the hour; the one at t0+20 s counts too.
  EXPECT_EQ(check(v2, "123456", kT0 + hours(1) - milliseconds(1), budget).verdict,
            Check::kTooManyFailures);
  EXPECT_EQ(check(v2, "123456", kT0 + hours(1), budget).verdict, Check::kTooManyFailures);
  // Failures at t0, t0+1, t0+2, t0+3, t0+20: three still inside the hour at t0+1h+1s.
  EXPECT_EQ(check(v2, "123456", kT0 + hours(1) + seconds(1), budget).verdict, Check::kApproved);
}

TEST_P(CheckConformance, ExpiredAndLockedAreReportedBeforeTheFailureBudget) {
  const StartOptions o{.ttl_seconds = 60, .max_attempts = 2};
  Verification v1 = started(kTenant, kAlice, kT0, o);
  check(v1, "000000", kT0, 0);
  check(v1, "000001", kT0, 0);
  Verification v2 = started(kTenant, kAlice, kT0 + seconds(1), o);
  EXPECT_EQ(check(v1, "123456", kT0 + seconds(2), 1).verdict, Check::kLocked);
  EXPECT_EQ(check(v2, "123456", kT0 + seconds(61), 1).verdict, Check::kExpired);
  EXPECT_EQ(check(v2, "123456", kT0 + seconds(2), 1).verdict, Check::kTooManyFailures);
}

// ---- lookup by recipient -------------------------------------------------------------

TEST_P(CheckConformance, CheckByRecipientChecksTheNewestUnderAnyOfItsHashes) {
  Verification old = started(kTenant, kAlice, kT0);
  StartOutcome newer = start(start_request(kTenant, kAlice, kT0 + seconds(60)));
  ASSERT_EQ(newer.decision.verdict, Send::kStart);
  CheckRequest r = check_by_recipient(kTenant, {RecipientHash(std::string(64, 'e')), kAlice, kBob},
                                      "123456", kT0 + seconds(61));
  core::CheckDecision c = check(r);
  EXPECT_EQ(c.verdict, Check::kApproved);
  EXPECT_EQ(after_of(c).id, newer.verification.id);
  EXPECT_EQ(stored(old).status, Status::kCanceled);
  // Another tenant's recipient hash finds nothing here.
  r.tenant = kOtherTenant;
  EXPECT_EQ(check(r).verdict, Check::kNotFound);
  r.tenant = kTenant;
  r.recipients = {kBob};
  EXPECT_EQ(check(r).verdict, Check::kNotFound);
}

// The newest of the recipient's verifications under all its hashes, whichever hash it
// is stored under and whichever order the hashes come in.
TEST_P(CheckConformance, TheNewestOfAllTheRecipientsHashesIsChecked) {
  EXPECT_FALSE(newest_of(kTenant, {kAlice, kBob}, kT0).has_value());
  EXPECT_FALSE(newest_of(kTenant, {}, kT0).has_value());

  Verification bob = started(kTenant, kBob, kT0);
  auto latest = newest_of(kTenant, {kAlice, kBob}, kT0);
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->id, bob.id);

  Verification alice = started(kTenant, kAlice, kT0 + seconds(1));
  latest = newest_of(kTenant, {kAlice, kBob}, kT0 + seconds(1));
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->id, alice.id);
  latest = newest_of(kTenant, {kBob, kAlice}, kT0 + seconds(1));
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->id, alice.id);
  latest = newest_of(kTenant, {kBob}, kT0 + seconds(1));
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->id, bob.id);
}

TEST_P(CheckConformance, CheckByRecipientFindsTheNewestWhateverItsState) {
  Verification v1 = started(kTenant, kAlice, kT0);
  Verification v2 = started(kTenant, kAlice, kT0 + seconds(30));
  ASSERT_EQ(check(v2, "123456", kT0 + seconds(31)).verdict, Check::kApproved);
  auto latest = newest_of(kTenant, {kAlice}, kT0 + seconds(32));
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->id, v2.id);
  EXPECT_EQ(latest->status, Status::kApproved);
  expect_same(*latest, stored(v2));
  // Approved is single use: the right code for the older (canceled) one finds nothing.
  core::CheckDecision c = check(check_by_recipient(kTenant, {kAlice}, "123456", kT0 + seconds(33)));
  EXPECT_EQ(c.verdict, Check::kNotFound);
  EXPECT_EQ(after_of(c).id, v2.id);
  EXPECT_EQ(stored(v1).status, Status::kCanceled);
}

// A check by recipient counts the failures under every hash it was given.
TEST_P(CheckConformance, TheFailureBudgetOfACheckByRecipientSumsAcrossItsHashes) {
  const StartOptions o{.ttl_seconds = 7200, .max_attempts = 1};
  Verification under_a = started(kTenant, kUnderA, kT0, o);
  ASSERT_EQ(check(under_a, "000000", kT0 + seconds(1)).verdict, Check::kLocked);
  Verification under_b =
      started(kTenant, kUnderB, kT0 + seconds(2), {.ttl_seconds = 7200, .max_attempts = 3});
  ASSERT_EQ(check(under_b, "000000", kT0 + seconds(3)).verdict, Check::kInvalid);

  core::CheckDecision c =
      check(check_by_recipient(kTenant, {kUnderB, kUnderA}, "123456", kT0 + seconds(4), 2));
  EXPECT_EQ(c.verdict, Check::kTooManyFailures);
  EXPECT_EQ(c.retry_after, seconds(3597));  // the failure at t0+1 s
  EXPECT_EQ(after_of(c).id, under_b.id);
  // Under B alone one failure: a budget of 2 is not spent.
  EXPECT_EQ(check(check_by_recipient(kTenant, {kUnderB}, "123456", kT0 + seconds(5), 2)).verdict,
            Check::kApproved);
}

// The matcher runs outside the store's lock, so a new send can land between the lookup and
// the commit. The store then matches the newer verification and decides on it: the code
// checked is always the recipient's newest, as the matcher saw it.
TEST_P(CheckConformance, ALookupByRecipientThatRacesANewSendChecksTheNewerCode) {
  Verification first = started(kTenant, kAlice, kT0, {.code = "111111"});
  std::optional<StartOutcome> raced;
  std::vector<VerificationId> seen;
  CheckRequest r = check_by_recipient(kTenant, {kAlice}, "222222", kT0 + seconds(31));
  r.match = [&](const Verification& v) {
    seen.push_back(v.id);
    if (!raced) {
      boost::asio::io_context io;
      raced = run_blocking(io, store_->start(start_request(kTenant, kAlice, kT0 + seconds(30),
                                                           {.code = "222222"})))
                  .value();
    }
    return v.code_hash == hash_of("222222") ? core::CodeMatch::kRight : core::CodeMatch::kWrong;
  };
  core::CheckDecision c = check(r);
  ASSERT_TRUE(raced.has_value());
  ASSERT_EQ(raced->decision.verdict, Send::kStart);
  EXPECT_EQ(seen, (std::vector<VerificationId>{first.id, raced->verification.id}));
  EXPECT_EQ(c.verdict, Check::kApproved);
  EXPECT_EQ(after_of(c).id, raced->verification.id);
  EXPECT_EQ(stored(raced->verification).status, Status::kApproved);
  EXPECT_EQ(stored(first).status, Status::kCanceled);
  EXPECT_EQ(stored(first).attempts, 0);
}

// The other way round: the code typed was right for the code superseded meanwhile. It
// must not approve the newer one, and the superseded one stays canceled.
TEST_P(CheckConformance, AMatchOfTheSupersededCodeDoesNotApproveTheNewerOne) {
  Verification first = started(kTenant, kAlice, kT0, {.code = "111111"});
  std::optional<StartOutcome> raced;
  CheckRequest r = check_by_recipient(kTenant, {kAlice}, "111111", kT0 + seconds(31));
  r.match = [&](const Verification& v) {
    if (!raced) {
      boost::asio::io_context io;
      raced = run_blocking(io, store_->start(start_request(kTenant, kAlice, kT0 + seconds(30),
                                                           {.code = "222222"})))
                  .value();
    }
    return v.code_hash == hash_of("111111") ? core::CodeMatch::kRight : core::CodeMatch::kWrong;
  };
  core::CheckDecision c = check(r);
  ASSERT_TRUE(raced.has_value());
  ASSERT_EQ(raced->decision.verdict, Send::kStart);
  EXPECT_EQ(c.verdict, Check::kInvalid);
  EXPECT_EQ(after_of(c).id, raced->verification.id);
  EXPECT_EQ(stored(raced->verification).attempts, 1);
  EXPECT_EQ(stored(raced->verification).status, Status::kPending);
  EXPECT_EQ(stored(first).status, Status::kCanceled);
}

// ---- tenants -------------------------------------------------------------------------

TEST_P(CheckConformance, AnotherTenantCannotSeeOrTouchAVerification) {
  Verification v = started(kTenant, kAlice, kT0);
  EXPECT_FALSE(run(store_->get(kOtherTenant, v.id)).value().has_value());

  Verification foreign = v;
  foreign.tenant = kOtherTenant;
  EXPECT_EQ(check(foreign, "123456", kT0 + seconds(1)).verdict, Check::kNotFound);
  EXPECT_EQ(check(foreign, "000000", kT0 + seconds(1)).verdict, Check::kNotFound);
  EXPECT_EQ(cancel(kOtherTenant, v.id, kT0 + seconds(1)), Transit::kNotFound);
  EXPECT_EQ(approve(kOtherTenant, v.id, kT0 + seconds(1)), Transit::kNotFound);
  EXPECT_FALSE(newest_of(kOtherTenant, {kAlice}, kT0 + seconds(1)).has_value());

  Verification s = stored(v);
  EXPECT_EQ(s.status, Status::kPending);
  EXPECT_EQ(s.attempts, 0);
}

TEST_P(CheckConformance, TheSameIdInTwoTenantsIsTwoVerifications) {
  StartRequest a = start_request(kTenant, kAlice, kT0, {.code = "111111"});
  StartRequest b = start_request(kOtherTenant, kBob, kT0, {.code = "222222"});
  b.verification.id = a.verification.id;
  Verification va = started(a);
  Verification vb = started(b);
  EXPECT_EQ(check(vb, "111111", kT0 + seconds(1)).verdict, Check::kInvalid);
  EXPECT_EQ(check(va, "111111", kT0 + seconds(1)).verdict, Check::kApproved);
  EXPECT_EQ(stored(vb).status, Status::kPending);
  EXPECT_EQ(stored(vb).attempts, 1);
}

}  // namespace
}  // namespace otpd::store::testing
