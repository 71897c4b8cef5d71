// Conformance, transition: cancel (its delivery job dropped with it) and approval without
// a code, each allowed only from pending.
#include "store_conformance.hpp"

namespace otpd::store::testing {
namespace {

using core::RecipientHash;
using core::Status;
using core::Transition;
using core::Verification;
using core::VerificationId;
using std::chrono::seconds;

const RecipientHash kCarol("c" + std::string(63, '0'));
const RecipientHash kDave("d" + std::string(63, '0'));

TEST_P(TransitionConformance, CancelOutcomes) {
  Verification pending = started(kTenant, kAlice, kT0);
  EXPECT_EQ(cancel(kTenant, pending.id, kT0 + seconds(1)), Transit::kDone);
  EXPECT_EQ(stored(pending).status, Status::kCanceled);
  EXPECT_EQ(depth(), 0u);  // its delivery is dropped with it
  EXPECT_EQ(cancel(kTenant, pending.id, kT0 + seconds(2)), Transit::kNotPending);

  Verification approved = started(kTenant, kBob, kT0);
  ASSERT_EQ(check(approved, "123456", kT0 + seconds(1)).verdict, Check::kApproved);
  EXPECT_EQ(cancel(kTenant, approved.id, kT0 + seconds(2)), Transit::kAlreadyApproved);

  Verification locked = started(kTenant, kCarol, kT0, {.max_attempts = 1});
  ASSERT_EQ(check(locked, "000000", kT0 + seconds(1)).verdict, Check::kLocked);
  EXPECT_EQ(cancel(kTenant, locked.id, kT0 + seconds(2)), Transit::kNotPending);

  Verification expired = started(kTenant, kDave, kT0, {.ttl_seconds = 60});
  EXPECT_EQ(cancel(kTenant, expired.id, kT0 + seconds(60)), Transit::kNotPending);
  EXPECT_EQ(stored(expired).status, Status::kPending);  // still reads as expired

  EXPECT_EQ(cancel(kTenant, VerificationId("vrf_nope"), kT0), Transit::kNotFound);
}

TEST_P(TransitionConformance, CancelAnswersTheStateAfter) {
  Verification v = started(kTenant, kAlice, kT0);
  core::TransitionDecision d = transition(kTenant, v.id, Transition::kCancel, kT0 + seconds(1));
  ASSERT_EQ(d.verdict, Transit::kDone);
  ASSERT_TRUE(d.after.has_value());
  EXPECT_EQ(d.after->id, v.id);
  EXPECT_EQ(d.after->status, Status::kCanceled);
  expect_same(*d.after, stored(v));
}

TEST_P(TransitionConformance, ApproveMakesAPendingCodeApprovedAndSingleUse) {
  Verification v = started(kTenant, kAlice, kT0);
  core::TransitionDecision d = transition(kTenant, v.id, Transition::kApprove, kT0 + seconds(5));
  ASSERT_EQ(d.verdict, Transit::kDone);
  ASSERT_TRUE(d.after.has_value());
  EXPECT_EQ(d.after->status, Status::kApproved);
  EXPECT_EQ(d.after->approved_at, kT0 + seconds(5));
  EXPECT_EQ(d.after->attempts, 0);

  Verification s = stored(v);
  EXPECT_EQ(s.status, Status::kApproved);
  EXPECT_EQ(s.approved_at, kT0 + seconds(5));
  expect_same(*d.after, s);

  // Approved by hand is approved: a check with the right code then finds nothing pending,
  // and says what it found.
  core::CheckDecision c = check(v, "123456", kT0 + seconds(6));
  EXPECT_EQ(c.verdict, Check::kNotFound);
  EXPECT_EQ(after_of(c).status, Status::kApproved);
  EXPECT_EQ(after_of(c).approved_at, kT0 + seconds(5));
  EXPECT_EQ(stored(v).attempts, 0);

  EXPECT_EQ(approve(kTenant, v.id, kT0 + seconds(7)), Transit::kAlreadyApproved);
  EXPECT_EQ(cancel(kTenant, v.id, kT0 + seconds(7)), Transit::kAlreadyApproved);
  EXPECT_EQ(stored(v).approved_at, kT0 + seconds(5));  // unchanged by the second approve
}

TEST_P(TransitionConformance, ApproveOutcomes) {
  Verification approved = started(kTenant, kBob, kT0);
  ASSERT_EQ(check(approved, "123456", kT0 + seconds(1)).verdict, Check::kApproved);
  EXPECT_EQ(approve(kTenant, approved.id, kT0 + seconds(2)), Transit::kAlreadyApproved);
  EXPECT_EQ(stored(approved).approved_at, kT0 + seconds(1));

  Verification canceled = started(kTenant, kAlice, kT0);
  ASSERT_EQ(cancel(kTenant, canceled.id, kT0 + seconds(1)), Transit::kDone);
  EXPECT_EQ(approve(kTenant, canceled.id, kT0 + seconds(2)), Transit::kNotPending);
  EXPECT_EQ(stored(canceled).status, Status::kCanceled);

  Verification locked = started(kTenant, kCarol, kT0, {.max_attempts = 1});
  ASSERT_EQ(check(locked, "000000", kT0 + seconds(1)).verdict, Check::kLocked);
  EXPECT_EQ(approve(kTenant, locked.id, kT0 + seconds(2)), Transit::kNotPending);
  EXPECT_EQ(stored(locked).status, Status::kMaxAttemptsReached);

  Verification expired = started(kTenant, kDave, kT0, {.ttl_seconds = 60});
  EXPECT_EQ(approve(kTenant, expired.id, kT0 + seconds(60)), Transit::kNotPending);
  EXPECT_EQ(stored(expired).status, Status::kPending);  // still reads as expired
  EXPECT_FALSE(stored(expired).approved_at.has_value());

  EXPECT_EQ(approve(kTenant, VerificationId("vrf_nope"), kT0), Transit::kNotFound);
}

}  // namespace
}  // namespace otpd::store::testing
