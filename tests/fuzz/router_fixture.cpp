// The router targets' world and the response invariants they check (the API reference
// (docs/api.md), and 4): allowed statuses only, no 5xx at all (the in-memory store is always
// healthy), every error as problem+json with a `code`, X-Request-Id on every answer, single use of
// codes, and no API key or server secret anywhere in an answer.
#include "router_fixture.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "api/otp_service.hpp"
#include "api/router.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/code.hpp"
#include "core/crypto.hpp"
#include "core/keyring.hpp"
#include "core/recipient.hpp"
#include "core/run_blocking.hpp"
#include "delivery/payload.hpp"
#include "obs/log.hpp"
#include "obs/metrics.hpp"
#include "store/sqlite/sqlite_store.hpp"

namespace otpd::fuzz {

namespace json = boost::json;

namespace {

constexpr std::string_view kSecret = "fuzz-server-secret-0123456789abcdef";
// 2025-03-01T12:00:00Z: every input starts here.
constexpr long long kStartMs = 1740830400000LL;
constexpr std::uint64_t kSeed = 0x6f7470642d66757aULL;

std::string key_hash(std::string_view key) { return core::hex_encode(core::sha256(key)); }

std::string tenants_toml() {
  return R"toml(secrets = [")toml" + std::string(kSecret) + R"toml("]

[tenants.acme]
api_keys = ["sha256:)toml" +
         key_hash(kAcmeKey) + R"toml("]
default_channel = "webhook"
app_name = "Acme"
webotp_origin = "acme.example"

[tenants.acme.templates.de]
sms = "{{app_name}}: Ihr Code lautet {{code}} (gültig {{ttl_minutes}} Min.)"
email_subject = "Ihr Code für {{app_name}}"

[tenants.acme.channels.webhook]
url = "http://127.0.0.1:9/hook"
secret = "whsec_fuzz_0123456789"

[tenants.acme.channels.email]
smtp = "smtp://127.0.0.1:9?tls=starttls"
from = "Acme <no-reply@acme.test>"

[tenants.beta]
api_keys = ["sha256:)toml" +
         key_hash(kBetaKey) + R"toml("]
alphabet = "alnum"
code_length = 8
ttl_seconds = 120
max_attempts = 3
resend_cooldown_seconds = 10
max_sends_per_window = 3
send_window_seconds = 300
retention_seconds = 60
failures_per_recipient_per_hour = 4
send_rate_per_second = 2
daily_send_cap = { sms = 6, email = 4 }
requests_per_second_per_key = 100
sms_allow_prefixes = ["+1", "+44"]
sms_deny_prefixes = ["+1900"]
sms_sends_per_prefix_per_minute = 3

[tenants.beta.channels.console]

[tenants.beta.channels.sms]
provider = "twilio"
account_sid = "AC0123"
auth_token = "secret"
from = "+15005550006"

[tenants.beta.channels.email]
provider = "ses"
region = "eu-west-1"
from = "Beta <no-reply@beta.test>"

[compat]
enabled = true
tenant = "acme"
path = "/otp"
)toml";
}

std::string protected_toml() {
  return R"toml(secrets = [")toml" + std::string(kSecret) + R"toml("]

[compat]
enabled = true
tenant = "default"
path = "/legacy/otp"
)toml";
}

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

bool sane_request_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (unsigned char c : id) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// A plain search, kept out of libFuzzer's comparison tracing: were it traced (or were it
// std::string::find, whose memcmp libFuzzer intercepts), the fuzzer would learn the API keys
// from this check and could echo them back in a field name.
__attribute__((no_sanitize("coverage"))) bool contains(std::string_view hay,
                                                       std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= hay.size(); ++i) {
    std::size_t j = 0;
    while (j < needle.size() && hay[i + j] == needle[j]) ++j;
    if (j == needle.size()) return true;
  }
  return false;
}

}  // namespace

void DeterministicRandom::fill(std::span<std::uint8_t> out) {
  for (auto& byte : out) {
    state_ += 0x9e3779b97f4a7c15ULL;
    std::uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    byte = static_cast<std::uint8_t>(z ^ (z >> 31));
  }
}

