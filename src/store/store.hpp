// The Store port: everything otpd persists, as atomic operations rather than get/put, so
// every backend can map each one onto its own atomic primitive (an SQLite transaction, a
// Redis Lua script, a DynamoDB conditional write) and the rules hold across instances.
//
// Contract for every method: it either happens entirely or not at all. A failure of the
// backend itself (unreachable, timed out, corrupt) is returned as an error_code of
// store_category(), never thrown; the API answers it with 503. Implementations are
// thread-safe: any method may be called from any thread concurrently.
#pragma once

#include <boost/system/result.hpp>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

#include "core/types.hpp"
#include "core/verification.hpp"

namespace otpd::store {

template <typename T>
using Result = boost::system::result<T>;

enum class StoreErrc {
  kUnavailable = 1,  // cannot reach or lock the backend in time
  kSchemaMissing,    // `otpd store init` has not been run (or is out of date)
  kCorrupt,          // the backend answered something that cannot be decoded
};
const boost::system::error_category& store_category();
boost::system::error_code make_error(StoreErrc e);

// ---- starting a verification ---------------------------------------------------------

// A count of accepted sends per key in fixed windows (window start = now floored to a
// multiple of `window`, counted from the Unix epoch, so a day is a UTC day). Checked and
// incremented in the same atomic step as the send it counts.
struct SendCounter {
  std::string key;      // namespaced by the caller, e.g. "daily:<tenant>:sms"
  long long limit = 0;  // sends allowed per window; <= 0 means the counter is skipped
  core::Seconds window{86400};
};

struct StartRequest {
  // Fully formed by the caller: status pending, attempts 0; the store fills resend_at.
  core::Verification verification;
  int resend_cooldown_seconds = 30;  // base cooldown; doubles with each send in the window
  int max_sends_per_window = 5;
  int send_window_seconds = 600;
  // The delivery queue entry, already sealed (Keyring::seal); it becomes due at once,
  // unless the caller hands the job to a worker itself (skipping take_due_deliveries): then
  // it is leased until `delivery_leased_until`, as if taken now, and becomes due again only
  // if that worker has not finished it by then (it died).
  std::string sealed_delivery;
  std::optional<core::TimePoint> delivery_leased_until;
  // Further limits on accepted sends (daily cap per channel, velocity per phone prefix).
  // Checked after the cooldown and the per-recipient window; a full one refuses the send
  // with kCounterLimit and changes nothing; otherwise each is incremented with the send.
  std::vector<SendCounter> counters;
};

struct StartOutcome {
  enum class Kind {
    kStarted,      // stored, previous pending one (if any) canceled, delivery queued
    kCooldown,     // the newest verification for this recipient is pending and its resend_at
                   // has not passed
    kSendLimit,    // max_sends_per_window accepted sends already inside the window
    kCounterLimit  // counters[counter_index] is full for its current window
  };
  Kind kind = Kind::kStarted;
  std::size_t counter_index = 0;                   // kCounterLimit
  core::Verification verification;                 // kStarted: as stored
  std::optional<core::VerificationId> superseded;  // kStarted: the one it canceled
  core::Seconds retry_after{0};                    // kCooldown, kSendLimit, kCounterLimit: >= 1 s
};

// ---- token buckets -------------------------------------------------------------------

struct TokenRequest {
  std::string key;             // namespaced by the caller, e.g. "send:<tenant>" or "key:<key hash>"
  double rate_per_second = 0;  // refill rate; > 0
  double burst = 1;            // bucket capacity; a new bucket starts full
  core::TimePoint now;
};

struct TokenOutcome {
  bool allowed = true;
  core::Seconds retry_after{0};  // when refused: until one token is back, >= 1 s
};

// ---- checking a code -----------------------------------------------------------------

// Given the verification found, the hashes of the code typed as that verification expects
// it (its alphabet and length: Keyring::code_hash_candidates of the normalised code), or
// nullopt when the code cannot be one of its codes at all.
using CodeHasher =
    std::function<std::optional<std::vector<std::string>>(const core::Verification&)>;

struct CheckRequest {
  core::TenantId tenant;
  core::VerificationId id;  // the verification checked, unless `recipients` is given
  // When not empty: check the newest verification of the first of these recipients that
  // has one (as find_latest picks it) instead of `id`; lookup and check are one step.
  std::vector<core::RecipientHash> recipients;
  // A match with any is a match. Used when hash_code is empty; otherwise hash_code is
  // asked once the verification is found (so the caller needs no read before the check).
  std::vector<std::string> candidate_hashes;
  CodeHasher hash_code;
  core::TimePoint now;
  // Wrong checks allowed per recipient per hour across all its codes; 0 = no budget.
  int failures_per_recipient_per_hour = 0;
};

struct CheckOutcome {
  enum class Kind {
    kApproved,         // matched while pending and unexpired: now approved, single use
    kInvalid,          // wrong, attempts remain (attempts_remaining >= 1)
    kLocked,           // wrong and that was the last attempt, or already locked
    kExpired,          // pending or locked, but past expires_at: no attempt counted
    kNotFound,         // unknown id, approved or canceled
    kTooManyFailures,  // the recipient's failure budget is spent: no attempt counted
    kMalformed,        // hash_code said the code cannot be one of this verification's
                       // (pending, expired or locked): nothing counted, nothing changed
  };
  Kind kind = Kind::kNotFound;
  core::Verification verification;  // the state after the check (unset for kNotFound)
  core::Seconds retry_after{0};     // kTooManyFailures
};

// ---- cancel --------------------------------------------------------------------------

enum class CancelOutcome { kCanceled, kAlreadyApproved, kNotPending, kNotFound };

// ---- idempotency ---------------------------------------------------------------------

struct IdempotencyReservation {
  enum class Kind {
    kReserved,    // the key was free: the caller runs the request, then completes/releases
    kReplay,      // the same request already succeeded: answer with the stored response
    kConflict,    // the key was used with another request body
    kInProgress,  // the same key is being served by a concurrent request
  };
  Kind kind = Kind::kReserved;
  int status = 0;             // kReplay
  std::string response_body;  // kReplay
};

// ---- delivery queue ------------------------------------------------------------------

struct DeliveryJob {
  core::TenantId tenant;
  core::VerificationId id;
  core::ChannelKind channel = core::ChannelKind::kConsole;
  std::string sealed;  // recipient and code, sealed
  int attempts = 0;    // deliveries tried so far
  core::TimePoint expires_at;
};

// The final outcome of one job, for finish_deliveries.
struct FinishedDelivery {
  core::TenantId tenant;
  core::VerificationId id;
  core::DeliveryStatus outcome = core::DeliveryStatus::kSent;
};

class Store {
 public:
  virtual ~Store() = default;

