// Deciding a check and a hand-made state change, once for every store.
#include "core/check_rules.hpp"

namespace otpd::core {

CheckDecision decide_check(CheckSnapshot snapshot, CodeMatch match, int failures_per_hour,
                           TimePoint now) {
  CheckDecision out;
  if (!snapshot.verification) return out;
  out.match = match;
  Verification v = std::move(*snapshot.verification);
  auto answer = [&](CheckVerdict verdict) {
    out.verdict = verdict;
    out.after = std::move(v);
    return std::move(out);
  };

  // Nothing pending: an approved code is single use, a canceled one is dead.
  if (v.status == Status::kApproved || v.status == Status::kCanceled) {
    return answer(CheckVerdict::kNotFound);
  }
  if (match == CodeMatch::kMalformed) return answer(CheckVerdict::kMalformed);
  // Expired before locked: a locked code past its expiry reads as expired.
  if (now >= v.expires_at || v.status == Status::kExpired) return answer(CheckVerdict::kExpired);
  if (v.status == Status::kMaxAttemptsReached) return answer(CheckVerdict::kLocked);

  if (failures_per_hour > 0 && snapshot.failures.count >= failures_per_hour) {
    out.retry_after = retry_after(snapshot.failures.oldest + kFailureBudgetWindow - now);
    return answer(CheckVerdict::kTooManyFailures);
  }

  out.write = true;
  if (match == CodeMatch::kRight) {
    v.status = Status::kApproved;
    v.approved_at = now;
    return answer(CheckVerdict::kApproved);
  }
  v.attempts += 1;
  if (v.attempts >= v.max_attempts) v.status = Status::kMaxAttemptsReached;
  out.record_failure = true;
  return answer(v.status == Status::kMaxAttemptsReached ? CheckVerdict::kLocked
                                                        : CheckVerdict::kInvalid);
}

TransitionDecision decide_transition(Transition transition, const std::optional<Verification>& v,
                                     TimePoint now) {
  TransitionDecision out;
  if (!v) return out;
  out.after = v;
  if (v->status == Status::kApproved) {
    out.verdict = TransitionVerdict::kAlreadyApproved;
    return out;
  }
  if (v->effective_status(now) != Status::kPending) {
    out.verdict = TransitionVerdict::kNotPending;
    return out;
  }
  out.verdict = TransitionVerdict::kDone;
  if (transition == Transition::kCancel) {
    out.after->status = Status::kCanceled;
  } else {
    out.after->status = Status::kApproved;
    out.after->approved_at = now;
  }
  return out;
}

}  // namespace otpd::core
