// The Twilio Verify v2-compatible API (/v2/…): a third presenter of the service's outcomes,
// after the v1 API and the compatibility facade. It reads Twilio's form parameters into the
// same commands, so the same rules, limits and store operations apply, and answers with
// Twilio's resources and error codes. Routes, mappings and differences: docs/twilio.md.
#pragma once

#include <string>
#include <string_view>

#include "api/auth_throttle.hpp"
#include "api/message.hpp"
#include "api/otp_service.hpp"
#include "api/tenants.hpp"
#include "api/twilio_auth.hpp"
#include "api/twilio_resources.hpp"
#include "config/config.hpp"
#include "core/clock.hpp"
#include "core/task.hpp"
#include "store/store.hpp"

namespace otpd::api {

// What the access log and the metrics say about a /v2 request (a route template, never a SID).
struct TwilioRoute {
  std::string_view name = "/v2/unmatched";
  std::string tenant;
};

class TwilioApi {
 public:
  // Everything passed by reference must outlive the API. Thread-safe as the service is.
  TwilioApi(const config::TwilioConfig& config, const TenantDirectory& tenants, OtpService& service,
            store::RateLimitStore& limits, const core::TimeSource& clock,
            AuthThrottle& auth_throttle);

  // Whether a path belongs to this API ("/v2" and below).
  static bool handles(std::string_view path);

  // Any request under /v2: Basic authentication, the Service (tenant) in the path, the
  // tenant's per-key request rate, then the route. Never throws on bad input.
  Task<Response> handle(const Request& request, std::string_view path, std::string_view query,
                        TwilioRoute& route);

 private:
  Task<Response> create_verification(const Tenant& tenant, const Request& request,
                                     const TwilioContext& context);
  Task<Response> check_verification(const Tenant& tenant, const Request& request,
                                    const TwilioContext& context);
  Task<Response> fetch_verification(const Tenant& tenant, std::string sid,
                                    const TwilioContext& context);
  Task<Response> update_verification(const Tenant& tenant, std::string sid, const Request& request,
                                     const TwilioContext& context);
  Response list_services(std::string_view query, const TwilioContext& context) const;
  Response unauthorized(const Request& request);
  TwilioContext context_of(const Request& request) const;

  const config::TwilioConfig& config_;
  const TenantDirectory& tenants_;
  OtpService& service_;
  store::RateLimitStore& limits_;
  const core::TimeSource& clock_;
  AuthThrottle& auth_throttle_;
  TwilioCredentials credentials_;
  core::TimePoint started_;  // the Services' date_created: they exist since the config loaded
};

}  // namespace otpd::api
