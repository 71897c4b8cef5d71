// Routing and the cross-cutting parts of every request: ids, auth, rate, metrics, logs.
#include "api/router.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse_query.hpp>
#include <chrono>
#include <cstdio>

#include "api/request_id.hpp"
#include "core/crypto.hpp"
#include "core/time_format.hpp"
#include "obs/log.hpp"

namespace otpd::api {

namespace {

constexpr std::string_view kOtpPrefix = "/v1/otp/";

Response text(int status, std::string body, std::string type) {
  Response r;
  r.status = status;
  r.set_header("Content-Type", std::move(type));
  r.body = std::move(body);
  return r;
}

Response method_not_allowed(std::string allow) {
  Problem p = Problem::of(Errc::kMethodNotAllowed, "this route does not accept that method");
  p.allow = std::move(allow);
  return problem_response(p);
}

bool allows(const Request& request, std::string_view method) {
  return request.method == method || (method == "GET" && request.method == "HEAD");
}

// Splits "/path?query" into its parts.
std::pair<std::string_view, std::string_view> split_target(std::string_view target) {
  const auto q = target.find('?');
  // An empty but non-null query: Boost.URL 1.81's parse_query runs strlen on a null view.
  if (q == std::string_view::npos) return {target, target.substr(target.size())};
  return {target.substr(0, q), target.substr(q + 1)};
}

// The `email` parameter as API Gateway hands it over: percent-escapes decoded, '+' kept.
std::string email_parameter(std::string_view query) {
  auto params = boost::urls::parse_query(query);
  if (!params) return {};
  std::string email;
  for (auto param : *params) {
    if (param.key == "email") {
      boost::urls::encoding_opts literal_plus;
      literal_plus.space_as_plus = false;
      email = param.value.decode(literal_plus);
    }
  }
  return email;
}

void finish(Response& response, const Request& request) {
  response.set_header(std::string(kRequestIdHeader),
                      request_id_for(request.header(kRequestIdHeader)));
  if (request.method == "HEAD") response.body.clear();
}

bool is_operational(std::string_view route) {
  return route == "/healthz" || route == "/readyz" || route == "/metrics";
}

}  // namespace

// What the access log and the metrics say about a request.
struct Router::Route {
  std::string_view name = "unmatched";
  std::string tenant;
};

Task<std::optional<Problem>> take_key_token(store::RateLimitStore& limits, const Tenant& tenant,
                                            std::string key, core::TimePoint now) {
  const double rate = tenant.policy.requests_per_second_per_key;
  if (rate <= 0) co_return std::nullopt;
  core::TokenSpec bucket{"key:" + tenant.name() + ":" + key, rate, std::max(1.0, rate)};
  auto token = co_await limits.take_token(std::move(bucket), now);
  if (!token) {
    co_return Problem::of(Errc::kUnavailable, "the store is unavailable; try again shortly",
                          core::Seconds(1));
  }
  if (!token->allowed) {
    co_return Problem::of(Errc::kRateLimited, "this API key's request rate is exceeded",
                          token->retry_after);
  }
  co_return std::nullopt;
}

bool Operations::handles(std::string_view path) const { return is_operational(path); }

Task<Response> Operations::handle(const Request& request, std::string_view path) {
  if (!allows(request, "GET")) co_return method_not_allowed("GET, HEAD");
  if (path == "/healthz") co_return text(200, "{\"status\":\"ok\"}", "application/json");
  if (path == "/readyz") {
    auto ping = co_await store_.ping();
    if (!ping) {
      co_return problem_response(Errc::kUnavailable, "the store is not reachable",
                                 core::Seconds(1));
    }
    co_return text(200, "{\"status\":\"ready\"}", "application/json");
  }
  co_return text(200, metrics_.render(), "text/plain; version=0.0.4; charset=utf-8");
}

Router::Router(const config::Config& config, const TenantDirectory& tenants, OtpService& service,
               store::RateLimitStore& limits, store::StoreMaintenance& maintenance,
               obs::Metrics& metrics, const core::TimeSource& clock, RouterOptions options)
    : config_(config),
      tenants_(tenants),
      limits_(limits),
      metrics_(metrics),
      clock_(clock),
      options_(std::move(options)),
      operations_(maintenance, metrics),
      v1_(service, clock),
      compat_(service, config.compat.ttl_seconds),
      twilio_(config.twilio, tenants, service, limits, clock, auth_throttle_) {
  metrics_.describe("otpd_http_requests_total", "counter", "HTTP requests by route and status");
  metrics_.describe("otpd_http_request_duration_seconds", "histogram",
                    "Time to answer a request, by route");
}

const Tenant* Router::authenticate(const Request& request, std::string& key_hash) const {
  key_hash = "-";
  if (tenants_.protected_mode()) return tenants_.find("default");
  auto header = request.header("Authorization");
  if (!header) return nullptr;
  std::string_view value = *header;
  if (value.size() < 8 || !iequals(value.substr(0, 7), "Bearer ")) return nullptr;
  std::string_view key = value.substr(7);
  while (!key.empty() && key.front() == ' ') key.remove_prefix(1);
  while (!key.empty() && key.back() == ' ') key.remove_suffix(1);
  if (key.empty() || key.size() > 512) return nullptr;
  // A lookup by SHA-256 of the key: the map's timing reveals nothing usable about keys.
  key_hash = core::hex_encode(core::sha256(key));
  return tenants_.by_key_hash(key_hash);
}

Task<Response> Router::handle(Request request) {
  const auto started = std::chrono::steady_clock::now();
  Route route;
  Response response;
  try {
    response = co_await dispatch(request, route);
  } catch (const std::exception& e) {
    obs::error("unhandled exception", {{"route", route.name}, {"what", e.what()}});
    response = problem_response(Errc::kInternal, "an unexpected error occurred");
  }
  finish(response, request);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  char status[4];
  std::snprintf(status, sizeof status, "%d", response.status);
  metrics_.add("otpd_http_requests_total", {{"route", route.name}, {"status", status}});
  metrics_.observe("otpd_http_request_duration_seconds", {{"route", route.name}}, seconds);
  // Health checks and scrapes come every few seconds and say nothing: debug only.
  const obs::Level level = obs::access_log_level(route.name);
  if (obs::log_enabled(level)) {
    const obs::LogField fields[] = {{"method", request.method},
                                    {"route", route.name},
                                    {"status", response.status},
                                    {"us", static_cast<long long>(seconds * 1e6)},
                                    {"tenant", route.tenant},
                                    {"request_id", *response.header(kRequestIdHeader)},
                                    // resend_cooldown and send_limit are both 429: say which.
                                    {"code", response.problem_code}};
    const std::size_t n = response.problem_code.empty() ? std::size(fields) - 1 : std::size(fields);
    obs::log_fields(level, "request", std::span<const obs::LogField>(fields, n));
  }
  co_return response;
}

Response Router::move_test_clock(const Request& request) {
  boost::system::error_code ec;
  auto body = boost::json::parse(request.body, ec);
  const boost::json::value* seconds =
      !ec && body.is_object() ? body.as_object().if_contains("advance_seconds") : nullptr;
  const double advance = seconds && seconds->is_number() ? seconds->to_number<double>() : -1;
  // The offset only grows, and ten years is far beyond any TTL or window worth testing.
  if (!(advance >= 0 && advance <= 10.0 * 365 * 24 * 3600)) {
    return problem_response(Errc::kInvalidRequest,
                            "advance_seconds must be a number from 0 to 315360000");
  }
  options_.test_clock->advance(core::Millis(static_cast<long long>(advance * 1000)));
  boost::json::object o;
  o["now"] = core::format_rfc3339(options_.test_clock->now());
  return text(200, boost::json::serialize(o), "application/json");
}

Task<Response> Router::dispatch(const Request& request, Route& route) {
  const auto [path, query] = split_target(request.target);

  if (options_.serve_operations && operations_.handles(path)) {
    route.name = path == "/healthz" ? "/healthz" : path == "/readyz" ? "/readyz" : "/metrics";
    co_return co_await operations_.handle(request, path);
  }
  if (path == "/v1/openapi.json") {
    route.name = "/v1/openapi.json";
    if (!allows(request, "GET")) co_return method_not_allowed("GET, HEAD");
    co_return text(200, options_.openapi_json, "application/json");
  }
  if (options_.test_clock && path == "/_test/clock") {
    route.name = "/_test/clock";
    if (request.method != "POST") co_return method_not_allowed("POST");
    co_return move_test_clock(request);
  }
  if (config_.twilio.enabled && TwilioApi::handles(path)) {
    TwilioRoute twilio_route;
    Response response = co_await twilio_.handle(request, path, query, twilio_route);
    route.name = twilio_route.name;
    route.tenant = std::move(twilio_route.tenant);
    co_return response;
  }
  if (config_.compat.enabled && path == config_.compat.path) {
    route.name = "compat";
    const Tenant* tenant = tenants_.find(config_.compat.tenant);
    if (tenant == nullptr) co_return problem_response(Errc::kInternal, "compat tenant missing");
    route.tenant = tenant->name();
    if (request.method == "GET") co_return co_await compat_.send(*tenant, email_parameter(query));
    if (request.method == "POST") co_return co_await compat_.verify(*tenant, request);
    co_return method_not_allowed("GET, POST");
  }
  co_return co_await dispatch_otp(request, path, route);
}

Task<Response> Router::dispatch_otp(const Request& request, std::string_view path, Route& route) {
  const bool is_send = path == "/v1/otp/send";
  const bool is_verify = path == "/v1/otp/verify";
  std::string_view id;
  bool is_cancel = false;
  if (!is_send && !is_verify && path.starts_with(kOtpPrefix)) {
    id = path.substr(kOtpPrefix.size());
    if (id.ends_with("/cancel")) {
      id.remove_suffix(7);
      is_cancel = true;
    }
    if (id.find('/') != std::string_view::npos) id = {};
  }
  if (!is_send && !is_verify && id.empty()) {
    co_return problem_response(Errc::kNotFound, "no such route");
  }
  route.name = is_send     ? "/v1/otp/send"
               : is_verify ? "/v1/otp/verify"
               : is_cancel ? "/v1/otp/{id}/cancel"
                           : "/v1/otp/{id}";
  const std::string_view wanted = (is_send || is_verify || is_cancel) ? "POST" : "GET";
  if (!allows(request, wanted))
    co_return method_not_allowed(wanted == "GET" ? "GET, HEAD" : "POST");

  std::string key_hash;
  const Tenant* tenant = authenticate(request, key_hash);
  if (!tenant) {
    core::Seconds retry_after{0};
    if (!auth_throttle_.allow_failure(request.remote_address, std::chrono::steady_clock::now(),
                                      retry_after)) {
      co_return problem_response(Errc::kRateLimited,
                                 "too many failed authentications from this address", retry_after);
    }
    Response r = problem_response(Errc::kUnauthorized, "a valid API key is required");
    r.set_header("WWW-Authenticate", "Bearer");
    co_return r;
  }
  route.tenant = tenant->name();

  // Keyless (protected mode) requests share one bucket per tenant.
  if (auto refused = co_await take_key_token(limits_, *tenant, key_hash, clock_.now())) {
    co_return problem_response(*refused);
  }

  if (is_send) co_return co_await v1_.send(*tenant, request);
  if (is_verify) co_return co_await v1_.verify(*tenant, request);
  if (is_cancel) co_return co_await v1_.cancel(*tenant, std::string(id));
  co_return co_await v1_.status(*tenant, std::string(id));
}

Task<Response> OperationsRouter::handle(Request request) {
  const auto [path, query] = split_target(request.target);
  Response response = operations_.handles(path)
                          ? co_await operations_.handle(request, path)
                          : problem_response(Errc::kNotFound, "no such route");
  finish(response, request);
  co_return response;
}

}  // namespace otpd::api
