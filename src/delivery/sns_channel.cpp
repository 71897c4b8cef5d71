// SNS Publish over the query protocol: a form body, SigV4 for service "sns".
#include "delivery/sns_channel.hpp"

#include <utility>

#include "delivery/aws_call.hpp"
#include "net/url_text.hpp"

namespace otpd::delivery {
namespace {

constexpr std::chrono::milliseconds kTimeout{10000};

}  // namespace

std::string sns_request_body(const Message& message) {
  // A form body, so a space may be '+' (the SDKs send it so); only the body's hash is signed,
  // never its canonical form, so the encoding does not touch the signature.
  return "Action=Publish&Version=2010-03-31&PhoneNumber=" + net::form_urlencode(message.to) +
         "&Message=" + net::form_urlencode(message.text) +
         "&MessageAttributes.entry.1.Name=AWS.SNS.SMS.SMSType"
         "&MessageAttributes.entry.1.Value.DataType=String"
         "&MessageAttributes.entry.1.Value.StringValue=Transactional";
}

SnsSmsChannel::SnsSmsChannel(std::shared_ptr<net::HttpClient> client,
                             std::shared_ptr<aws::CredentialProvider> credentials,
                             const core::TimeSource& clock, std::string region,
                             std::string endpoint)
    : client_(std::move(client)),
      credentials_(std::move(credentials)),
      clock_(clock),
      region_(std::move(region)) {
  if (endpoint.empty()) endpoint = "https://sns." + region_ + ".amazonaws.com";
  url_ = net::without_trailing_slash(std::move(endpoint)) + "/";
}

boost::asio::awaitable<Attempt> SnsSmsChannel::deliver(const Message& message) {
  net::HttpRequest request;
  request.method = "POST";
  request.url = url_;
  request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
  request.body = sns_request_body(message);
  request.timeout = kTimeout;
  co_return co_await call_aws(*client_, *credentials_, clock_, std::move(request), region_, "sns",
                              "sns");
}

}  // namespace otpd::delivery
