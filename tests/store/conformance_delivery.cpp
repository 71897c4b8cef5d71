// Conformance, the delivery queue: take_due with its lease and skipped tenants, finish,
// retry, depth, and the jobs start, supersede and cancel add or drop.
#include "store_conformance.hpp"

namespace otpd::store::testing {
namespace {

using core::DeliveryStatus;
using core::RecipientHash;
using core::Verification;
using core::VerificationId;
using std::chrono::seconds;

TEST_P(DeliveryConformance, DeliveryIsDueAtOnceAndHiddenWhileLeased) {
  StartRequest request = start_request(kTenant, kAlice, kT0, {.channel = core::ChannelKind::kSms});
  Verification v = started(request);

  auto jobs = run(store_->take_due(TakeRequest{kT0, 10, kT0 + seconds(30), {}})).value();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].tenant, kTenant);
  EXPECT_EQ(jobs[0].id, v.id);
  EXPECT_EQ(jobs[0].channel, core::ChannelKind::kSms);
  EXPECT_EQ(jobs[0].sealed, request.sealed_delivery);  // binary-safe, embedded NUL included
  EXPECT_EQ(jobs[0].attempts, 0);
  EXPECT_EQ(jobs[0].expires_at, v.expires_at);

  EXPECT_TRUE(run(store_->take_due(TakeRequest{kT0 + seconds(29), 10, kT0 + seconds(59), {}}))
                  .value()
                  .empty());
  EXPECT_EQ(depth(), 1u);  // leased, still queued
  jobs = run(store_->take_due(TakeRequest{kT0 + seconds(30), 10, kT0 + seconds(60), {}})).value();
  ASSERT_EQ(jobs.size(), 1u);  // the lease lapsed: a crashed worker's job comes back
  EXPECT_EQ(jobs[0].attempts, 0);
}

TEST_P(DeliveryConformance, DeliveryRetryCountsTheAttemptAndWaits) {
  Verification v = started(kTenant, kAlice, kT0);
  ASSERT_EQ(take(kT0).size(), 1u);
  ASSERT_TRUE(run(store_->retry(kTenant, v.id, kT0 + seconds(5))));
  EXPECT_TRUE(take(kT0 + seconds(4)).empty());
  auto jobs = take(kT0 + seconds(5));
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].attempts, 1);
  ASSERT_TRUE(run(store_->retry(kTenant, v.id, kT0 + seconds(7))));
  jobs = take(kT0 + seconds(7));
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].attempts, 2);
  EXPECT_EQ(stored(v).delivery, DeliveryStatus::kQueued);
}

TEST_P(DeliveryConformance, FinishRecordsTheOutcomeAndDropsThePayload) {
  Verification sent = started(kTenant, kAlice, kT0);
  Verification failed = started(kTenant, kBob, kT0);
  ASSERT_EQ(take(kT0).size(), 2u);
  finish({{kTenant, sent.id, DeliveryStatus::kSent}});
  finish({{kTenant, failed.id, DeliveryStatus::kFailed}});
  EXPECT_EQ(stored(sent).delivery, DeliveryStatus::kSent);
  EXPECT_EQ(stored(failed).delivery, DeliveryStatus::kFailed);
  EXPECT_EQ(depth(), 0u);
  EXPECT_TRUE(take(kT0 + seconds(120)).empty());
  // The verification itself is untouched.
  EXPECT_EQ(check(sent, "123456", kT0 + seconds(121)).verdict, Check::kApproved);
}

