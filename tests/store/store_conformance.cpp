// The conformance suite's fixture and request builders, shared by every family.
#include "store_conformance.hpp"

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <utility>

#include "core/placement.hpp"
#include "core/random.hpp"
#include "core/verification.hpp"

namespace otpd::core {

void PrintTo(SendVerdict verdict, std::ostream* os) {
  switch (verdict) {
    case SendVerdict::kStart:
      *os << "kStart";
      return;
    case SendVerdict::kReplay:
      *os << "kReplay";
      return;
    case SendVerdict::kIdempotencyConflict:
      *os << "kIdempotencyConflict";
      return;
    case SendVerdict::kRateLimited:
      *os << "kRateLimited";
      return;
    case SendVerdict::kCooldown:
      *os << "kCooldown";
      return;
    case SendVerdict::kSendLimit:
      *os << "kSendLimit";
      return;
    case SendVerdict::kTooManyFailures:
      *os << "kTooManyFailures";
      return;
    case SendVerdict::kCounterLimit:
      *os << "kCounterLimit";
      return;
  }
  *os << "SendVerdict(" << static_cast<int>(verdict) << ")";
}

void PrintTo(CheckVerdict verdict, std::ostream* os) {
  switch (verdict) {
    case CheckVerdict::kApproved:
      *os << "kApproved";
      return;
    case CheckVerdict::kInvalid:
      *os << "kInvalid";
      return;
    case CheckVerdict::kLocked:
      *os << "kLocked";
      return;
    case CheckVerdict::kExpired:
      *os << "kExpired";
      return;
    case CheckVerdict::kNotFound:
      *os << "kNotFound";
      return;
    case CheckVerdict::kTooManyFailures:
      *os << "kTooManyFailures";
      return;
    case CheckVerdict::kMalformed:
      *os << "kMalformed";
      return;
  }
  *os << "CheckVerdict(" << static_cast<int>(verdict) << ")";
}

void PrintTo(TransitionVerdict verdict, std::ostream* os) {
  switch (verdict) {
    case TransitionVerdict::kDone:
      *os << "kDone";
      return;
    case TransitionVerdict::kAlreadyApproved:
      *os << "kAlreadyApproved";
      return;
    case TransitionVerdict::kNotPending:
      *os << "kNotPending";
      return;
    case TransitionVerdict::kNotFound:
      *os << "kNotFound";
      return;
  }
  *os << "TransitionVerdict(" << static_cast<int>(verdict) << ")";
}

}  // namespace otpd::core

