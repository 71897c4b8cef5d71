// Twilio's resource shapes. Members otpd has no value for are present with Twilio's empty
// value (null, {} or false), so code that reads them finds what Twilio would send.
#include "api/twilio_resources.hpp"

#include <array>
#include <boost/algorithm/string/case_conv.hpp>
#include <boost/json/array.hpp>

#include "core/crypto.hpp"
#include "core/time_format.hpp"

namespace otpd::api {

namespace json = boost::json;

namespace {

constexpr std::array<std::string_view, 4> kTwilioChannels{"sms", "email", "whatsapp", "call"};

std::string verification_url(const core::Verification& v, const Tenant& tenant,
                             const TwilioContext& context) {
  return context.base_url + "/v2/Services/" + tenant.twilio_service_sid + "/Verifications/" +
         v.id.str();
}

// The fields a Verification and a VerificationCheck share.
json::object common(const core::Verification& v, const Tenant& tenant, const TwilioContext& context,
                    std::string_view status, core::TimePoint updated) {
  json::object o;
  o["sid"] = v.id.str();
  o["service_sid"] = tenant.twilio_service_sid;
  o["account_sid"] = context.account_sid;
  o["to"] = v.masked_to;
  o["channel"] = twilio_channel_name(tenant, v);
  o["status"] = status;
  o["valid"] = status == "approved";
  o["amount"] = nullptr;
  o["payee"] = nullptr;
  o["date_created"] = core::format_rfc3339(v.created_at);
  o["date_updated"] = core::format_rfc3339(updated);
  return o;
}

}  // namespace

std::string twilio_channel_name(const Tenant& tenant, const core::Verification& v) {
  // The masked form keeps an address's '@': a channel mapped for both kinds (the console, a
  // webhook) reads as "email" for an address and as a phone channel for a number.
  const bool email = v.masked_to.find('@') != std::string::npos;
  for (std::string_view name : kTwilioChannels) {
    if ((name == "email") != email) continue;
    auto it = tenant.twilio_channels.find(std::string(name));
    if (it != tenant.twilio_channels.end() && it->second == v.channel) return std::string(name);
  }
  return email ? "email" : "sms";
}

json::object verification_resource(const core::Verification& v, const Tenant& tenant,
                                   const TwilioContext& context, std::string_view status,
                                   core::TimePoint updated) {
  json::object o = common(v, tenant, context, status, updated);
  o["lookup"] = json::object();
  json::object attempt;
  attempt["time"] = core::format_rfc3339(v.created_at);
  attempt["channel"] = boost::algorithm::to_upper_copy(twilio_channel_name(tenant, v));
  // A stable SID for the one send: derived from the verification's id, which the caller holds.
  attempt["attempt_sid"] =
      "VL" + core::hex_encode(core::sha256("attempt:" + v.id.str())).substr(0, 32);
  o["send_code_attempts"] = json::array{std::move(attempt)};
  o["sna"] = nullptr;
  o["url"] = verification_url(v, tenant, context);
  return o;
}

json::object check_resource(const core::Verification& v, const Tenant& tenant,
                            const TwilioContext& context, std::string_view status,
                            core::TimePoint updated) {
  json::object o = common(v, tenant, context, status, updated);
  o["sna_attempts_error_codes"] = json::array();
  return o;
}

json::object service_resource(const Tenant& tenant, const TwilioContext& context,
                              core::TimePoint created) {
  const std::string url = context.base_url + "/v2/Services/" + tenant.twilio_service_sid;
  json::object o;
  o["sid"] = tenant.twilio_service_sid;
  o["account_sid"] = context.account_sid;
  o["friendly_name"] = tenant.policy.app_name;
  o["code_length"] = tenant.policy.code_length;
  o["lookup_enabled"] = false;
  o["psd2_enabled"] = false;
  o["skip_sms_to_landlines"] = false;
  o["dtmf_input_required"] = false;
  o["tts_name"] = nullptr;
  o["do_not_share_warning_enabled"] = false;
  o["custom_code_enabled"] = false;
  json::object push;
  push["include_date"] = false;
  push["apn_credential_sid"] = nullptr;
  push["fcm_credential_sid"] = nullptr;
  o["push"] = std::move(push);
  json::object totp;
  totp["issuer"] = tenant.policy.app_name;
  totp["time_step"] = 30;
  totp["code_length"] = 6;
  totp["skew"] = 1;
  o["totp"] = std::move(totp);
  o["default_template_sid"] = nullptr;
  json::object whatsapp;
  whatsapp["msg_service_sid"] = nullptr;
  whatsapp["from"] = nullptr;
  o["whatsapp"] = std::move(whatsapp);
  o["passkeys"] = nullptr;
  o["verify_event_subscription_enabled"] = false;
  o["date_created"] = core::format_rfc3339(created);
  o["date_updated"] = core::format_rfc3339(created);
  o["url"] = url;
  json::object links;
  links["verification_checks"] = url + "/VerificationCheck";
  links["verifications"] = url + "/Verifications";
  links["rate_limits"] = url + "/RateLimits";
  links["messaging_configurations"] = url + "/MessagingConfigurations";
  links["entities"] = url + "/Entities";
  links["webhooks"] = url + "/Webhooks";
  links["access_tokens"] = url + "/AccessTokens";
  o["links"] = std::move(links);
  return o;
}

}  // namespace otpd::api
