// The service behind every face of the API (v1, the compatibility facade, a Twilio-style
// API): send, verify, status, cancel and approve for one tenant, returned as typed
// outcomes. It validates input, generates and seals the code, asks the store's atomic
// operations and hands the delivery over; it never builds an HTTP answer.
#pragma once

#include <optional>
#include <string>

#include "api/problem.hpp"
#include "api/tenants.hpp"
#include "core/clock.hpp"
#include "core/keyring.hpp"
#include "core/random.hpp"
#include "core/send_rules.hpp"
#include "core/task.hpp"
#include "delivery/dispatcher.hpp"
#include "obs/metrics.hpp"
#include "store/store.hpp"

namespace otpd::api {

struct SendCommand {
  std::string to;  // as the client gave it; delivered exactly so
  std::optional<core::ChannelKind> channel;
  std::string locale;
  std::optional<int> code_length;
  std::optional<int> ttl_seconds;
  std::string metadata_json;  // a JSON object, or "" for none
  // Idempotency-Key and the hash of the request it came with (canonical JSON).
  std::optional<std::string> idempotency_key;
  std::string request_hash;
  // The original service's rules, for the compatibility facade: 6 digits whatever the
  // tenant's alphabet, and no new code while the recipient's newest one is pending.
  bool original_rules = false;
  // The form of the new verification's id (the Twilio-compatible API hands out VE... SIDs).
  core::IdStyle id_style = core::IdStyle::kOtpd;
  // Errors the presenter found in the request's shape (wrong JSON types, unknown fields):
  // reported together with the service's own, in one 400.
  FieldErrors errors;
};

struct Started {
  core::Verification verification;  // as stored (or as first answered, when replayed)
  bool replayed = false;
  std::optional<core::VerificationId> superseded;
};

struct VerifyCommand {
  std::optional<std::string> id;
  std::optional<std::string> to;  // the recipient's newest verification, whatever its state
  // Absent only under the original rules, where a missing code was a code that matches
  // nothing (decided after the lookup, counting no attempt).
  std::optional<std::string> code;
  // The original service's order: it compared the code before looking at the expiry, so
  // a wrong code for an expired verification is a wrong code (invalid_code), and only the
  // right one hears that it expired.
  bool original_rules = false;
  FieldErrors errors;  // as in SendCommand
};

// A check's outcome together with the verification it was decided on, for a presenter that
// answers a wrong code with the verification itself (Twilio's 200 "pending").
struct Checked {
  Outcome<core::Verification> outcome;
  std::optional<core::Verification> verification;  // as it is after the check, when found
  bool counted = false;  // this check changed it (an attempt counted, or approved)
};

class OtpService {
 public:
  static constexpr int kMinTtl = 30;
  static constexpr int kMaxTtl = 3600;
  static constexpr std::size_t kMaxMetadataBytes = 1024;
  static constexpr std::size_t kMaxIdempotencyKey = 128;
  static constexpr core::Seconds kIdempotencyKeep{24 * 3600};

  // Everything passed by reference must outlive the service. `dispatcher` may be null
  // (tools, tests): jobs then wait in the store's queue for a worker.
  OtpService(store::VerificationStore& store, const core::Keyring& keyring,
             const core::TimeSource& clock, core::RandomSource& rng, obs::Metrics& metrics,
             delivery::Dispatcher* dispatcher);

  Task<Outcome<Started>> send(const Tenant& tenant, SendCommand command);
  // The approved verification, or why not (invalid_code with attempts_remaining, expired,
  // max_attempts, not_found with the verification's status when it was approved or
  // canceled, too_many_failures, invalid_request for a malformed code).
  Task<Outcome<core::Verification>> verify(const Tenant& tenant, VerifyCommand command);
  // The same check, with the verification decided on.
  Task<Checked> check(const Tenant& tenant, VerifyCommand command);
  Task<Outcome<core::Verification>> status(const Tenant& tenant, std::string id);
  Task<Outcome<core::Verification>> cancel(const Tenant& tenant, std::string id);
  // Marks a pending verification approved without a code (what Twilio's API allows).
  Task<Outcome<core::Verification>> approve(const Tenant& tenant, std::string id);

 private:
  Task<Outcome<core::Verification>> transition(const Tenant& tenant, std::string id,
                                               core::Transition transition);

  store::VerificationStore& store_;
  const core::Keyring& keyring_;
  const core::TimeSource& clock_;
  core::RandomSource& rng_;
  obs::Metrics& metrics_;
  delivery::Dispatcher* dispatcher_;
};

// A verification id as a client may give it: 1-64 characters of [A-Za-z0-9_-].
bool plausible_verification_id(std::string_view id);

}  // namespace otpd::api
