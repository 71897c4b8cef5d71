// Credentials, signature, request and outcome for the AWS-backed channels.
#include "delivery/aws_call.hpp"

#include <string>
#include <utility>

#include "aws/error.hpp"
#include "aws/sigv4.hpp"

namespace otpd::delivery {

boost::asio::awaitable<Attempt> call_aws(net::HttpClient& client,
                                         aws::CredentialProvider& credentials,
                                         const core::TimeSource& clock, net::HttpRequest request,
                                         std::string_view region, std::string_view service,
                                         std::string_view label) {
  const auto found = co_await credentials.get();
  if (!found) co_return Attempt{AttemptResult::kTransient, "no AWS credentials"};
  aws::sign_sigv4(request, *found, region, service, clock.now());

  const net::HttpResponse response = co_await client.send(std::move(request));
  const int status = response.status;
  if (status == 0) {
    co_return Attempt{AttemptResult::kTransient,
                      std::string(label) + " request failed: " + response.error};
  }
  std::string detail = std::string(label) + " answered " + std::to_string(status);
  if (status >= 200 && status < 300) co_return Attempt{AttemptResult::kDelivered, detail};
  const std::string code = aws::error_code_of(response);
  if (!code.empty()) detail += " (" + code + ")";
  if (aws::is_expired_credentials_error(code)) {
    credentials.invalidate();
    co_return Attempt{AttemptResult::kTransient, detail};
  }
  if ((status >= 500 && status < 600) || status == 429 || aws::is_throttling_error(code)) {
    co_return Attempt{AttemptResult::kTransient, detail};
  }
  co_return Attempt{AttemptResult::kPermanent, detail};
}

}  // namespace otpd::delivery
