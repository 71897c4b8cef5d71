// Names of the domain outcomes, and their Boost.System category.
#include "core/errc.hpp"

#include <array>
#include <string>
#include <utility>

namespace otpd {
namespace {

constexpr std::array<std::pair<Errc, std::string_view>, 24> kNames{{
    {Errc::kInvalidRequest, "invalid_request"},
    {Errc::kUnauthorized, "unauthorized"},
    {Errc::kForbiddenDestination, "destination_not_allowed"},
    {Errc::kNotFound, "not_found"},
    {Errc::kMethodNotAllowed, "method_not_allowed"},
    {Errc::kRequestTimeout, "request_timeout"},
    {Errc::kIdempotencyConflict, "idempotency_conflict"},
    {Errc::kAlreadyApproved, "already_approved"},
    {Errc::kNotPending, "not_pending"},
    {Errc::kExpired, "expired"},
    {Errc::kPayloadTooLarge, "payload_too_large"},
    {Errc::kUnsupportedMediaType, "unsupported_media_type"},
    {Errc::kInvalidCode, "invalid_code"},
    {Errc::kMaxAttempts, "max_attempts"},
    {Errc::kResendCooldown, "resend_cooldown"},
    {Errc::kSendLimit, "send_limit"},
    {Errc::kTooManyFailures, "too_many_failures"},
    {Errc::kRateLimited, "rate_limited"},
    {Errc::kDailyCap, "daily_cap"},
    {Errc::kPrefixRateLimited, "prefix_rate_limited"},
    {Errc::kHeadersTooLarge, "headers_too_large"},
    {Errc::kInternal, "internal"},
    {Errc::kNotImplemented, "not_implemented"},
    {Errc::kUnavailable, "unavailable"},
}};

class ErrcCategory final : public boost::system::error_category {
 public:
  constexpr ErrcCategory() noexcept : boost::system::error_category(0x6f747064'65727263ULL) {}
  const char* name() const noexcept override { return "otpd"; }
  std::string message(int ev) const override {
    return std::string(code_name(static_cast<Errc>(ev)));
  }
};

}  // namespace

std::string_view code_name(Errc e) {
  for (const auto& [value, name] : kNames) {
    if (value == e) return name;
  }
  return "internal";
}

const boost::system::error_category& errc_category() {
  static const ErrcCategory category;
  return category;
}

}  // namespace otpd
