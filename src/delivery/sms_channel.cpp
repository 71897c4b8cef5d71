// The Twilio Messages API call: a form POST with Basic auth, its answer mapped to an outcome.
#include "delivery/sms_channel.hpp"

#include <boost/json/parse.hpp>
#include <chrono>
#include <utility>

#include "core/crypto.hpp"

namespace otpd::delivery {
namespace {

constexpr std::chrono::milliseconds kTimeout{10000};

}  // namespace

std::string twilio_error_code(std::string_view body) {
  boost::system::error_code ec;
  const auto value = boost::json::parse(body, ec);
  if (ec || !value.is_object()) return "";
  const auto* code = value.as_object().if_contains("code");
  if (code == nullptr || !code->is_int64()) return "";
  return std::to_string(code->as_int64());
}

TwilioSmsChannel::TwilioSmsChannel(std::shared_ptr<net::HttpClient> client, TwilioSettings settings)
    : client_(std::move(client)), settings_(std::move(settings)) {
  url_ = net::without_trailing_slash(settings_.base_url) + "/2010-04-01/Accounts/" +
         form_urlencode(settings_.account_sid) + "/Messages.json";
  authorization_ =
      "Basic " + core::base64_encode(settings_.account_sid + ":" + settings_.auth_token);
}

boost::asio::awaitable<Attempt> TwilioSmsChannel::deliver(const Message& message) {
  net::HttpRequest request;
  request.method = "POST";
  request.url = url_;
  request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  request.headers.emplace_back("Authorization", authorization_);
  request.headers.emplace_back("Accept", "application/json");
  // A Messaging Service picks the sender itself; Twilio wants its SID in its own field.
  const bool service = settings_.from.rfind("MG", 0) == 0;
  request.body = "To=" + form_urlencode(message.to) +
                 (service ? "&MessagingServiceSid=" : "&From=") + form_urlencode(settings_.from) +
                 "&Body=" + form_urlencode(message.text);
  request.timeout = kTimeout;

  const net::HttpResponse response = co_await client_->send(std::move(request));
  const int status = response.status;
  if (status == 0) {
    co_return Attempt{AttemptResult::kTransient, "twilio request failed: " + response.error};
  }
  std::string detail = "twilio answered " + std::to_string(status);
  if (status >= 200 && status < 300) co_return Attempt{AttemptResult::kDelivered, detail};
  if (const auto code = twilio_error_code(response.body); !code.empty()) {
    detail += " (error " + code + ")";
  }
  if ((status >= 500 && status < 600) || status == 429) {
    co_return Attempt{AttemptResult::kTransient, detail};
  }
  co_return Attempt{AttemptResult::kPermanent, detail};
}

}  // namespace otpd::delivery
