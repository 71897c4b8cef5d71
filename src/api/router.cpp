// Routing and the cross-cutting parts of every request: ids, auth, metrics, access log.
#include "api/router.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse_query.hpp>
#include <chrono>

#include "api/problem.hpp"
#include "core/crypto.hpp"
#include "core/time_format.hpp"
#include "obs/log.hpp"

namespace otpd::api {

namespace {

constexpr std::string_view kOtpPrefix = "/v1/otp/";

bool sane_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (unsigned char c : id) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

Response text(int status, std::string body, std::string type) {
  Response r;
  r.status = status;
  r.set_header("Content-Type", std::move(type));
  r.body = std::move(body);
  return r;
}

Response method_not_allowed(std::string allow) {
  Response r = problem(405, "method_not_allowed", "this route does not accept that method");
  r.set_header("Allow", std::move(allow));
  return r;
}

// Splits "/path?query" into its parts.
std::pair<std::string_view, std::string_view> split_target(std::string_view target) {
  const auto q = target.find('?');
  // An empty but non-null query: Boost.URL 1.81's parse_query runs strlen on a null view.
  if (q == std::string_view::npos) return {target, target.substr(target.size())};
  return {target.substr(0, q), target.substr(q + 1)};
}

bool valid_id_segment(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') return false;
  }
  return true;
}

// Operational routes shared by both routers; nullopt when `path` is not one of them.
std::optional<Response> operations(const Request& request, std::string_view path,
                                   store::Store& store, obs::Metrics& metrics, std::string& route) {
  if (path != "/healthz" && path != "/readyz" && path != "/metrics") return std::nullopt;
  route = path;
  if (request.method != "GET" && request.method != "HEAD") return method_not_allowed("GET, HEAD");
  if (path == "/healthz") return text(200, "{\"status\":\"ok\"}", "application/json");
  if (path == "/readyz") {
    auto ping = store.ping();
    if (!ping) {
      return problem(503, "unavailable", "the store is not reachable", {}, 1);
    }
    return text(200, "{\"status\":\"ready\"}", "application/json");
  }
  return text(200, metrics.render(), "text/plain; version=0.0.4; charset=utf-8");
}

void finish(Response& response, const Request& request, core::RandomSource& rng) {
  auto incoming = request.header("X-Request-Id");
  std::string id = incoming && sane_request_id(*incoming)
                       ? std::string(*incoming)
                       : core::hex_encode(core::random_bytes(rng, 12));
  response.set_header("X-Request-Id", id);
  if (request.method == "HEAD") response.body.clear();
}

}  // namespace

Router::Router(const config::Config& config, OtpService& service, store::Store& store,
               obs::Metrics& metrics, const core::TimeSource& clock, core::RandomSource& rng,
               RouterOptions options)
    : config_(config),
      service_(service),
      store_(store),
      metrics_(metrics),
      clock_(clock),
      rng_(rng),
      options_(std::move(options)) {
  for (const auto& [name, tenant] : config_.tenants) {
    for (const auto& hash : tenant.api_key_hashes) tenants_by_key_hash_[hash] = &tenant;
  }
  metrics_.describe("otpd_http_requests_total", "counter", "HTTP requests by route and status");
  metrics_.describe("otpd_http_request_duration_seconds", "histogram",
                    "Time to answer a request, by route");
  metrics_.describe("otpd_sends_total", "counter", "Send requests by channel and outcome");
  metrics_.describe("otpd_verifications_total", "counter", "Code checks by outcome");
}

const config::TenantConfig* Router::authenticate(const Request& request,
                                                 std::string& key_hash) const {
  key_hash = "-";
  if (config_.protected_mode()) {
    auto it = config_.tenants.find("default");
    return it == config_.tenants.end() ? nullptr : &it->second;
  }
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
  auto it = tenants_by_key_hash_.find(key_hash);
  return it == tenants_by_key_hash_.end() ? nullptr : it->second;
}

Response Router::handle(Request request) {
  const auto started = std::chrono::steady_clock::now();
  std::string route = "unmatched";
  std::string tenant;
  Response response;
  try {
    response = dispatch(request, route, tenant);
  } catch (const std::exception& e) {
    obs::error("unhandled exception", {{"route", route}, {"what", e.what()}});
    response = problem(500, "internal", "an unexpected error occurred");
  }
  finish(response, request, rng_);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  metrics_.add("otpd_http_requests_total",
               {{"route", route}, {"status", std::to_string(response.status)}});
  metrics_.observe("otpd_http_request_duration_seconds", {{"route", route}}, seconds);
  if (obs::log_enabled(obs::Level::kInfo)) {
    obs::info("request", {{"method", request.method},
                          {"route", route},
                          {"status", response.status},
                          {"us", static_cast<long long>(seconds * 1e6)},
                          {"tenant", tenant},
                          {"request_id", *response.header("X-Request-Id")}});
  }
  return response;
}