  // Creates or migrates the schema. Idempotent.
  virtual Result<void> init_schema() = 0;
  // Succeeds when the schema is present and current; else kSchemaMissing with a reason.
  virtual Result<void> check_schema(std::string* what_is_missing) = 0;
  // Cheap round trip for /readyz.
  virtual Result<void> ping() = 0;

  // Applies the cooldown, the per-recipient window and supersede in one atomic step; on
  // kStarted the verification, its send record and its delivery job are durable together.
  virtual Result<StartOutcome> start(const StartRequest& request) = 0;

  // Reads one verification of this tenant; nullopt when unknown or another tenant's.
  virtual Result<std::optional<core::Verification>> get(const core::TenantId& tenant,
                                                        const core::VerificationId& id) = 0;
  // The newest verification (any state) of the first of `recipients` that has one.
  virtual Result<std::optional<core::Verification>> find_latest(
      const core::TenantId& tenant, const std::vector<core::RecipientHash>& recipients) = 0;

  // Compares, counts the attempt and consumes in one atomic step: among concurrent checks
  // with the right code exactly one is approved, and concurrent wrong ones never exceed
  // max_attempts between them.
  virtual Result<CheckOutcome> check(const CheckRequest& request) = 0;

  virtual Result<CancelOutcome> cancel(const core::TenantId& tenant, const core::VerificationId& id,
                                       core::TimePoint now) = 0;

  // Idempotency-Key: reserve before doing the work, then complete with the 2xx response or
  // release after an error so that a retry is evaluated afresh. A reservation that is
  // neither completed nor released (a crash) lapses after `lease`.
  virtual Result<IdempotencyReservation> reserve_idempotency(const core::TenantId& tenant,
                                                             const std::string& key,
                                                             const std::string& request_hash,
                                                             core::TimePoint now,
                                                             core::Millis lease) = 0;
  virtual Result<void> complete_idempotency(const core::TenantId& tenant, const std::string& key,
                                            int status, const std::string& response_body,
                                            core::TimePoint keep_until) = 0;
  virtual Result<void> release_idempotency(const core::TenantId& tenant,
                                           const std::string& key) = 0;

  // Hands out up to `max` jobs whose next attempt is due, hiding each until `lease_until`
  // so that another worker does not take it meanwhile. Jobs whose code has expired are
  // not handed out: they are marked failed and dropped.
  virtual Result<std::vector<DeliveryJob>> take_due_deliveries(core::TimePoint now, std::size_t max,
                                                               core::TimePoint lease_until) = 0;
  // Final outcome (kSent or kFailed): records it on the verification and drops the job
  // with its sealed payload.
  virtual Result<void> finish_delivery(const core::TenantId& tenant, const core::VerificationId& id,
                                       core::DeliveryStatus outcome) = 0;
  // finish_delivery for several jobs, which a backend may write together (one commit for
  // the lot). On failure none, some or all may be recorded; each is idempotent, so the
  // caller may retry them all. The default records them one by one.
  virtual Result<void> finish_deliveries(const std::vector<FinishedDelivery>& done);
  // A transient failure: try again at `next_attempt`, counting this attempt.
  virtual Result<void> retry_delivery(const core::TenantId& tenant, const core::VerificationId& id,
                                      core::TimePoint next_attempt) = 0;
  virtual Result<std::size_t> delivery_queue_depth() = 0;

  // Takes one token from the bucket, refilled continuously at rate_per_second up to burst,
  // in one atomic step: concurrent takers never get more tokens than the bucket held.
  virtual Result<TokenOutcome> take_token(const TokenRequest& request) = 0;

  // Deletes verifications past delete_after with their send records, lapsed idempotency
  // records, send counters whose window has passed, buckets idle long enough to be full
  // again, and failure records older than `counter_horizon` before now. Returns rows
  // deleted. (A send counts in its recipient's window only while its verification is kept:
  // a retention shorter than the window lets sends stop counting early.)
  virtual Result<std::size_t> sweep(core::TimePoint now, core::Seconds counter_horizon) = 0;
};

}  // namespace otpd::store
