// Every outcome otpd refuses a request with, as one protocol-neutral enum: core decides
// them, the API's presenters (v1, compat, Twilio) turn each into their own wire form.
#pragma once

#include <boost/system/error_code.hpp>
#include <string_view>
#include <type_traits>

namespace otpd {

enum class Errc {
  kInvalidRequest = 1,    // malformed or out-of-range input (fields say which)
  kUnauthorized,          // missing or unknown credentials
  kForbiddenDestination,  // a phone number outside the tenant's allow list or in its deny list
  kNotFound,              // nothing pending: unknown id, another tenant's, approved, canceled
  kMethodNotAllowed,
  kRequestTimeout,
  kIdempotencyConflict,  // the Idempotency-Key was used with another body
  kAlreadyApproved,      // cancel of an approved verification
  kNotPending,           // cancel of an expired, locked or canceled verification
  kExpired,              // past expires_at: a new send is needed
  kPayloadTooLarge,
  kUnsupportedMediaType,
  kInvalidCode,        // wrong code, attempts remain
  kMaxAttempts,        // wrong code and no attempt left (or already locked)
  kResendCooldown,     // a new send within the cooldown of the recipient's pending code
  kSendLimit,          // the recipient's sends per window are used up
  kTooManyFailures,    // the recipient's failure budget is spent
  kRateLimited,        // the tenant's send bucket or the key's request rate
  kDailyCap,           // the tenant's daily spending cap for the channel
  kPrefixRateLimited,  // SMS velocity per country prefix
  kHeadersTooLarge,
  kInternal,        // a broken invariant; logged
  kNotImplemented,  // understood but not done (a transfer coding other than chunked)
  kUnavailable,     // the store (or the delivery queue) cannot take the request now
};

// The machine-readable name of the problem (`code` member of problem+json).
std::string_view code_name(Errc e);

const boost::system::error_category& errc_category();
inline boost::system::error_code make_error_code(Errc e) {
  return {static_cast<int>(e), errc_category()};
}

}  // namespace otpd

template <>
struct boost::system::is_error_code_enum<otpd::Errc> : std::true_type {};
