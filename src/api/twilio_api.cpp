// The Twilio-compatible presenter: routing under /v2, Basic auth, form parameters into the
// service's commands, its outcomes as Twilio's resources and errors.
#include "api/twilio_api.hpp"

#include <algorithm>
#include <array>
#include <boost/algorithm/string/case_conv.hpp>
#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>

#include "api/router.hpp"
#include "api/twilio_errors.hpp"
#include "api/twilio_form.hpp"

namespace otpd::api {

namespace json = boost::json;

namespace {

constexpr std::string_view kPrefix = "/v2";
constexpr int kDefaultPageSize = 50;
constexpr int kMaxPageSize = 1000;

// Every `Channel` value Twilio's API knows; the ones a tenant maps are served, the others
// are "disabled" (60223), as on a Twilio Service where the channel is turned off.
constexpr std::array<std::string_view, 7> kKnownChannels{"sms", "email", "whatsapp", "call",
                                                         "sna", "auto",  "rbm"};

// Create parameters otpd cannot honour and will not silently drop: each changes what the
// person receives or what a check must match.
struct Refused {
  std::string_view name;
  std::string_view why;
};
constexpr std::array<Refused, 8> kRefusedCreateParameters{{
    {"CustomCode", "custom codes are not supported: otpd generates every code"},
    {"Amount", "PSD2 (Amount and Payee) is not supported"},
    {"Payee", "PSD2 (Amount and Payee) is not supported"},
    {"CustomMessage", "custom messages are not supported: the tenant's templates are used"},
    {"TemplateSid", "Verify templates are not supported: the tenant's templates are used"},
    {"TemplateCustomSubstitutions",
     "Verify templates are not supported: the tenant's templates are used"},
    {"SendDigits", "voice calls are not supported"},
    {"EnableSnaClientToken", "Silent Network Auth is not supported"},
}};

// Twilio resources otpd does not implement, by the path segment that names them.
struct Unsupported {
  std::string_view segment;
  std::string_view what;
};
constexpr std::array<Unsupported, 5> kUnsupportedServiceResources{{
    {"Entities", "Verify Push and TOTP (Entities, Factors, Challenges) are not supported by otpd"},
    {"AccessTokens", "Access Tokens (Verify Push and the Verify SDKs) are not supported by otpd"},
    {"MessagingConfigurations",
     "Messaging Configurations are not supported by otpd: the tenant's sms channel sends"},
    {"RateLimits",
     "Service Rate Limits are not supported by otpd: the tenant's limits in otpd's config apply"},
    {"Webhooks", "Verify webhooks are not supported by otpd"},
}};
constexpr std::array<Unsupported, 4> kUnsupportedTopResources{{
    {"Forms", "Verify Forms (Verify Push) are not supported by otpd"},
    {"Attempts", "Verification Attempts are not supported by otpd"},
    {"SafeList", "The Safe List is not supported by otpd"},
    {"Templates", "Verify templates are not supported by otpd: the tenant's templates are used"},
}};

Response json_response(int status, const json::object& body) {
  Response r;
  r.status = status;
  r.set_header("Content-Type", "application/json");
  r.body = json::serialize(body);
  return r;
}

Response invalid_parameter(std::string_view name, std::string_view why) {
  return twilio_error_response(400, twilio_code::kInvalidParameter,
                               "Invalid parameter `" + std::string(name) + "`: " + std::string(why),
                               core::Seconds(0), code_name(Errc::kInvalidRequest));
}

Response not_found(std::string_view resource) {
  return twilio_error_response(404, twilio_code::kNotFound,
                               "The requested resource " + std::string(resource) + " was not found",
                               core::Seconds(0), code_name(Errc::kNotFound));
}

Response not_implemented(std::string_view what) {
  return twilio_error_response(501, twilio_code::kNotImplemented, std::string(what));
}

Response method_not_allowed(std::string allow) {
  Response r = twilio_error_response(405, twilio_code::kMethodNotAllowed, "Method not allowed",
                                     core::Seconds(0), code_name(Errc::kMethodNotAllowed));
  r.set_header("Allow", std::move(allow));
  return r;
}

bool is_get(const Request& request) { return request.method == "GET" || request.method == "HEAD"; }

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> segments;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    const auto slash = path.find('/');
    segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  return segments;
}

// A host as the Host header may carry it ("verify.example.com", "127.0.0.1:8080", "[::1]:80"):
// anything else is not echoed into URLs.
bool plausible_host(std::string_view host) {
  return !host.empty() && host.size() <= 255 && std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == ':' || c == '[' || c == ']';
  });
}

