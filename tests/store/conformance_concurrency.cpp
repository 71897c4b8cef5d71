// Conformance, concurrency: real threads, each with its own io_context, racing on one
// verification, one recipient, one queue, one counter and one bucket.
#include <set>

#include "store_conformance.hpp"

namespace otpd::store::testing {
namespace {

using core::CounterSpec;
using core::RecipientHash;
using core::Status;
using core::Verification;
using core::VerificationId;
using std::chrono::hours;
using std::chrono::seconds;

TEST_P(ConcurrencyConformance, ConcurrentRightCodesApproveExactlyOnce) {
  Verification v = started(kTenant, kAlice, kT0);
  constexpr int kThreads = 48;
  std::vector<std::optional<Check>> verdicts(kThreads);
  race(kThreads, [&](int i, boost::asio::io_context& io) {
    auto r = run_blocking(io, store_->check(check_request(v, "123456", kT0 + seconds(1))));
    if (r) verdicts[i] = r->verdict;
  });
  int approved = 0;
  for (const auto& k : verdicts) {
    ASSERT_TRUE(k.has_value()) << "a check failed in the backend";
    if (*k == Check::kApproved) {
      ++approved;
    } else {
      EXPECT_EQ(*k, Check::kNotFound);
    }
  }
  EXPECT_EQ(approved, 1);
  EXPECT_EQ(stored(v).status, Status::kApproved);
  EXPECT_EQ(stored(v).attempts, 0);
}

TEST_P(ConcurrencyConformance, ConcurrentWrongCodesNeverExceedMaxAttempts) {
  constexpr int kMaxAttempts = 5;
  constexpr int kThreads = 40;
  const StartOptions options{.max_attempts = kMaxAttempts};
  Verification v = started(kTenant, kAlice, kT0, options);
  std::vector<std::optional<core::CheckDecision>> outcomes(kThreads);
  race(kThreads, [&](int i, boost::asio::io_context& io) {
    auto r = run_blocking(
        io, store_->check(check_request(v, "wrong" + std::to_string(i), kT0 + seconds(1))));
    if (r) outcomes[i] = *r;
  });
  // kMaxAttempts - 1 guesses answer kInvalid, each seeing a different count left; one more
  // uses the last attempt and answers kLocked, like every guess after it.
  int invalid = 0;
  int locked = 0;
  std::set<int> remaining_seen;
  for (const auto& out : outcomes) {
    ASSERT_TRUE(out.has_value()) << "a check failed in the backend";
    ASSERT_TRUE(out->after.has_value());
    if (out->verdict == Check::kInvalid) {
      ++invalid;
      remaining_seen.insert(out->after->attempts_remaining());
    } else {
      ASSERT_EQ(out->verdict, Check::kLocked);
      ++locked;
      EXPECT_EQ(out->after->attempts, kMaxAttempts);
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
  EXPECT_EQ(check(next, "123456", kT0 + seconds(3), kMaxAttempts).verdict, Check::kTooManyFailures);
  EXPECT_EQ(check(next, "123456", kT0 + seconds(3), kMaxAttempts + 1).verdict, Check::kApproved);
}

TEST_P(ConcurrencyConformance, ConcurrentStartsToOneRecipientStartOnce) {
  constexpr int kThreads = 16;
  std::vector<StartRequest> requests;
  for (int i = 0; i < kThreads; ++i) requests.push_back(start_request(kTenant, kAlice, kT0));
  std::vector<std::optional<StartOutcome>> outcomes(kThreads);
  race(kThreads, [&](int i, boost::asio::io_context& io) {
    auto r = run_blocking(io, store_->start(requests[i]));
    if (r) outcomes[i] = *r;
  });
  std::optional<VerificationId> winner;
  int cooldown = 0;
  for (const auto& o : outcomes) {
    ASSERT_TRUE(o.has_value()) << "a start failed in the backend";
    if (o->decision.verdict == Send::kStart) {
      EXPECT_FALSE(winner.has_value()) << "two starts inside one cooldown";
      winner = o->verification.id;
    } else {
      EXPECT_EQ(o->decision.verdict, Send::kCooldown);
      EXPECT_EQ(o->decision.retry_after, seconds(30));
      ++cooldown;
    }
  }
  ASSERT_TRUE(winner.has_value());
  EXPECT_EQ(cooldown, kThreads - 1);
  EXPECT_EQ(depth(), 1u);
  auto latest = newest_of(kTenant, {kAlice}, kT0);
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(latest->id, *winner);
}

// The same key claimed by concurrent starts of the same request: one send, the others
// replay it.
TEST_P(ConcurrencyConformance, ConcurrentStartsWithOneIdempotencyKeySendOnce) {
  constexpr int kThreads = 16;
  std::vector<StartRequest> requests;
  for (int i = 0; i < kThreads; ++i) {
    // Different recipients, so that only the key can hold the others back.
    requests.push_back(start_request(kTenant, nth_recipient(i), kT0));
    requests.back().idempotency = core::IdempotencyClaim{"k", "h", kT0 + hours(24)};
  }
  std::vector<std::optional<StartOutcome>> outcomes(kThreads);
  race(kThreads, [&](int i, boost::asio::io_context& io) {
    auto r = run_blocking(io, store_->start(requests[i]));
    if (r) outcomes[i] = *r;
  });
  std::optional<VerificationId> winner;
  for (const auto& o : outcomes) {
    ASSERT_TRUE(o.has_value()) << "a start failed in the backend";
    if (o->decision.verdict == Send::kStart) {
      EXPECT_FALSE(winner.has_value()) << "two starts under one key";
      winner = o->verification.id;
    }
  }
  ASSERT_TRUE(winner.has_value());
  for (const auto& o : outcomes) {
    if (o->decision.verdict == Send::kStart) continue;
    EXPECT_EQ(o->decision.verdict, Send::kReplay);
    EXPECT_EQ(o->verification.id, *winner);
  }
  EXPECT_EQ(depth(), 1u);
}

TEST_P(ConcurrencyConformance, ConcurrentWorkersNeverShareAJob) {
  constexpr int kJobs = 30;
  constexpr int kWorkers = 8;
  for (int i = 0; i < kJobs; ++i) {
    started(kTenant, RecipientHash("q" + std::to_string(i) + std::string(60, '0')), kT0);
  }
  std::vector<std::vector<VerificationId>> taken(kWorkers);
  race(kWorkers, [&](int w, boost::asio::io_context& io) {
    for (int round = 0; round < 5; ++round) {
      auto r = run_blocking(
          io, store_->take_due(TakeRequest{kT0 + seconds(1), 3, kT0 + seconds(60), {}}));
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

TEST_P(ConcurrencyConformance, ConcurrentStartsUnderACounterStartExactlyItsLimit) {
  constexpr int kThreads = 32;
  constexpr long long kLimit = 10;
  const std::vector<CounterSpec> cap = {{"daily:acme:email", kLimit, hours(24)}};
  std::vector<StartRequest> requests;
  for (int i = 0; i < kThreads; ++i) requests.push_back(counted_start(nth_recipient(i), kT0, cap));
  std::vector<std::optional<StartOutcome>> outcomes(kThreads);
  race(kThreads, [&](int i, boost::asio::io_context& io) {
    auto r = run_blocking(io, store_->start(requests[i]));
    if (r) outcomes[i] = *r;
  });
  int started_count = 0;
  for (const auto& o : outcomes) {
    ASSERT_TRUE(o.has_value()) << "a start failed in the backend";
    if (o->decision.verdict == Send::kStart) {
      ++started_count;
    } else {
      EXPECT_EQ(o->decision.verdict, Send::kCounterLimit);
      EXPECT_EQ(o->decision.counter_index, 0u);
    }
  }
  EXPECT_EQ(started_count, kLimit);
  EXPECT_EQ(depth(), static_cast<std::size_t>(kLimit));
  // The counter holds exactly the limit.
  const std::vector<CounterSpec> one_more = {{"daily:acme:email", kLimit + 1, hours(24)}};
  EXPECT_EQ(
      start(counted_start(nth_recipient(kThreads), kT0 + seconds(1), one_more)).decision.verdict,
      Send::kStart);
  EXPECT_EQ(start(counted_start(nth_recipient(kThreads + 1), kT0 + seconds(1), one_more))
                .decision.verdict,
            Send::kCounterLimit);
}

TEST_P(ConcurrencyConformance, ConcurrentTakersNeverGetMoreThanTheBucketHeld) {
  constexpr int kThreads = 32;
  constexpr int kBurst = 5;
  std::vector<std::optional<TokenOutcome>> outcomes(kThreads);
  race(kThreads, [&](int i, boost::asio::io_context& io) {
    auto r = run_blocking(io, store_->take_token(core::TokenSpec{"send:acme", 1, kBurst}, kT0));
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
  EXPECT_FALSE(take_token("send:acme", 1, kBurst, kT0).allowed);
}

// The send bucket taken inside start holds under concurrency as take_token's does.
TEST_P(ConcurrencyConformance, ConcurrentStartsNeverTakeMoreThanTheSendBucketHeld) {
  constexpr int kThreads = 32;
  constexpr int kBurst = 5;
  std::vector<StartRequest> requests;
  for (int i = 0; i < kThreads; ++i) {
    requests.push_back(start_request(kTenant, nth_recipient(i), kT0));
    requests.back().rate = core::TokenSpec{"send:acme", 1, kBurst};
  }
  std::vector<std::optional<StartOutcome>> outcomes(kThreads);
  race(kThreads, [&](int i, boost::asio::io_context& io) {
    auto r = run_blocking(io, store_->start(requests[i]));
    if (r) outcomes[i] = *r;
  });
  int started_count = 0;
  for (const auto& o : outcomes) {
    ASSERT_TRUE(o.has_value()) << "a start failed in the backend";
    if (o->decision.verdict == Send::kStart) {
      ++started_count;
    } else {
      EXPECT_EQ(o->decision.verdict, Send::kRateLimited);
      EXPECT_EQ(o->decision.retry_after, seconds(1));
    }
  }
  EXPECT_EQ(started_count, kBurst);
  EXPECT_EQ(depth(), static_cast<std::size_t>(kBurst));
}

}  // namespace
}  // namespace otpd::store::testing
