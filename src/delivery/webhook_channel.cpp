// The webhook channel: POSTs the signed otp.delivery event and maps the answer to an outcome.
#include "delivery/webhook_channel.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <utility>

#include "core/crypto.hpp"
#include "core/time_format.hpp"

namespace otpd::delivery {
namespace {

constexpr std::chrono::milliseconds kTimeout{10000};

long long floor_unix_seconds(core::TimePoint t) {
  const long long ms = core::to_unix_ms(t);
  return ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
}

}  // namespace

std::string webhook_event_body(const Message& message) {
  // Member order is part of what receivers see: keep it as the README's Channels lists it.
  boost::json::object o;
  o["type"] = "otp.delivery";
  o["id"] = message.id.str();
  o["tenant"] = message.tenant.str();
  o["to"] = message.to;
  o["channel"] = "webhook";
  o["code"] = message.code;
  o["message"] = message.text;
  // Receivers branch on it: never empty (no locale asked for means the English default).
  o["locale"] = message.locale.empty() ? "en" : message.locale;
  o["expires_at"] = core::format_rfc3339(message.expires_at);
  return boost::json::serialize(o);
}

std::string webhook_signature(const std::string& secret, long long unix_seconds,
                              const std::string& body) {
  const std::string t = std::to_string(unix_seconds);
  return "t=" + t + ",v1=" + core::hex_encode(core::hmac_sha256(secret, t + "." + body));
}

WebhookChannel::WebhookChannel(std::shared_ptr<net::HttpClient> client,
                               const core::TimeSource& clock, std::string url, std::string secret)
    : client_(std::move(client)), clock_(clock), url_(std::move(url)), secret_(std::move(secret)) {}

boost::asio::awaitable<Attempt> WebhookChannel::deliver(const Message& message) {
  net::HttpRequest request;
  request.method = "POST";
  request.url = url_;
  request.body = webhook_event_body(message);
  request.headers.emplace_back("Content-Type", "application/json");
  request.headers.emplace_back(
      "X-Otpd-Signature",
      webhook_signature(secret_, floor_unix_seconds(clock_.now()), request.body));
  request.timeout = kTimeout;

  const net::HttpResponse response = co_await client_->send(std::move(request));
  const int status = response.status;
  if (status == 0) {
    // The client's error names the failure (timeout, refused, TLS) and never the body.
    co_return Attempt{AttemptResult::kTransient, "webhook request failed: " + response.error};
  }
  std::string detail = "webhook answered " + std::to_string(status);
  if (status >= 200 && status < 300) co_return Attempt{AttemptResult::kDelivered, detail};
  if ((status >= 500 && status < 600) || status == 429) {
    co_return Attempt{AttemptResult::kTransient, detail};
  }
  co_return Attempt{AttemptResult::kPermanent, detail};
}

}  // namespace otpd::delivery
