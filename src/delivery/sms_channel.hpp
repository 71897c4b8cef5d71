// The sms channel over a Twilio-compatible Messages API (the README's Channels).
#pragma once

#include <memory>
#include <string>

#include "delivery/channel.hpp"
#include "net/http_client.hpp"
#include "net/url_text.hpp"

namespace otpd::delivery {

struct TwilioSettings {
  std::string base_url;  // "https://api.twilio.com" or any compatible endpoint
  std::string account_sid;
  std::string auth_token;
  std::string from;  // an E.164 sender, or a Messaging Service SID ("MG…")
};

class TwilioSmsChannel final : public Channel {
 public:
  TwilioSmsChannel(std::shared_ptr<net::HttpClient> client, TwilioSettings settings);
  // 2xx -> delivered; 5xx, 429 and network errors -> transient; any other status -> permanent
  // (Twilio answers 400 for numbers it will never reach, e.g. error 21211 or 21610).
  boost::asio::awaitable<Attempt> deliver(const Message& message) override;

 private:
  std::shared_ptr<net::HttpClient> client_;
  TwilioSettings settings_;
  std::string url_;            // .../2010-04-01/Accounts/<sid>/Messages.json
  std::string authorization_;  // "Basic base64(sid:token)"
};

using net::form_urlencode;  // the form bodies of Twilio and SNS
// Twilio's numeric error code from an error body ({"code":21211,...}), or "" when absent.
// Only the number is kept: Twilio's message text repeats the phone number.
std::string twilio_error_code(std::string_view body);

}  // namespace otpd::delivery