struct Fixture::Impl {
  config::Config tenants = config::parse_config(tenants_toml(), {});
  config::Config protected_mode = config::parse_config(protected_toml(), {});
  core::Keyring keyring{tenants.secrets};
  core::ManualTimeSource clock{core::from_unix_ms(kStartMs)};
  DeterministicRandom rng;
  obs::Metrics metrics;
  // Per input, in construction order (destroyed in reverse).
  std::unique_ptr<core::OffsetTimeSource> test_clock;
  std::unique_ptr<store::SqliteStore> store;
  std::unique_ptr<api::TenantDirectory> directory;
  std::unique_ptr<api::OtpService> service;
  std::unique_ptr<api::Router> router;
  const config::Config* config = &tenants;
};

Fixture& Fixture::get() {
  static Fixture* fixture = new Fixture();  // never destroyed: no exit-time order issues
  return *fixture;
}

Fixture::Fixture() : impl_(std::make_unique<Impl>()) {
  // Error lines still show (an unhandled exception is worth seeing); per-request lines not.
  obs::set_log_level(obs::Level::kError);
}

void Fixture::reset(Deployment deployment) {
  auto& s = *impl_;
  s.router.reset();
  s.service.reset();
  s.directory.reset();
  s.store.reset();
  deployment_ = deployment;
  sent_.clear();
  s.clock.set(core::from_unix_ms(kStartMs));
  s.rng.reseed(kSeed);
  s.config = deployment == Deployment::kTenants ? &s.tenants : &s.protected_mode;

  auto opened = store::SqliteStore::open(":memory:");
  if (!opened) violation("cannot open the in-memory store", {}, nullptr);
  s.store = std::move(*opened);
  if (!run_blocking(s.store->init_schema())) violation("init_schema failed", {}, nullptr);
  s.directory = std::make_unique<api::TenantDirectory>(*s.config);
  s.service =
      std::make_unique<api::OtpService>(*s.store, s.keyring, s.clock, s.rng, s.metrics, nullptr);
  api::RouterOptions options;
  options.openapi_json = R"({"openapi":"3.1.0"})";
  // POST /_test/clock (serve --unsafe-test-clock) is part of the surface too; it moves a
  // clock of its own, so the service's clock stays deterministic.
  s.test_clock = std::make_unique<core::OffsetTimeSource>();
  if (deployment == Deployment::kTenants) options.test_clock = s.test_clock.get();
  s.router = std::make_unique<api::Router>(*s.config, *s.directory, *s.service, *s.store, *s.store,
                                           s.metrics, s.clock, std::move(options));
}

const std::string& Fixture::compat_path() const { return impl_->config->compat.path; }

std::string Fixture::bearer(std::string_view tenant) const {
  if (deployment_ == Deployment::kProtected) return "";
  return "Bearer " + std::string(tenant == "beta" ? kBetaKey : kAcmeKey);
}

void Fixture::advance_clock(core::Seconds by) { impl_->clock.advance(by); }

api::Response Fixture::handle(const api::Request& request) {
  api::Response response = run_blocking(impl_->router->handle(request));
  // OTPD_FUZZ_TRACE=1: one line per request, to see what a reproducer or a seed does.
  static const bool trace = std::getenv("OTPD_FUZZ_TRACE") != nullptr;
  if (trace) {
    std::fprintf(stderr, "fuzz: %s %s %s -> %d %s\n", request.method.c_str(),
                 request.target.c_str(), request.body.substr(0, 120).c_str(), response.status,
                 response.body.substr(0, 160).c_str());
  }
  check(request, response);
  collect_deliveries();
  check_single_use(request, response);
  return response;
}