// A send whose job goes straight to a worker: queued (durable) but leased from the start.
TEST_P(DeliveryConformance, AJobHandedOverAtStartIsLeasedUntilItsLeaseEnds) {
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

TEST_P(DeliveryConformance, FinishingSeveralAtOnceRecordsEachOutcome) {
  Verification sent = started(kTenant, kAlice, kT0);
  Verification failed = started(kTenant, kBob, kT0);
  Verification waiting = started(kTenant, RecipientHash(std::string(64, 'c')), kT0);
  ASSERT_EQ(take(kT0).size(), 3u);
  finish({});
  finish(
      {{kTenant, sent.id, DeliveryStatus::kSent}, {kTenant, failed.id, DeliveryStatus::kFailed}});
  EXPECT_EQ(stored(sent).delivery, DeliveryStatus::kSent);
  EXPECT_EQ(stored(failed).delivery, DeliveryStatus::kFailed);
  EXPECT_EQ(stored(waiting).delivery, DeliveryStatus::kQueued);
  EXPECT_EQ(depth(), 1u);
  // Idempotent: the same outcomes again (a retried batch) change nothing.
  finish({{kTenant, sent.id, DeliveryStatus::kSent}});
  EXPECT_EQ(stored(sent).delivery, DeliveryStatus::kSent);
  EXPECT_EQ(depth(), 1u);
}

TEST_P(DeliveryConformance, ExpiredJobsAreDroppedAsFailed) {
  Verification v = started(kTenant, kAlice, kT0, {.ttl_seconds = 60});
  Verification live = started(kTenant, kBob, kT0 + seconds(30), {.ttl_seconds = 60});
  auto jobs = take(kT0 + seconds(60));
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, live.id);
  EXPECT_EQ(stored(v).delivery, DeliveryStatus::kFailed);
  EXPECT_EQ(stored(live).delivery, DeliveryStatus::kQueued);
  EXPECT_EQ(depth(), 1u);
}

TEST_P(DeliveryConformance, TakeHandsOutAtMostMaxOldestFirst) {
  std::vector<VerificationId> ids;
  for (int i = 0; i < 5; ++i) {
    const RecipientHash r("r" + std::to_string(i) + std::string(62, '0'));
    ids.push_back(started(kTenant, r, kT0 + seconds(i)).id);
  }
  const core::TimePoint now = kT0 + seconds(10);
  std::vector<VerificationId> order;
  for (std::size_t expected : {2u, 2u, 1u, 0u}) {
    auto jobs = run(store_->take_due(TakeRequest{now, 2, now + seconds(30), {}})).value();
    EXPECT_EQ(jobs.size(), expected);
    for (auto& j : jobs) order.push_back(j.id);
  }
  EXPECT_EQ(order, ids);
  EXPECT_EQ(depth(), 5u);
}

// A tenant at its share of attempts is skipped: its jobs stay due, not leased, and the
// other tenants' jobs are taken in its place.
TEST_P(DeliveryConformance, TakeSkipsTheTenantsItIsToldToSkip) {
  std::vector<VerificationId> mine;
  // A millisecond apart: "oldest first" then orders them whatever their ids.
  for (int i = 0; i < 3; ++i) {
    mine.push_back(started(kTenant, nth_recipient(i), kT0 + std::chrono::milliseconds(i)).id);
  }
  Verification theirs = started(kOtherTenant, kAlice, kT0 + seconds(1));
  const core::TimePoint now = kT0 + seconds(2);

  auto jobs = run(store_->take_due(TakeRequest{now, 2, now + seconds(30), {kTenant}})).value();
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].tenant, kOtherTenant);
  EXPECT_EQ(jobs[0].id, theirs.id);
  EXPECT_TRUE(run(store_->take_due(TakeRequest{now, 2, now + seconds(30), {kTenant, kOtherTenant}}))
                  .value()
                  .empty());

  // Not skipped any more: the skipped jobs are due as they were, oldest first.
  jobs = run(store_->take_due(TakeRequest{now, 10, now + seconds(30), {}})).value();
  std::vector<VerificationId> taken;
  for (const auto& j : jobs) taken.push_back(j.id);
  EXPECT_EQ(taken, mine);
  EXPECT_EQ(depth(), 4u);
}

TEST_P(DeliveryConformance, CancelAndSupersedeDropTheJob) {
  Verification v1 = started(kTenant, kAlice, kT0);
  ASSERT_EQ(cancel(kTenant, v1.id, kT0 + seconds(1)), Transit::kDone);
  EXPECT_EQ(depth(), 0u);
  EXPECT_TRUE(take(kT0 + seconds(1)).empty());

  Verification v2 = started(kTenant, kBob, kT0);
  StartOutcome v3 = start(start_request(kTenant, kBob, kT0 + seconds(30)));
  ASSERT_EQ(v3.superseded, v2.id);
  auto jobs = take(kT0 + seconds(30));
  ASSERT_EQ(jobs.size(), 1u);
  EXPECT_EQ(jobs[0].id, v3.verification.id);
}

}  // namespace
}  // namespace otpd::store::testing