std::optional<int> parse_non_negative(std::string_view text) {
  if (text.empty() || text.size() > 9) return std::nullopt;
  int value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  return value;
}

}  // namespace

TwilioApi::TwilioApi(const config::TwilioConfig& config, const TenantDirectory& tenants,
                     OtpService& service, store::RateLimitStore& limits,
                     const core::TimeSource& clock, AuthThrottle& auth_throttle)
    : config_(config),
      tenants_(tenants),
      service_(service),
      limits_(limits),
      clock_(clock),
      auth_throttle_(auth_throttle),
      credentials_(config),
      started_(clock.now()) {}

bool TwilioApi::handles(std::string_view path) {
  return path == kPrefix || path.starts_with("/v2/");
}

TwilioContext TwilioApi::context_of(const Request& request) const {
  if (!config_.public_url.empty()) return {config_.account_sid, config_.public_url};
  std::string_view host = request.header("Host").value_or("localhost");
  if (!plausible_host(host)) host = "localhost";
  // A TLS proxy in front of otpd says so; URLs then carry the scheme the client used.
  const auto proto = request.header("X-Forwarded-Proto");
  const bool https = proto && iequals(*proto, "https");
  return {config_.account_sid, (https ? "https://" : "http://") + std::string(host)};
}

Response TwilioApi::unauthorized(const Request& request) {
  core::Seconds retry_after{0};
  if (!auth_throttle_.allow_failure(request.remote_address, std::chrono::steady_clock::now(),
                                    retry_after)) {
    return twilio_error_response(429, twilio_code::kTooManyRequests,
                                 "Too many failed authentications from this address", retry_after,
                                 code_name(Errc::kRateLimited));
  }
  Response r = twilio_error_response(401, twilio_code::kAuthenticate, "Authenticate",
                                     core::Seconds(0), code_name(Errc::kUnauthorized));
  r.set_header("WWW-Authenticate", "Basic realm=\"Twilio API\"");
  return r;
}

Task<Response> TwilioApi::handle(const Request& request, std::string_view path,
                                 std::string_view query, TwilioRoute& route) {
  const auto credential = credentials_.authenticate(request);
  if (!credential) co_return unauthorized(request);

  const std::vector<std::string_view> s = split_path(path.substr(kPrefix.size()));
  if (s.empty()) co_return not_found(path);

  if (s[0] != "Services") {
    for (const auto& u : kUnsupportedTopResources) {
      if (s[0] == u.segment) {
        route.name = "/v2/{unsupported}";
        co_return not_implemented(u.what);
      }
    }
    co_return not_found(path.substr(kPrefix.size()));
  }
  const TwilioContext context = context_of(request);
  if (s.size() == 1) {
    route.name = "/v2/Services";
    if (is_get(request)) co_return list_services(query, context);
    if (request.method == "POST") {
      co_return not_implemented(
          "Creating Verify Services is not supported by otpd: a Service is a tenant with "
          "twilio_service_sid in otpd's config");
    }
    co_return method_not_allowed("GET, HEAD, POST");
  }

  const Tenant* tenant = tenants_.by_service_sid(s[1]);
  const std::string resource = "/Services/" + std::string(s[1]);
  if (tenant == nullptr) co_return not_found(resource);
  route.tenant = tenant->name();

  if (auto refused =
          co_await take_key_token(limits_, *tenant, "twilio:" + *credential, clock_.now())) {
    co_return twilio_problem_response(*refused, resource);
  }

  if (s.size() == 2) {
    route.name = "/v2/Services/{Sid}";
    if (is_get(request)) co_return json_response(200, service_resource(*tenant, context, started_));
    if (request.method == "POST" || request.method == "DELETE") {
      co_return not_implemented(
          "Updating or deleting Verify Services is not supported by otpd: a Service is a tenant "
          "in otpd's config");
    }
    co_return method_not_allowed("GET, HEAD");
  }
  if (s[2] == "Verifications" && s.size() == 3) {
    route.name = "/v2/Services/{Sid}/Verifications";
    if (request.method != "POST") co_return method_not_allowed("POST");
    co_return co_await create_verification(*tenant, request, context);
  }
  if (s[2] == "Verifications" && s.size() == 4) {
    route.name = "/v2/Services/{Sid}/Verifications/{Sid}";
    if (is_get(request)) co_return co_await fetch_verification(*tenant, std::string(s[3]), context);
    if (request.method == "POST") {
      co_return co_await update_verification(*tenant, std::string(s[3]), request, context);
    }
    co_return method_not_allowed("GET, HEAD, POST");
  }
  if (s[2] == "VerificationCheck" && s.size() == 3) {
    route.name = "/v2/Services/{Sid}/VerificationCheck";
    if (request.method != "POST") co_return method_not_allowed("POST");
    co_return co_await check_verification(*tenant, request, context);
  }
  for (const auto& u : kUnsupportedServiceResources) {
    if (s[2] == u.segment) {
      route.name = "/v2/Services/{Sid}/{unsupported}";
      co_return not_implemented(u.what);
    }
  }
  co_return not_found(path.substr(kPrefix.size()));
}

