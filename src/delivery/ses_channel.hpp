// The email channel over Amazon SES v2 (SendEmail), signed with SigV4 (the README's Channels).
#pragma once

#include <memory>
#include <string>

#include "aws/credentials.hpp"
#include "core/clock.hpp"
#include "delivery/channel.hpp"
#include "net/http_client.hpp"

namespace otpd::delivery {

class SesEmailChannel final : public Channel {
 public:
  // `endpoint` "" means https://email.<region>.amazonaws.com; any other value is an SES-
  // compatible base URL (tests, local emulators). The clock must outlive the channel.
  SesEmailChannel(std::shared_ptr<net::HttpClient> client,
                  std::shared_ptr<aws::CredentialProvider> credentials,
                  const core::TimeSource& clock, std::string region, std::string from,
                  std::string endpoint);
  // POST /v2/email/outbound-emails with a simple (subject, text, optional html) message.
  // Outcomes as call_aws maps them (delivery/aws_call.hpp); SES answers 400 MessageRejected
  // or NotFoundException for addresses and senders it will not accept: permanent.
  boost::asio::awaitable<Attempt> deliver(const Message& message) override;

 private:
  std::shared_ptr<net::HttpClient> client_;
  std::shared_ptr<aws::CredentialProvider> credentials_;
  const core::TimeSource& clock_;
  std::string region_;
  std::string from_;
  std::string url_;
};

// The SendEmail request body for `message`.
std::string ses_request_body(const std::string& from, const Message& message);

}  // namespace otpd::delivery
