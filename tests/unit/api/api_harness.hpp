// The API layer in process: a Router on a MemoryStore, a ManualTimeSource and a dispatcher
// that opens each sealed delivery to learn its code, built from a TOML config as `serve`
// builds it. No socket, no thread: each request runs to completion in run_blocking.
#pragma once

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "api/otp_service.hpp"
#include "api/router.hpp"
#include "api/tenants.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/crypto.hpp"
#include "core/keyring.hpp"
#include "core/random.hpp"
#include "core/run_blocking.hpp"
#include "delivery/dispatcher.hpp"
#include "delivery/payload.hpp"
#include "obs/metrics.hpp"
#include "store/memory/memory_store.hpp"

namespace otpd::api::testing {

// Opens what a send hands over, as the worker would, and keeps the code by verification id.
class CapturingDispatcher final : public delivery::Dispatcher {
 public:
  explicit CapturingDispatcher(const core::Keyring& keyring) : keyring_(keyring) {}

  std::optional<core::TimePoint> lease_until(core::TimePoint) override { return std::nullopt; }

  Task<core::DeliveryStatus> dispatch(store::DeliveryJob job, bool) override {
    auto opened = keyring_.open(job.sealed, delivery::payload_aad(job.tenant.str(), job.id.str()));
    if (opened) {
      if (auto payload = delivery::decode_payload(*opened)) {
        std::lock_guard lock(mu_);
        codes_[job.id.str()] = payload->code;
        locales_[job.id.str()] = payload->locale;
        channels_[job.id.str()] = job.channel;
      }
    }
    co_return core::DeliveryStatus::kQueued;
  }

  std::string code(const std::string& id) const {
    std::lock_guard lock(mu_);
    auto it = codes_.find(id);
    return it == codes_.end() ? "" : it->second;
  }
  std::string locale(const std::string& id) const {
    std::lock_guard lock(mu_);
    auto it = locales_.find(id);
    return it == locales_.end() ? "" : it->second;
  }
  std::optional<core::ChannelKind> channel(const std::string& id) const {
    std::lock_guard lock(mu_);
    auto it = channels_.find(id);
    if (it == channels_.end()) return std::nullopt;
    return it->second;
  }
  std::size_t sends() const {
    std::lock_guard lock(mu_);
    return codes_.size();
  }

 private:
  const core::Keyring& keyring_;
  mutable std::mutex mu_;
  std::map<std::string, std::string> codes_;
  std::map<std::string, std::string> locales_;
  std::map<std::string, core::ChannelKind> channels_;
};

struct Reply {
  Response response;
  boost::json::value json;  // null when the body is not JSON

