// An in-process otpd for API tests: the real router, presenters and service on a
// MemoryStore with a manual clock, and a dispatcher that keeps each send's sealed job so a
// test can read the code the person would have received. No socket, no thread, no sleep.
#pragma once

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <memory>
#include <string>
#include <vector>

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
#include "obs/log.hpp"
#include "obs/metrics.hpp"
#include "store/memory/memory_store.hpp"

namespace otpd::api::testing {

inline constexpr const char* kAcmeKey = "sk_test_acme_0123456789abcdef";
inline constexpr const char* kGlobexKey = "sk_test_globex_0123456789abcdef";

// Keeps the jobs handed over, as the worker would receive them.
class KeepingDispatcher final : public delivery::Dispatcher {
 public:
  std::optional<core::TimePoint> lease_until(core::TimePoint now) override {
    return now + core::Seconds(20);
  }
  Task<core::DeliveryStatus> dispatch(store::DeliveryJob job, bool) override {
    jobs.push_back(std::move(job));
    co_return core::DeliveryStatus::kQueued;
  }
  std::vector<store::DeliveryJob> jobs;
};

struct Answer {
  Response response;
  boost::json::value json() const { return boost::json::parse(response.body); }
  std::string code() const { return std::string(json().as_object().at("code").as_string()); }
  std::string field(const char* name) const {
    return std::string(json().as_object().at(name).as_string());
  }
};

class RouterFixture {
 public:
  // `extra` is appended to the config: more keys for the tenants, [compat]...
  explicit RouterFixture(const std::string& acme_extra = "", const std::string& extra = "")
      : config_(config::parse_config(config_text(acme_extra, extra), {})),
        keyring_(config_.secrets),
        tenants_(config_),
        service_(store_, keyring_, clock_, rng_, metrics_, &dispatcher_),
        router_(config_, tenants_, service_, store_, store_, metrics_, clock_, RouterOptions{}) {
    obs::set_log_level(obs::Level::kError);  // access lines would only bury a failure
  }

  Answer call(std::string method, std::string target, std::string body = "",
              std::vector<std::pair<std::string, std::string>> headers = {},
              const char* key = kAcmeKey) {
    Request r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.body = std::move(body);
    r.remote_address = "192.0.2.1";
    for (auto& h : headers) r.headers.push_back(std::move(h));
    if (!r.body.empty() && !r.header("Content-Type")) {
      r.headers.emplace_back("Content-Type", "application/json");
    }
    if (key != nullptr) r.headers.emplace_back("Authorization", std::string("Bearer ") + key);
    return Answer{run_blocking(router_.handle(std::move(r)))};
  }
  Answer send(const std::string& json,
              std::vector<std::pair<std::string, std::string>> headers = {},
              const char* key = kAcmeKey) {
    return call("POST", "/v1/otp/send", json, std::move(headers), key);
  }
  Answer verify(const std::string& json, const char* key = kAcmeKey) {
    return call("POST", "/v1/otp/verify", json, {}, key);
  }
  // The code of the verification `id`, as its delivery job carries it.
  std::string code_of(const std::string& id) const {
    for (const auto& job : dispatcher_.jobs) {
      if (job.id.str() != id) continue;
      auto opened = keyring_.open(job.sealed, delivery::payload_aad(job.tenant.str(), id));
      return delivery::decode_payload(*opened)->code;
    }
    return {};
  }
  // Where the delivery of `id` goes.
  std::string address_of(const std::string& id) const {
    for (const auto& job : dispatcher_.jobs) {
      if (job.id.str() != id) continue;
      auto opened = keyring_.open(job.sealed, delivery::payload_aad(job.tenant.str(), id));
      return delivery::decode_payload(*opened)->to;
    }
    return {};
  }
  void advance(core::Seconds s) { clock_.advance(s); }
  store::MemoryStore& store() { return store_; }
  const std::vector<store::DeliveryJob>& jobs() const { return dispatcher_.jobs; }

 private:
  static std::string key_hash(const char* key) { return core::hex_encode(core::sha256(key)); }
  static std::string config_text(const std::string& acme_extra, const std::string& extra) {
    return "secrets = [\"router-test-secret-0123456789\"]\n"
           "[tenants.acme]\napi_keys = [\"sha256:" +
           key_hash(kAcmeKey) + "\"]\n" + "default_channel = \"webhook\"\n" + acme_extra +
           "\n[tenants.acme.channels.webhook]\nurl = \"http://127.0.0.1:9/hook\"\n"
           "secret = \"whsec_router_0123456789\"\n"
           "[tenants.globex]\napi_keys = [\"sha256:" +
           key_hash(kGlobexKey) +
           "\"]\n"
           "default_channel = \"webhook\"\n"
           "[tenants.globex.channels.webhook]\nurl = \"http://127.0.0.1:9/hook\"\n"
           "secret = \"whsec_router_0123456789\"\n" +
           extra;
  }

  config::Config config_;
  core::Keyring keyring_;
  core::ManualTimeSource clock_{core::from_unix_ms(1'900'000'000'000)};
  core::OpenSslRandom rng_;
  obs::Metrics metrics_;
  store::MemoryStore store_;
  KeepingDispatcher dispatcher_;
  TenantDirectory tenants_;
  OtpService service_;
  Router router_;
};

}  // namespace otpd::api::testing
