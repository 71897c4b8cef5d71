// The sms channel over Amazon SNS (Publish to a phone number), signed with SigV4
// (the README's Channels).
#pragma once

#include <memory>
#include <string>

#include "aws/credentials.hpp"
#include "core/clock.hpp"
#include "delivery/channel.hpp"
#include "net/http_client.hpp"

namespace otpd::delivery {

class SnsSmsChannel final : public Channel {
 public:
  // `endpoint` "" means https://sns.<region>.amazonaws.com; any other value is an SNS-
  // compatible base URL (tests, local emulators). The clock must outlive the channel.
  SnsSmsChannel(std::shared_ptr<net::HttpClient> client,
                std::shared_ptr<aws::CredentialProvider> credentials, const core::TimeSource& clock,
                std::string region, std::string endpoint);
  // POST / Action=Publish with PhoneNumber, Message and SMSType Transactional. Outcomes as
  // call_aws maps them (delivery/aws_call.hpp): SNS answers 400 InvalidParameter for a
  // number it cannot reach (permanent) and 400 Throttling when over its rate (transient).
  boost::asio::awaitable<Attempt> deliver(const Message& message) override;

 private:
  std::shared_ptr<net::HttpClient> client_;
  std::shared_ptr<aws::CredentialProvider> credentials_;
  const core::TimeSource& clock_;
  std::string region_;
  std::string url_;
};

// The Publish request's form body for `message`.
std::string sns_request_body(const Message& message);

}  // namespace otpd::delivery