Task<Response> TwilioApi::create_verification(const Tenant& tenant, const Request& request,
                                              const TwilioContext& context) {
  const auto form = FormParams::parse(request.body);
  if (!form) co_return invalid_parameter("Body", "is not a valid form-encoded body");
  for (const auto& refused : kRefusedCreateParameters) {
    auto value = form->get(refused.name);
    // Twilio's SDKs send EnableSnaClientToken=false when asked to; only true asks for SNA.
    if (value && !(refused.name == "EnableSnaClientToken" && !iequals(*value, "true"))) {
      co_return invalid_parameter(refused.name, refused.why);
    }
  }
  auto to = form->get("To");
  if (!to || to->empty()) co_return invalid_parameter("To", "is required");
  auto channel = form->get("Channel");
  if (!channel || channel->empty()) co_return invalid_parameter("Channel", "is required");
  const std::string name = boost::algorithm::to_lower_copy(*channel);
  const auto mapped = tenant.twilio_channels.find(name);
  if (mapped == tenant.twilio_channels.end()) {
    if (std::find(kKnownChannels.begin(), kKnownChannels.end(), name) == kKnownChannels.end()) {
      co_return invalid_parameter("Channel", "must be one of sms, email, whatsapp, call");
    }
    co_return twilio_error_response(
        400, twilio_code::kChannelDisabled,
        "Delivery channel disabled: " + boost::algorithm::to_upper_copy(name), core::Seconds(0),
        code_name(Errc::kInvalidRequest));
  }

  SendCommand command;
  command.to = std::move(*to);
  command.channel = mapped->second;
  command.id_style = core::IdStyle::kTwilio;
  if (auto locale = form->get("Locale"); locale && !locale->empty()) command.locale = *locale;

  auto outcome = co_await service_.send(tenant, std::move(command));
  const std::string resource = "/Services/" + tenant.twilio_service_sid + "/Verifications";
  if (!outcome.ok()) co_return twilio_problem_response(outcome.problem(), resource);
  const core::Verification& v = outcome.value().verification;
  co_return json_response(201, verification_resource(v, tenant, context, "pending", v.created_at));
}

Task<Response> TwilioApi::check_verification(const Tenant& tenant, const Request& request,
                                             const TwilioContext& context) {
  const auto form = FormParams::parse(request.body);
  if (!form) co_return invalid_parameter("Body", "is not a valid form-encoded body");
  auto code = form->get("Code");
  if (!code || code->empty()) co_return invalid_parameter("Code", "is required");
  auto to = form->get("To");
  auto sid = form->get("VerificationSid");
  if (to && sid)
    co_return invalid_parameter("VerificationSid", "give either To or VerificationSid");
  if (!to && !sid) co_return invalid_parameter("To", "To or VerificationSid is required");
  for (std::string_view psd2 : {"Amount", "Payee"}) {
    if (form->get(psd2))
      co_return invalid_parameter(psd2, "PSD2 (Amount and Payee) is not supported");
  }

  VerifyCommand command;
  command.code = std::move(*code);
  if (to) command.to = std::move(*to);
  if (sid) command.id = std::move(*sid);
  Checked checked = co_await service_.check(tenant, std::move(command));
  const auto now = clock_.now();
  if (checked.outcome.ok()) {
    const core::Verification& v = checked.outcome.value();
    co_return json_response(
        200, check_resource(v, tenant, context, "approved", v.approved_at.value_or(now)));
  }
  const Problem& p = checked.outcome.problem();
  // Twilio answers a wrong code with the verification, still pending (200), and so does otpd
  // for a code of the wrong length or alphabet once the verification is found (no attempt is
  // counted for it). The check that spends the last attempt shows max_attempts_reached;
  // checks after it are 60202.
  if (checked.verification) {
    const core::Verification& v = *checked.verification;
    const bool malformed =
        p.code == Errc::kInvalidRequest && !p.errors.empty() && p.errors.front().field == "code";
    if (p.code == Errc::kInvalidCode || malformed) {
      co_return json_response(200, check_resource(v, tenant, context, "pending", now));
    }
    if (p.code == Errc::kMaxAttempts && checked.counted) {
      co_return json_response(200, check_resource(v, tenant, context, "max_attempts_reached", now));
    }
  }
  co_return twilio_problem_response(
      p, "/Services/" + tenant.twilio_service_sid + "/VerificationCheck");
}

