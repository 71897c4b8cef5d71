// The transport-neutral front door: routing, request ids, authentication to a tenant,
// content negotiation, metrics and the access log, in front of the OTP handlers.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>

#include "api/handler.hpp"
#include "api/otp_service.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "obs/metrics.hpp"
#include "store/store.hpp"

namespace otpd::api {

struct RouterOptions {
  std::string openapi_json;  // served at /v1/openapi.json
  // Set only by `serve --unsafe-test-clock` on loopback: enables POST /_test/clock.
  core::OffsetTimeSource* test_clock = nullptr;
  // Serve /healthz, /readyz and /metrics here (false when an admin listener has them).
  bool serve_operations = true;
};

class Router final : public Handler {
 public:
  Router(const config::Config& config, OtpService& service, store::Store& store,
         obs::Metrics& metrics, const core::TimeSource& clock, core::RandomSource& rng,
         RouterOptions options);
  Response handle(Request request) override;

 private:
  Response dispatch(const Request& request, std::string& route, std::string& tenant);
  // Resolves the tenant from the Authorization header; nullptr when unauthorized. Sets
  // key_hash to the key's SHA-256 (hex), or "-" in protected mode.
  const config::TenantConfig* authenticate(const Request& request, std::string& key_hash) const;

  const config::Config& config_;
  OtpService& service_;
  store::Store& store_;
  obs::Metrics& metrics_;
  const core::TimeSource& clock_;
  core::RandomSource& rng_;
  RouterOptions options_;
  std::unordered_map<std::string, const config::TenantConfig*> tenants_by_key_hash_;
};

// Only the operational routes (/healthz, /readyz, /metrics) for a separate admin listener.
class OperationsRouter final : public Handler {
 public:
  OperationsRouter(store::Store& store, obs::Metrics& metrics, core::RandomSource& rng)
      : store_(store), metrics_(metrics), rng_(rng) {}
  Response handle(Request request) override;

 private:
  store::Store& store_;
  obs::Metrics& metrics_;
  core::RandomSource& rng_;
};

}  // namespace otpd::api
