// The transport-neutral front door: routing, authentication to a tenant, the per-key
// request rate, metrics and the access log, in front of the presenters (v1 API,
// compatibility facade, Twilio-compatible API) and the operational routes.
#pragma once

#include <string>

#include "api/auth_throttle.hpp"
#include "api/compat_api.hpp"
#include "api/handler.hpp"
#include "api/otp_service.hpp"
#include "api/tenants.hpp"
#include "api/twilio_api.hpp"
#include "api/v1_api.hpp"
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

// The tenant's per-key request rate (requests_per_second_per_key) for one credential (`key`:
// a hash naming it), shared by every face of the API: nullopt when the request may go on,
// else rate_limited (or unavailable when the store cannot answer).
Task<std::optional<Problem>> take_key_token(store::RateLimitStore& limits, const Tenant& tenant,
                                            std::string key, core::TimePoint now);

// The operational routes (/healthz, /readyz, /metrics), shared by the main router and a
// separate admin listener.
class Operations {
 public:
  Operations(store::StoreMaintenance& store, obs::Metrics& metrics)
      : store_(store), metrics_(metrics) {}
  bool handles(std::string_view path) const;
  Task<Response> handle(const Request& request, std::string_view path);

 private:
  store::StoreMaintenance& store_;
  obs::Metrics& metrics_;
};

class Router final : public Handler {
 public:
  // Everything passed by reference must outlive the router.
  Router(const config::Config& config, const TenantDirectory& tenants, OtpService& service,
         store::RateLimitStore& limits, store::StoreMaintenance& maintenance, obs::Metrics& metrics,
         const core::TimeSource& clock, RouterOptions options);
  Task<Response> handle(Request request) override;

 private:
  struct Route;
  Task<Response> dispatch(const Request& request, Route& route);
  Task<Response> dispatch_otp(const Request& request, std::string_view path, Route& route);
  Response move_test_clock(const Request& request);
  // The tenant of the request's API key (protected mode: "default"), or nullptr.
  const Tenant* authenticate(const Request& request, std::string& key_hash) const;

  const config::Config& config_;
  const TenantDirectory& tenants_;
  store::RateLimitStore& limits_;
  obs::Metrics& metrics_;
  const core::TimeSource& clock_;
  RouterOptions options_;
  Operations operations_;
  V1Api v1_;
  CompatApi compat_;
  AuthThrottle auth_throttle_;
  TwilioApi twilio_;
};

// Only the operational routes, for a separate admin listener.
class OperationsRouter final : public Handler {
 public:
  OperationsRouter(store::StoreMaintenance& store, obs::Metrics& metrics)
      : operations_(store, metrics) {}
  Task<Response> handle(Request request) override;

 private:
  Operations operations_;
};

}  // namespace otpd::api
