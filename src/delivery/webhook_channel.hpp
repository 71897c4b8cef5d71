// The webhook channel: the signed otp.delivery event of the README's Channels.
#pragma once

#include <memory>
#include <string>

#include "core/clock.hpp"
#include "delivery/channel.hpp"
#include "net/http_client.hpp"

namespace otpd::delivery {

class WebhookChannel final : public Channel {
 public:
  WebhookChannel(std::shared_ptr<net::HttpClient> client, const core::TimeSource& clock,
                 std::string url, std::string secret);
  // 2xx -> delivered; 5xx, 429 and network errors -> transient; any other status
  // (redirects included, never followed) -> permanent.
  boost::asio::awaitable<Attempt> deliver(const Message& message) override;

 private:
  std::shared_ptr<net::HttpClient> client_;
  const core::TimeSource& clock_;
  std::string url_;
  std::string secret_;
};

// The event body, and "t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>".
std::string webhook_event_body(const Message& message);
std::string webhook_signature(const std::string& secret, long long unix_seconds,
                              const std::string& body);

}  // namespace otpd::delivery
