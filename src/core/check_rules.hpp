// The rules of checking a code and of changing a verification's state by hand (cancel,
// and the approval some compatible APIs allow): the verify order of the API reference (docs/api.md)
// — nothing found, expired, locked, then the comparison — attempts, the recipient's failure budget
// and single use, as pure functions of what a store read.
#pragma once

#include <optional>

#include "core/limits.hpp"
#include "core/verification.hpp"

namespace otpd::core {

// How the typed code compares with a verification's stored hash. Worked out by the caller
// (the code is hashed bound to the verification's id, under every secret) outside any
// store lock, between the snapshot read and the commit.
enum class CodeMatch {
  kRight,
  kWrong,
  kMalformed,  // cannot be one of its codes at all (length, alphabet): nothing is counted
};

struct CheckSnapshot {
  std::optional<Verification> verification;
  WindowCount failures;  // wrong checks against its recipient in (now - 1 h, now]
};

enum class CheckVerdict {
  kApproved,         // right, pending and unexpired: now approved, single use
  kInvalid,          // wrong, attempts remain
  kLocked,           // wrong and that was the last attempt, or already locked
  kExpired,          // past expires_at (pending or locked): no attempt counted
  kNotFound,         // none, approved or canceled (`after` holds it when there is one)
  kTooManyFailures,  // the recipient's failure budget is spent: no attempt counted
  kMalformed,        // the code cannot be one of this verification's: nothing counted
};

struct CheckDecision {
  CheckVerdict verdict = CheckVerdict::kNotFound;
  CodeMatch match = CodeMatch::kMalformed;  // the typed code against the one decided on
  Seconds retry_after{0};                   // kTooManyFailures
  bool write = false;                       // `after` differs from the stored state: commit it
  bool record_failure = false;              // add a wrong check to the recipient's failure history
  std::optional<Verification> after;        // the state after the check, when one was found
};

// `failures_per_hour` 0 means no budget (failures are still recorded, so turning the
// budget on takes effect with history).
// Takes the snapshot by value: the decision's `after` is made from it, so a caller done with
// its snapshot moves it in instead of having it copied.
CheckDecision decide_check(CheckSnapshot snapshot, CodeMatch match, int failures_per_hour,
                           TimePoint now);

// State changes asked for directly rather than by a code.
enum class Transition { kCancel, kApprove };

enum class TransitionVerdict {
  kDone,             // changed (`after` holds the new state)
  kAlreadyApproved,  // nothing changed
  kNotPending,       // expired, locked or canceled: nothing changed
  kNotFound,
};

struct TransitionDecision {
  TransitionVerdict verdict = TransitionVerdict::kNotFound;
  std::optional<Verification> after;  // the state after (unchanged unless kDone)
};

TransitionDecision decide_transition(Transition transition, const std::optional<Verification>& v,
                                     TimePoint now);

}  // namespace otpd::core
