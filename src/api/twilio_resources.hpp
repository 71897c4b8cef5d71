// Twilio Verify v2's resources as JSON, from otpd's verifications and tenants: Verification,
// VerificationCheck and Service, field for field as Twilio's SDKs read them.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>

#include "api/tenants.hpp"
#include "core/types.hpp"
#include "core/verification.hpp"

namespace otpd::api {

// What every resource says about where it lives.
struct TwilioContext {
  std::string account_sid;
  std::string base_url;  // "https://verify.example.com": scheme and host, no trailing '/'
};

// The Twilio `Channel` value a verification was sent through: "email" for an address; for a
// number the first of sms, whatsapp, call that the tenant maps to its channel (otpd keeps
// no Twilio channel name, so two names mapped to one channel read as the first).
std::string twilio_channel_name(const Tenant& tenant, const core::Verification& v);

// A Verification resource. `status` is Twilio's name of its state; `updated` its
// date_updated. `to` is masked (otpd keeps no plaintext recipient). One send_code_attempts
// entry: each send is a verification of its own in otpd.
boost::json::object verification_resource(const core::Verification& v, const Tenant& tenant,
                                          const TwilioContext& context, std::string_view status,
                                          core::TimePoint updated);

// A VerificationCheck resource (valid is status == "approved").
boost::json::object check_resource(const core::Verification& v, const Tenant& tenant,
                                   const TwilioContext& context, std::string_view status,
                                   core::TimePoint updated);

// A Service resource for a tenant that answers as one (read-only: from the config).
boost::json::object service_resource(const Tenant& tenant, const TwilioContext& context,
                                     core::TimePoint created);

}  // namespace otpd::api