void Fixture::check(const api::Request& request, const api::Response& response) const {
  const auto fail = [&](std::string_view what) { violation(what, request, &response); };
  const std::string_view path = path_of(request.target);
  const int status = response.status;

  // Every response carries X-Request-Id, echoed when the client sent a usable one.
  const auto request_id = response.header("X-Request-Id");
  if (!request_id || request_id->empty()) fail("no X-Request-Id");
  if (auto sent_id = request.header("X-Request-Id"); sent_id && sane_request_id(*sent_id)) {
    if (*request_id != *sent_id) fail("X-Request-Id not echoed");
  }
  if (request.method == "HEAD" && !response.body.empty()) fail("HEAD answered with a body");

  // Bad input gets a clear 4xx, never a 5xx; the in-memory store never fails, so not even
  // the 503 a broken store would explain.
  if (status >= 500) fail("5xx answer");
  static constexpr int kAllowed[] = {200, 201, 400, 401, 403, 404, 405, 409, 410, 415, 422, 429};
  if (std::find(std::begin(kAllowed), std::end(kAllowed), status) == std::end(kAllowed)) {
    fail("status not in the API reference's list");
  }
  // Every limit's 429 says when to come back (the README's Limits); max_attempts is not a
  // limit that lifts with time ("a new send is needed"), so it has none.
  const auto needs_retry_after = [&] {
    auto retry = response.header("Retry-After");
    if (!retry || !all_digits(*retry) || *retry == "0") fail("429 without a Retry-After");
  };

  for (const auto& [name, value] : response.headers) {
    for (std::string_view secret : {kAcmeKey, kBetaKey, kSecret}) {
      if (contains(name, secret) || contains(value, secret)) fail("a secret in a header");
    }
  }
  for (std::string_view secret : {kAcmeKey, kBetaKey, kSecret}) {
    if (contains(response.body, secret)) fail("a secret in a body");
  }

  const auto type = response.header("Content-Type");
  const bool compat =
      path == compat_path() && (request.method == "GET" || request.method == "POST");
  if (compat) {
    // The original service's plain-text answers.
    static constexpr int kCompat[] = {200, 400, 401, 403, 404, 409, 429};
    if (std::find(std::begin(kCompat), std::end(kCompat), status) == std::end(kCompat)) {
      fail("compat status not in the API reference's list");
    }
    if (!type || !type->starts_with("text/plain")) fail("compat answer not text/plain");
    if (status == 429) needs_retry_after();
    return;
  }

  if (status >= 400) {
    if (!type || *type != "application/problem+json") fail("error not application/problem+json");
    if (status == 405 && !response.header("Allow")) fail("405 without Allow");
    if (status == 401 && !response.header("WWW-Authenticate")) fail("401 without WWW-Authenticate");
    if (request.method == "HEAD") return;  // the same answer as GET, without its body
    json::error_code ec;
    auto body = json::parse(response.body, ec);
    if (ec || !body.is_object()) fail("problem body not a JSON object");
    const auto& o = body.as_object();
    const auto* code = o.if_contains("code");
    if (!code || !code->is_string() || code->as_string().empty()) fail("problem without code");
    const auto* st = o.if_contains("status");
    if (!st || !st->is_int64() || st->as_int64() != status) fail("problem status mismatch");
    const auto* t = o.if_contains("type");
    if (!t || !t->is_string() || t->as_string() != "about:blank") fail("problem type");
    if (!o.if_contains("title") || !o.at("title").is_string()) fail("problem without title");
    if (status == 429 && code->as_string() != "max_attempts") needs_retry_after();
    if (status == 429 && code->as_string() != "resend_cooldown" &&
        code->as_string() != "send_limit" && code->as_string() != "rate_limited" &&
        code->as_string() != "too_many_failures" && code->as_string() != "daily_cap" &&
        code->as_string() != "prefix_rate_limited" && code->as_string() != "max_attempts") {
      fail("429 with a code the API reference does not list");
    }
    return;
  }

  if (request.method == "HEAD" || !type || !type->starts_with("application/json")) return;
  json::error_code ec;
  auto body = json::parse(response.body, ec);
  if (ec) fail("2xx JSON body does not parse");
  if (status == 201) {
    if (!body.is_object()) fail("201 body not an object");
    const auto& o = body.as_object();
    const auto* id = o.if_contains("id");
    if (!id || !id->is_string()) fail("201 without id");
    const std::string_view id_text = id->as_string();
    if (id_text.empty() || id_text.size() > 64) fail("id length");
    for (char c : id_text) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') {
        fail("id not URL-safe");
      }
    }
    auto location = response.header("Location");
    if (!location || *location != "/v1/otp/" + std::string(id_text)) fail("201 Location");
    const auto* to = o.if_contains("to");
    if (!to || !to->is_string() || !contains(to->as_string(), "*")) fail("201 to not masked");
    const auto* st = o.if_contains("status");
    if (!st || !st->is_string() || st->as_string() != "pending") fail("201 status not pending");
  }
}