namespace otpd::store::testing {

using core::TimePoint;
using core::Verification;
using std::chrono::seconds;

namespace {

// Every other id is of the form the service makes (time, the recipient's placement byte,
// random bits), which a store may use to find it; the rest are opaque, which a store must
// find all the same.
core::VerificationId new_id(const core::TenantId& tenant, const core::RecipientHash& recipient,
                            TimePoint now) {
  static std::atomic<int> next{0};
  const int n = ++next;
  if (n % 2 == 0) {
    thread_local core::OpenSslRandom rng;
    return core::new_verification_id(rng, now, core::placement_of(tenant, recipient));
  }
  return core::VerificationId("vrf_" + std::to_string(n) + "_9f2c4e");
}

}  // namespace

std::vector<BackendFactory> persistent_only(const BackendFactory& factory) {
  if (!factory.persistent) return {};
  return {factory};
}

core::RecipientHash nth_recipient(int i) {
  return core::RecipientHash("c" + std::to_string(i) + std::string(60, 'c'));
}

std::string hash_of(const std::string& code) { return "hmac:" + code; }

CodeMatcher matcher_of(std::vector<std::string> candidate_hashes) {
  return [candidates = std::move(candidate_hashes)](const Verification& v) {
    return std::find(candidates.begin(), candidates.end(), v.code_hash) != candidates.end()
               ? core::CodeMatch::kRight
               : core::CodeMatch::kWrong;
  };
}

StartRequest start_request(const core::TenantId& tenant, const core::RecipientHash& recipient,
                           TimePoint now, const StartOptions& o) {
  StartRequest r;
  Verification& v = r.verification;
  v.tenant = tenant;
  v.id = new_id(tenant, recipient, now);
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
  r.history = {recipient};
  r.history.insert(r.history.end(), o.older_hashes.begin(), o.older_hashes.end());
  r.rules.resend_cooldown = seconds(o.cooldown_seconds);
  r.rules.max_sends_per_window = o.max_sends;
  r.rules.send_window = seconds(o.window_seconds);
  r.rules.failures_per_hour = o.failures_per_hour;
  r.sealed_delivery = std::string("sealed\0payload:", 15) + v.id.str();
  return r;
}

StartRequest counted_start(const core::RecipientHash& recipient, TimePoint now,
                           std::vector<core::CounterSpec> counters, const StartOptions& options) {
  StartRequest r = start_request(kTenant, recipient, now, options);
  r.counters = std::move(counters);
  return r;
}

CheckRequest check_request(const Verification& v, const std::string& code, TimePoint now,
                           int failure_budget) {
  CheckRequest r;
  r.tenant = v.tenant;
  r.id = v.id;
  r.match = matcher_of({hash_of(code)});
  r.now = now;
  r.failures_per_hour = failure_budget;
  return r;
}

CheckRequest check_by_recipient(const core::TenantId& tenant,
                                std::vector<core::RecipientHash> recipients,
                                const std::string& code, TimePoint now, int failure_budget) {
  CheckRequest r;
  r.tenant = tenant;
  r.recipients = std::move(recipients);
  r.match = matcher_of({hash_of(code)});
  r.now = now;
  r.failures_per_hour = failure_budget;
  return r;
}

Verification after_of(const core::CheckDecision& decision) {
  if (!decision.after) throw std::runtime_error("the check found no verification");
  return *decision.after;
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
  ASSERT_TRUE(GetParam().persistent) << GetParam().name << " does not persist";
  store_.reset();
  store_ = backend_->open();
  ASSERT_NE(store_, nullptr);
}

StartOutcome StoreConformance::start(StartRequest request) {
  return run(store_->start(std::move(request))).value();
}

Verification StoreConformance::started(StartRequest request) {
  StartOutcome out = start(std::move(request));
  EXPECT_EQ(out.decision.verdict, Send::kStart);
  return out.verification;
}

Verification StoreConformance::started(const core::TenantId& tenant,
                                       const core::RecipientHash& recipient, TimePoint now,
                                       const StartOptions& options) {
  return started(start_request(tenant, recipient, now, options));
}

core::CheckDecision StoreConformance::check(CheckRequest request) {
  return run(store_->check(std::move(request))).value();
}

core::CheckDecision StoreConformance::check(const Verification& v, const std::string& code,
                                            TimePoint now, int failure_budget) {
  return check(check_request(v, code, now, failure_budget));
}

std::optional<Verification> StoreConformance::newest_of(const core::TenantId& tenant,
                                                        std::vector<core::RecipientHash> recipients,
                                                        TimePoint now) {
  CheckRequest r;
  r.tenant = tenant;
  r.recipients = std::move(recipients);
  r.match = [](const Verification&) { return core::CodeMatch::kMalformed; };
  r.now = now;
  return check(std::move(r)).after;
}

core::TransitionDecision StoreConformance::transition(const core::TenantId& tenant,
                                                      const core::VerificationId& id,
                                                      core::Transition transition, TimePoint now) {
  return run(store_->transition(TransitionRequest{tenant, id, transition, now})).value();
}

Transit StoreConformance::cancel(const core::TenantId& tenant, const core::VerificationId& id,
                                 TimePoint now) {
  return transition(tenant, id, core::Transition::kCancel, now).verdict;
}

Transit StoreConformance::approve(const core::TenantId& tenant, const core::VerificationId& id,
                                  TimePoint now) {
  return transition(tenant, id, core::Transition::kApprove, now).verdict;
}

std::optional<Verification> StoreConformance::get(const Verification& v) {
  return run(store_->get(v.tenant, v.id)).value();
}

Verification StoreConformance::stored(const Verification& v) {
  auto found = get(v);
  if (!found) throw std::runtime_error("verification " + v.id.str() + " not found");
  return *found;
}

std::vector<DeliveryJob> StoreConformance::take(TimePoint now, std::size_t max) {
  return run(store_->take_due(TakeRequest{now, max, now + seconds(30), {}})).value();
}

void StoreConformance::finish(std::vector<FinishedDelivery> done) {
  run(store_->finish(std::move(done))).value();
}

std::size_t StoreConformance::depth() { return run(store_->depth()).value(); }

TokenOutcome StoreConformance::take_token(const std::string& key, double rate, double burst,
                                          TimePoint now) {
  return run(store_->take_token(core::TokenSpec{key, rate, burst}, now)).value();
}

std::size_t StoreConformance::sweep(TimePoint now, core::Seconds counter_horizon) {
  return run(store_->sweep(now, counter_horizon)).value();
}

}  // namespace otpd::store::testing