  int status() const { return response.status; }
  std::string header(std::string_view name) const {
    return std::string(response.header(name).value_or(""));
  }
  const boost::json::object& object() const { return json.as_object(); }
  std::string str(std::string_view key) const {
    const auto* v = json.is_object() ? json.as_object().if_contains(key) : nullptr;
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  }
  long long num(std::string_view key) const {
    const auto* v = json.is_object() ? json.as_object().if_contains(key) : nullptr;
    return v && v->is_int64() ? v->as_int64() : -1;
  }
};

inline constexpr const char* kAccountSid = "AC0123456789abcdef0123456789abcdef";
inline constexpr const char* kShopSid = "VA0123456789abcdef0123456789abcdef";
inline constexpr const char* kClinicSid = "VAfedcba9876543210fedcba9876543210";
inline constexpr const char* kAuthToken = "auth-token-of-the-account";
inline constexpr const char* kOldAuthToken = "the-previous-auth-token";
inline constexpr const char* kApiKeySid = "SK00112233445566778899aabbccddeeff";
inline constexpr const char* kApiKeySecret = "secret-of-the-api-key";
inline constexpr const char* kShopApiKey = "v1-key-of-the-shop-tenant";

inline std::string sha256_hex(std::string_view text) {
  return core::hex_encode(core::sha256(text));
}

// Two Verify Services (tenants shop and clinic) on one account, each with an sms and an
// email channel; `extra` is appended to the shop tenant's table (policy keys), `tail` to the
// whole file.
inline std::string twilio_config(const std::string& extra = "", const std::string& tail = "") {
  return std::string("[twilio]\n") + "account_sid = \"" + kAccountSid + "\"\n" +
         "auth_tokens = [\"sha256:" + sha256_hex(kAuthToken) +
         "\", \"sha256:" + sha256_hex(kOldAuthToken) + "\"]\n" + "api_keys = [\"" + kApiKeySid +
         ":sha256:" + sha256_hex(kApiKeySecret) + "\"]\n" + "[tenants.shop]\n" +
         "api_keys = [\"sha256:" + sha256_hex(kShopApiKey) + "\"]\n" + "twilio_service_sid = \"" +
         kShopSid + "\"\n" + "app_name = \"Shop\"\n" + extra + "\n" +
         "[tenants.shop.channels.sms]\n" +
         "provider = \"twilio\"\naccount_sid = \"AC1\"\nauth_token = \"t\"\nfrom = "
         "\"+15005550006\"\n" +
         "[tenants.shop.channels.email]\nsmtp = \"smtp://127.0.0.1:2525\"\nfrom = \"a@b.test\"\n" +
         "[tenants.clinic]\n" + "twilio_service_sid = \"" + kClinicSid + "\"\n" +
         "[tenants.clinic.channels.sms]\n" +
         "provider = \"twilio\"\naccount_sid = \"AC1\"\nauth_token = \"t\"\nfrom = "
         "\"+15005550006\"\n" +
         tail;
}

class ApiHarness {
 public:
  explicit ApiHarness(const std::string& toml)
      : config_(config::parse_config(toml, {})),
        clock_(core::from_unix_ms(1'800'000'000'000LL)),
        keyring_(std::vector<std::string>{"unit-test-server-secret-0123456789"}),
        dispatcher_(keyring_),
        tenants_(config_),
        service_(store_, keyring_, clock_, rng_, metrics_, &dispatcher_),
        router_(config_, tenants_, service_, store_, store_, metrics_, clock_, RouterOptions{}) {}

  Reply call(std::string method, std::string target, std::string body = "", HeaderList headers = {},
             std::string remote = "192.0.2.10") {
    Request request;
    request.method = std::move(method);
    request.target = std::move(target);
    request.headers = std::move(headers);
    request.body = std::move(body);
    request.remote_address = std::move(remote);
    Reply reply;
    reply.response = run_blocking(router_.handle(std::move(request)));
    boost::system::error_code ec;
    reply.json = boost::json::parse(reply.response.body, ec);
    if (ec) reply.json = nullptr;
    return reply;
  }

  // A Twilio SDK's request: form body, Basic auth as the account (unless `auth` says else).
  Reply twilio(std::string method, std::string target, std::string form = "",
               std::optional<std::string> auth = std::nullopt, HeaderList extra = {}) {
    HeaderList headers = {{"Host", "otpd.test:8080"}};
    const std::string credentials = auth.value_or(std::string(kAccountSid) + ":" + kAuthToken);
    if (!credentials.empty()) {
      headers.emplace_back("Authorization", "Basic " + core::base64_encode(credentials));
    }
    if (method == "POST") {
      headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    }
    for (auto& h : extra) headers.push_back(std::move(h));
    return call(std::move(method), std::move(target), std::move(form), std::move(headers));
  }

  Reply v1(std::string method, std::string target, std::string json_body = "") {
    HeaderList headers = {{"Authorization", std::string("Bearer ") + kShopApiKey}};
    if (!json_body.empty()) headers.emplace_back("Content-Type", "application/json");
    return call(std::move(method), std::move(target), std::move(json_body), std::move(headers));
  }

  core::ManualTimeSource& clock() { return clock_; }
  CapturingDispatcher& deliveries() { return dispatcher_; }

 private:
  config::Config config_;
  core::ManualTimeSource clock_;
  store::MemoryStore store_;
  core::Keyring keyring_;
  core::OpenSslRandom rng_;
  obs::Metrics metrics_;
  CapturingDispatcher dispatcher_;
  TenantDirectory tenants_;
  OtpService service_;
  Router router_;
};

// "+14155550100" as a form value.
inline std::string form_escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '+') {
      out += "%2B";
    } else if (c == '@') {
      out += "%40";
    } else if (c == ' ') {
      out += '+';
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace otpd::api::testing
