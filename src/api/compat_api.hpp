// The original service's routes for one tenant, without a key: GET {path}?email= sends a
// 6-digit code, POST {path} {"email","otp"} checks it, answered in plain text with the
// original wording and statuses, on top of every rule of the v1 API.
#pragma once

#include <string>

#include "api/message.hpp"
#include "api/otp_service.hpp"
#include "api/tenants.hpp"
#include "core/task.hpp"

namespace otpd::api {

class CompatApi {
 public:
  // `ttl_seconds`: the original's code lifetime, used instead of the tenant's.
  CompatApi(OtpService& service, int ttl_seconds) : service_(service), ttl_seconds_(ttl_seconds) {}

  Task<Response> send(const Tenant& tenant, std::string email);
  Task<Response> verify(const Tenant& tenant, const Request& request);

 private:
  OtpService& service_;
  int ttl_seconds_;
};

}  // namespace otpd::api