Task<Response> TwilioApi::fetch_verification(const Tenant& tenant, std::string sid,
                                             const TwilioContext& context) {
  const std::string resource = "/Services/" + tenant.twilio_service_sid + "/Verifications/" + sid;
  auto outcome = co_await service_.status(tenant, std::move(sid));
  if (!outcome.ok()) co_return twilio_problem_response(outcome.problem(), resource);
  const core::Verification& v = outcome.value();
  // Twilio deletes a verification once it is approved, canceled, expired or locked.
  if (v.effective_status(clock_.now()) != core::Status::kPending) co_return not_found(resource);
  co_return json_response(200, verification_resource(v, tenant, context, "pending", v.created_at));
}

Task<Response> TwilioApi::update_verification(const Tenant& tenant, std::string sid,
                                              const Request& request,
                                              const TwilioContext& context) {
  const std::string resource = "/Services/" + tenant.twilio_service_sid + "/Verifications/" + sid;
  const auto form = FormParams::parse(request.body);
  if (!form) co_return invalid_parameter("Body", "is not a valid form-encoded body");
  const auto status = form->get("Status");
  if (!status || (*status != "canceled" && *status != "approved")) {
    co_return invalid_parameter("Status", "must be canceled or approved");
  }
  // Two statements, not a conditional with a co_await in each arm: GCC 12 miscompiles that.
  const bool cancel = *status == "canceled";
  Outcome<core::Verification> outcome = Problem::of(Errc::kInternal, "");
  if (cancel) {
    outcome = co_await service_.cancel(tenant, std::move(sid));
  } else {
    outcome = co_await service_.approve(tenant, std::move(sid));
  }
  if (!outcome.ok()) co_return twilio_problem_response(outcome.problem(), resource);
  co_return json_response(
      200, verification_resource(outcome.value(), tenant, context, *status, clock_.now()));
}

Response TwilioApi::list_services(std::string_view query, const TwilioContext& context) const {
  const auto form = FormParams::parse(query);
  if (!form) return invalid_parameter("PageSize", "the query string is not valid form encoding");
  int page_size = kDefaultPageSize;
  if (auto text = form->get("PageSize")) {
    auto value = parse_non_negative(*text);
    if (!value || *value < 1 || *value > kMaxPageSize) {
      return invalid_parameter("PageSize", "must be an integer from 1 to 1000");
    }
    page_size = *value;
  }
  int page = 0;
  if (auto text = form->get("Page")) {
    auto value = parse_non_negative(*text);
    if (!value) return invalid_parameter("Page", "must be a non-negative integer");
    page = *value;
  }
  const auto services = tenants_.twilio_services();
  json::array items;
  const std::size_t first = static_cast<std::size_t>(page) * static_cast<std::size_t>(page_size);
  for (std::size_t i = first; i < services.size() && i < first + page_size; ++i) {
    items.push_back(service_resource(*services[i], context, started_));
  }
  const std::string base = context.base_url + "/v2/Services?PageSize=" + std::to_string(page_size);
  auto page_url = [&](int n) { return base + "&Page=" + std::to_string(n); };
  json::object meta;
  meta["page"] = page;
  meta["page_size"] = page_size;
  meta["first_page_url"] = page_url(0);
  meta["previous_page_url"] = page > 0 ? json::value(page_url(page - 1)) : json::value(nullptr);
  meta["url"] = page_url(page);
  meta["next_page_url"] =
      first + page_size < services.size() ? json::value(page_url(page + 1)) : json::value(nullptr);
  meta["key"] = "services";
  json::object body;
  body["services"] = std::move(items);
  body["meta"] = std::move(meta);
  return json_response(200, body);
}

}  // namespace otpd::api