Response Router::dispatch(const Request& request, std::string& route, std::string& tenant_name) {
  const auto [path, query] = split_target(request.target);

  if (options_.serve_operations) {
    if (auto r = operations(request, path, store_, metrics_, route)) return std::move(*r);
  }
  if (path == "/v1/openapi.json") {
    route = path;
    if (request.method != "GET" && request.method != "HEAD") return method_not_allowed("GET, HEAD");
    return text(200, options_.openapi_json, "application/json");
  }
  if (options_.test_clock && path == "/_test/clock") {
    route = path;
    if (request.method != "POST") return method_not_allowed("POST");
    boost::system::error_code ec;
    auto body = boost::json::parse(request.body, ec);
    const boost::json::value* seconds =
        !ec && body.is_object() ? body.as_object().if_contains("advance_seconds") : nullptr;
    const double advance = seconds && seconds->is_number() ? seconds->to_number<double>() : -1;
    // The offset only grows, and ten years is far beyond any TTL or window worth testing.
    if (!(advance >= 0 && advance <= 10.0 * 365 * 24 * 3600)) {
      return problem(400, "invalid_request",
                     "advance_seconds must be a number from 0 to 315360000");
    }
    options_.test_clock->advance(core::Millis(static_cast<long long>(advance * 1000)));
    boost::json::object o;
    o["now"] = core::format_rfc3339(options_.test_clock->now());
    return text(200, boost::json::serialize(o), "application/json");
  }

  if (config_.compat.enabled && path == config_.compat.path) {
    route = "compat";
    auto it = config_.tenants.find(config_.compat.tenant);
    if (it == config_.tenants.end()) return problem(500, "internal", "compat tenant missing");
    tenant_name = it->first;
    if (request.method == "GET") {
      auto params = boost::urls::parse_query(query);
      std::string email;
      if (params) {
        for (auto param : *params) {
          // API Gateway decodes percent-escapes but keeps '+' literally.
          if (param.key == "email") {
            boost::urls::encoding_opts literal_plus;
            literal_plus.space_as_plus = false;
            email = param.value.decode(literal_plus);
          }
        }
      }
      return service_.compat_send(it->second, email);
    }
    if (request.method == "POST") return service_.compat_verify(it->second, request);
    return method_not_allowed("GET, POST");
  }

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
  if (!is_send && !is_verify && id.empty()) return problem(404, "not_found", "no such route");

  route = is_send     ? "/v1/otp/send"
          : is_verify ? "/v1/otp/verify"
          : is_cancel ? "/v1/otp/{id}/cancel"
                      : "/v1/otp/{id}";
  const std::string_view wanted = (is_send || is_verify || is_cancel) ? "POST" : "GET";
  if (request.method != wanted && !(wanted == "GET" && request.method == "HEAD")) {
    return method_not_allowed(wanted == "GET" ? "GET, HEAD" : "POST");
  }

  std::string key_hash;
  const config::TenantConfig* tenant = authenticate(request, key_hash);
  if (!tenant) {
    Response r = problem(401, "unauthorized", "a valid API key is required");
    r.set_header("WWW-Authenticate", "Bearer");
    return r;
  }
  tenant_name = tenant->name;

  if (const double rate = tenant->policy.requests_per_second_per_key; rate > 0) {
    store::TokenRequest bucket;
    // Keyless (protected mode) requests share one bucket per tenant.
    bucket.key = "key:" + tenant->name + ":" + key_hash;
    bucket.rate_per_second = rate;
    bucket.burst = std::max(1.0, rate);
    bucket.now = clock_.now();
    auto token = store_.take_token(bucket);
    if (!token) {
      return problem(503, "unavailable", "the store is unavailable; try again shortly", {}, 1);
    }
    if (!token->allowed) {
      const long long retry = std::max<long long>(1, token->retry_after.count());
      return problem(429, "rate_limited", "this API key's request rate is exceeded",
                     {{"retry_after", retry}}, retry);
    }
  }

  if (is_send) return service_.send(*tenant, request);
  if (is_verify) return service_.verify(*tenant, request);
  if (!valid_id_segment(id)) return problem(404, "not_found", "no such verification");
  const std::string id_string(id);
  return is_cancel ? service_.cancel(*tenant, id_string) : service_.status(*tenant, id_string);
}

Response OperationsRouter::handle(Request request) {
  const auto [path, query] = split_target(request.target);
  std::string route;
  auto r = operations(request, path, store_, metrics_, route);
  Response response = r ? std::move(*r) : problem(404, "not_found", "no such route");
  finish(response, request, rng_);
  return response;
}

}  // namespace otpd::api
