// One signed call to an AWS API on behalf of a channel (SES, SNS), its answer mapped to an
// Attempt the way every channel maps answers.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <string_view>

#include "aws/credentials.hpp"
#include "core/clock.hpp"
#include "delivery/channel.hpp"
#include "net/http_client.hpp"

namespace otpd::delivery {

// Gets credentials, signs `request` for `region`/`service` at clock.now() and sends it.
// No credentials -> transient "no AWS credentials"; network error -> transient; 2xx ->
// delivered; 429, 5xx and AWS throttling codes -> transient; ExpiredToken and the like ->
// transient, with the cached credentials dropped; any other answer -> permanent. The detail
// is "<label> answered <status> (<AWS error code>)": AWS's message text is never kept, since
// it can repeat the recipient.
boost::asio::awaitable<Attempt> call_aws(net::HttpClient& client,
                                         aws::CredentialProvider& credentials,
                                         const core::TimeSource& clock, net::HttpRequest request,
                                         std::string_view region, std::string_view service,
                                         std::string_view label);

}  // namespace otpd::delivery
