// The compatibility presenter: the service's outcomes in the original service's words.
#include "api/compat_api.hpp"

#include <boost/json/parse.hpp>
#include <cmath>

namespace otpd::api {

namespace json = boost::json;

namespace {

constexpr std::size_t kOriginalCodeLength = 6;

Response text(int status, std::string body) {
  Response r;
  r.status = status;
  r.set_header("Content-Type", "text/plain; charset=utf-8");
  r.body = std::move(body);
  return r;
}

Response too_many_requests(const Problem& p) {
  Response r = text(429, "too many requests");
  r.set_header("Retry-After", std::to_string(std::max<long long>(1, p.retry_after.count())));
  return r;
}

bool is_limit(Errc code) {
  return code == Errc::kSendLimit || code == Errc::kTooManyFailures || code == Errc::kRateLimited ||
         code == Errc::kDailyCap || code == Errc::kPrefixRateLimited ||
         code == Errc::kResendCooldown;
}

// The original stored the code as a number: a JSON number (123456, or 123456.0 as some
// clients write integers) or a string. A number loses its leading zeros, so it is padded
// back to 6 digits. nullopt for anything else.
std::optional<std::string> read_otp(const json::value& otp) {
  if (otp.is_string()) return std::string(otp.as_string());
  long long n = -1;
  if (otp.is_int64()) {
    n = otp.as_int64();
  } else if (otp.is_uint64() && otp.as_uint64() <= 9'999'999'999ULL) {
    n = static_cast<long long>(otp.as_uint64());
  } else if (otp.is_double()) {
    const double d = otp.as_double();
    if (std::isfinite(d) && d >= 0 && d < 1e10 && std::floor(d) == d) n = static_cast<long long>(d);
  }
  if (n < 0) return std::nullopt;
  std::string code = std::to_string(n);
  if (code.size() < kOriginalCodeLength) code.insert(0, kOriginalCodeLength - code.size(), '0');
  return code;
}

}  // namespace

Task<Response> CompatApi::send(const Tenant& tenant, std::string email) {
  SendCommand command;
  command.to = std::move(email);
  command.original_rules = true;
  command.ttl_seconds = ttl_seconds_;
  // The original mailed the code; a tenant without an email channel uses its default.
  command.channel = tenant.has_channel(core::ChannelKind::kEmail)
                        ? core::ChannelKind::kEmail
                        : tenant.policy.default_channel.value_or(core::ChannelKind::kEmail);
  auto outcome = co_await service_.send(tenant, std::move(command));
  if (outcome.ok()) co_return text(200, "otp send successfully");
  const Problem& p = outcome.problem();
  // The original answered 409 while any unexpired code was pending.
  if (p.code == Errc::kResendCooldown) co_return text(409, "current otp not expired");
  if (is_limit(p.code)) co_return too_many_requests(p);
  if (p.code == Errc::kUnavailable) co_return text(503, "service unavailable");
  if (p.code == Errc::kInvalidRequest && !p.errors.empty() && p.errors.front().field == "channel") {
    co_return text(503, "email channel not configured");
  }
  co_return text(http_status(p.code) >= 500 ? 500 : 400, "invalid email");
}

Task<Response> CompatApi::verify(const Tenant& tenant, const Request& request) {
  boost::system::error_code ec;
  auto value = json::parse(request.body, ec);
  if (ec || !value.is_object()) co_return text(400, "invalid request");
  const json::object& body = value.as_object();
  const json::value* email = body.if_contains("email");
  if (email == nullptr || !email->is_string()) co_return text(400, "invalid request");
  // No code, or null, or a value of another type matched nothing in the original: after its
  // lookup (404 when nothing is there) it answered "invalid otp".
  const json::value* otp = body.if_contains("otp");

  VerifyCommand command;
  command.to = std::string(email->as_string());
  command.code = otp ? read_otp(*otp) : std::nullopt;
  command.original_rules = true;
  auto outcome = co_await service_.verify(tenant, std::move(command));
  if (outcome.ok()) co_return text(200, "otp verified successfully");
  const Problem& p = outcome.problem();
  switch (p.code) {
    case Errc::kExpired:
      co_return text(401, "otp expired");
    case Errc::kNotFound:
      co_return text(404, "invalid otp");
    case Errc::kInvalidCode:
    case Errc::kMaxAttempts:
      co_return text(403, "invalid otp");
    case Errc::kUnavailable:
      co_return text(503, "service unavailable");
    case Errc::kInvalidRequest:
      // A code of the wrong shape is as wrong as any other; a bad address is a bad request.
      if (!p.errors.empty() && p.errors.front().field == "code") co_return text(403, "invalid otp");
      co_return text(400, "invalid request");
    default:
      if (is_limit(p.code)) co_return too_many_requests(p);
      co_return text(400, "invalid request");
  }
}

}  // namespace otpd::api
