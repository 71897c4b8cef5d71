// The v1 JSON API (POST /v1/otp/send, /v1/otp/verify, GET /v1/otp/{id}, POST
// /v1/otp/{id}/cancel): reads each request into a command for the service and presents
// its outcome as JSON or problem+json.
#pragma once

#include <string>

#include "api/message.hpp"
#include "api/otp_service.hpp"
#include "api/tenants.hpp"
#include "core/clock.hpp"
#include "core/task.hpp"

namespace otpd::api {

class V1Api {
 public:
  V1Api(OtpService& service, const core::TimeSource& clock) : service_(service), clock_(clock) {}

  Task<Response> send(const Tenant& tenant, const Request& request);
  Task<Response> verify(const Tenant& tenant, const Request& request);
  Task<Response> status(const Tenant& tenant, std::string id);
  Task<Response> cancel(const Tenant& tenant, std::string id);

 private:
  OtpService& service_;
  const core::TimeSource& clock_;
};

}  // namespace otpd::api
