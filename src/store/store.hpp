// The store ports: everything otpd persists, as small asynchronous ports split by who uses
// them (verifications for the API, rate limits, the delivery queue for the worker,
// maintenance for start-up and operations). Each operation is atomic, not get/put, and the
// rules are not here: a backend reads a consistent snapshot, asks core (decide_send,
// decide_check, decide_transition, take_token) and commits what core decided. A remote
// backend can do that in two round trips: read the snapshot, then commit it if unchanged.
//
// Contract for every operation: it happens entirely or not at all. A failure of the
// backend itself (unreachable, timed out, overloaded, corrupt) is an error_code of
// store_category(), never an exception; the API answers it with 503 and Retry-After.
// Every operation is safe to call from any thread, concurrently; its task completes on the
// awaiting coroutine's executor. Requests are taken by value: the task owns them.
#pragma once

#include <boost/system/result.hpp>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/check_rules.hpp"
#include "core/send_rules.hpp"
#include "core/task.hpp"
#include "core/token_bucket.hpp"
#include "core/typed_code.hpp"
#include "core/types.hpp"
#include "core/verification.hpp"

namespace otpd::store {

template <typename T>
using Result = boost::system::result<T>;

enum class StoreErrc {
  kUnavailable = 1,  // cannot reach the backend in time, or its queue is full
  kSchemaMissing,    // `otpd store init` has not been run (or is out of date)
  kCorrupt,          // the backend answered something that cannot be decoded
};
const boost::system::error_category& store_category();
boost::system::error_code make_error(StoreErrc e);

// ---- verifications -------------------------------------------------------------------

struct StartRequest {
  // Fully formed by the caller (status pending, attempts 0, delivery queued) except
  // resend_at, which the store sets from the decision. Its `recipient` is the hash under
  // the current secret: the one the new verification is stored under.
  core::Verification verification;
  // The same recipient under every configured secret, current first: the cooldown, the
  // window, the failure budget and supersede see the history under all of them, so a
  // secret rotation resets no limit and never leaves two live codes.
  std::vector<core::RecipientHash> history;
  core::SendRules rules;
  std::optional<core::IdempotencyClaim> idempotency;
  std::optional<core::TokenSpec> rate;      // the tenant's send bucket
  std::vector<core::CounterSpec> counters;  // daily cap, prefix velocity
  // The delivery job, already sealed (recipient and code). It is due at once, unless the
  // caller delivers it itself: then it is leased until `delivery_leased_until`, as if
  // taken now, and becomes due again only if that delivery did not finish by then.
  std::string sealed_delivery;
  std::optional<core::TimePoint> delivery_leased_until;
};

struct StartOutcome {
  core::SendDecision decision;
  // kStart: as stored. kReplay: as the first request was answered.
  core::Verification verification;
  std::optional<core::VerificationId> superseded;  // kStart: the pending one it canceled
};

// Whether the typed code is one of a verification's codes. The store calls it between its
// snapshot read and its commit, never under a lock of its own, and may call it again for
// another verification if its lookup by recipient raced with a new send.
using CodeMatcher = std::function<core::CodeMatch(const core::Verification&)>;

struct CheckRequest {
  core::TenantId tenant;
  // Checks this verification, or when absent the newest (any state) of `recipients`: the
  // same recipient under every secret. Lookup and check are one operation.
  std::optional<core::VerificationId> id;
  std::vector<core::RecipientHash> recipients;
  CodeMatcher match;
  // For a check by id, the typed code already hashed for that id: `match` then answers
  // core::match_typed_code(*typed, v) and hashes nothing, so a backend may compare inside
  // its commit and skip the read before it. Absent for a check by recipient.
  std::optional<core::TypedCodeHashes> typed;
  int failures_per_hour = 0;  // the recipient's failure budget; 0 = off
  core::TimePoint now;
};

struct TransitionRequest {
  core::TenantId tenant;
  core::VerificationId id;
  core::Transition transition = core::Transition::kCancel;
  core::TimePoint now;
};

class VerificationStore {
 public:
  virtual ~VerificationStore() = default;
  // One atomic step: idempotency record, send bucket, cooldown, window, failure budget,
  // counters, supersede (the canceled one's delivery job dropped), and on kStart the
  // verification, its send record, its delivery job and the idempotency record, durable
  // together. A refusal changes nothing.
  virtual Task<Result<StartOutcome>> start(StartRequest request) = 0;
  // Compares, counts the attempt, records a failure and consumes in one atomic step: among
  // concurrent checks with the right code exactly one is approved, and concurrent wrong
  // ones never count more than max_attempts between them.
  virtual Task<Result<core::CheckDecision>> check(CheckRequest request) = 0;
  // One verification of this tenant; nullopt when unknown or another tenant's.
  virtual Task<Result<std::optional<core::Verification>>> get(core::TenantId tenant,
                                                              core::VerificationId id) = 0;
  // Cancel (the delivery job dropped with it) or approve without a code.
  virtual Task<Result<core::TransitionDecision>> transition(TransitionRequest request) = 0;
};

// ---- rate limits ---------------------------------------------------------------------

struct TokenOutcome {
  bool allowed = true;
  core::Seconds retry_after{0};  // when refused: >= 1 s
};

class RateLimitStore {
 public:
  virtual ~RateLimitStore() = default;
  // Takes one token in one atomic step: concurrent takers never get more tokens than the
  // bucket held. An inactive spec allows without touching the store.
  virtual Task<Result<TokenOutcome>> take_token(core::TokenSpec spec, core::TimePoint now) = 0;
};

// ---- the delivery queue --------------------------------------------------------------

struct DeliveryJob {
  core::TenantId tenant;
  core::VerificationId id;
  core::ChannelKind channel = core::ChannelKind::kConsole;
  std::string sealed;  // recipient and code, sealed
  int attempts = 0;    // deliveries tried so far
  core::TimePoint expires_at;
};

struct FinishedDelivery {
  core::TenantId tenant;
  core::VerificationId id;
  core::DeliveryStatus outcome = core::DeliveryStatus::kSent;  // kSent or kFailed
};

struct TakeRequest {
  core::TimePoint now;
  std::size_t max = 64;
  core::TimePoint lease_until;  // each job taken is hidden from other takers until then
  // Tenants whose jobs are not taken this time (those at their share of attempts), so one
  // tenant's backlog never fills a worker.
  std::vector<core::TenantId> skip_tenants;
};

class DeliveryQueue {
 public:
  virtual ~DeliveryQueue() = default;
  // Up to `max` jobs whose next attempt is due, oldest first. Jobs whose code has expired
  // are not handed out: their verification's delivery becomes failed and they are dropped.
  virtual Task<Result<std::vector<DeliveryJob>>> take_due(TakeRequest request) = 0;
  // Final outcomes: each recorded on its verification, its job and sealed payload dropped.
  // May be written together; on failure none, some or all are recorded, and each is
  // idempotent, so the caller may retry them all.
  virtual Task<Result<void>> finish(std::vector<FinishedDelivery> done) = 0;
  // A transient failure: due again at `next_attempt`, this attempt counted.
  virtual Task<Result<void>> retry(core::TenantId tenant, core::VerificationId id,
                                   core::TimePoint next_attempt) = 0;
  virtual Task<Result<std::size_t>> depth() = 0;
};

// ---- maintenance ---------------------------------------------------------------------

class StoreMaintenance {
 public:
  virtual ~StoreMaintenance() = default;
  // Creates or migrates the schema (tables, TTL settings). Idempotent.
  virtual Task<Result<void>> init_schema() = 0;
  // nullopt when the schema is present and current; else what is missing, for a person.
  virtual Task<Result<std::optional<std::string>>> schema_problem() = 0;
  // A cheap round trip, for /readyz.
  virtual Task<Result<void>> ping() = 0;
  // Deletes what a store without native expiry keeps past its time: verifications past
  // delete_after with their send records, lapsed idempotency records, counters whose
  // window has passed, buckets full again, failures older than `counter_horizon`, jobs of
  // expired codes. Returns how many records went. Stores with native TTL return 0.
  virtual Task<Result<std::size_t>> sweep(core::TimePoint now, core::Seconds counter_horizon) = 0;
};

// Every port of one backend, for the code that wires a process together.
class Store : public VerificationStore,
              public RateLimitStore,
              public DeliveryQueue,
              public StoreMaintenance {};

// Forwards every operation to another Store, so a decorator (metering, fault injection, a
// test double) overrides only the calls it is about, as LevelDB's EnvWrapper does.
class StoreWrapper : public Store {
 public:
  explicit StoreWrapper(Store& target) : target_(target) {}
  Store& target() const { return target_; }

  Task<Result<StartOutcome>> start(StartRequest request) override;
  Task<Result<core::CheckDecision>> check(CheckRequest request) override;
  Task<Result<std::optional<core::Verification>>> get(core::TenantId tenant,
                                                      core::VerificationId id) override;
  Task<Result<core::TransitionDecision>> transition(TransitionRequest request) override;
  Task<Result<TokenOutcome>> take_token(core::TokenSpec spec, core::TimePoint now) override;
  Task<Result<std::vector<DeliveryJob>>> take_due(TakeRequest request) override;
  Task<Result<void>> finish(std::vector<FinishedDelivery> done) override;
  Task<Result<void>> retry(core::TenantId tenant, core::VerificationId id,
                           core::TimePoint next_attempt) override;
  Task<Result<std::size_t>> depth() override;
  Task<Result<void>> init_schema() override;
  Task<Result<std::optional<std::string>>> schema_problem() override;
  Task<Result<void>> ping() override;
  Task<Result<std::size_t>> sweep(core::TimePoint now, core::Seconds counter_horizon) override;

 private:
  Store& target_;
};

}  // namespace otpd::store