void Fixture::collect_deliveries() {
  auto& s = *impl_;
  const auto now = s.clock.now();
  auto jobs =
      run_blocking(s.store->take_due(store::TakeRequest{now, 64, now + core::Seconds(60), {}}));
  if (!jobs) violation("take_due failed", {}, nullptr);
  for (const auto& job : *jobs) {
    const auto aad = delivery::payload_aad(job.tenant.str(), job.id.str());
    auto opened = s.keyring.open(job.sealed, aad);
    if (!opened) violation("a sealed delivery does not open", {}, nullptr);
    auto payload = delivery::decode_payload(*opened);
    if (!payload) violation("a delivery payload does not decode", {}, nullptr);
    auto record = run_blocking(s.store->get(job.tenant, job.id));
    if (!record || !*record) violation("a queued delivery without its verification", {}, nullptr);
    const auto& v = **record;
    // The code as generated is already normalised, and of the verification's shape.
    auto normalized = core::normalize_code(payload->code, v.alphabet, v.code_length);
    if (!normalized || *normalized != payload->code) {
      violation("a generated code that does not normalise to itself", {}, nullptr);
    }
    auto recipient = core::parse_recipient(payload->to);
    // Delivered exactly as given (trimmed): the mailbox's own server decides what case means.
    if (!recipient || recipient->address != payload->to) {
      violation("a queued recipient that is not the address as given", {}, nullptr);
    }
    if (core::mask_recipient(*recipient) != v.masked_to)
      violation("masked_to mismatch", {}, nullptr);
    sent_.push_back({job.tenant.str(), job.id.str(), payload->to, payload->code,
                     v.alphabet == core::Alphabet::kAlnum});
    if (!run_blocking(s.store->finish({{job.tenant, job.id, core::DeliveryStatus::kSent}}))) {
      violation("finish failed", {}, nullptr);
    }
  }
}

void Fixture::check_single_use(const api::Request& request, const api::Response& response) {
  if (request.method != "POST" || response.status != 200) return;
  const std::string_view path = path_of(request.target);
  const bool compat = path == compat_path();
  if (path != "/v1/otp/verify" && !compat) return;
  if (compat && response.body != "otp verified successfully") return;
  // The same code again: a code is single-use, so nothing pending matches any more.
  api::Response again = run_blocking(impl_->router->handle(request));
  check(request, again);
  if (again.status == 404) return;
  if (again.status == 429 && contains(again.body, "\"rate_limited\"")) return;
  if (compat && again.status == 429) return;
  violation("an approved code was accepted again", request, &again);
}

api::Request json_post(std::string target, std::string body, std::string authorization) {
  api::Request r;
  r.method = "POST";
  r.target = std::move(target);
  r.headers.emplace_back("Content-Type", "application/json");
  if (!authorization.empty()) r.headers.emplace_back("Authorization", std::move(authorization));
  r.body = std::move(body);
  r.remote_address = "127.0.0.1";
  return r;
}

void violation(std::string_view what, const api::Request& request, const api::Response* response) {
  std::fprintf(stderr, "\n*** invariant violated: %.*s\n", static_cast<int>(what.size()),
               what.data());
  std::fprintf(stderr, "request: %s %s\n", request.method.c_str(), request.target.c_str());
  for (const auto& [k, v] : request.headers)
    std::fprintf(stderr, "  %s: %s\n", k.c_str(), v.c_str());
  std::fprintf(stderr, "  body: %s\n", request.body.c_str());
  if (response) {
    std::fprintf(stderr, "response: %d\n", response->status);
    for (const auto& [k, v] : response->headers) {
      std::fprintf(stderr, "  %s: %s\n", k.c_str(), v.c_str());
    }
    std::fprintf(stderr, "  body: %s\n", response->body.c_str());
  }
  std::abort();
}

}  // namespace otpd::fuzz
