// SES v2 SendEmail: a JSON body, SigV4 for service "ses".
#include "delivery/ses_channel.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <utility>

#include "delivery/aws_call.hpp"
#include "net/url_text.hpp"

namespace otpd::delivery {
namespace {

constexpr std::chrono::milliseconds kTimeout{10000};

boost::json::object content(const std::string& data) {
  return {{"Data", data}, {"Charset", "UTF-8"}};
}

}  // namespace

std::string ses_request_body(const std::string& from, const Message& message) {
  boost::json::object body;
  body["Text"] = content(message.text);
  if (!message.html.empty()) body["Html"] = content(message.html);
  boost::json::object simple;
  simple["Subject"] = content(message.subject);
  simple["Body"] = std::move(body);
  boost::json::object request;
  request["FromEmailAddress"] = from;
  request["Destination"] = {{"ToAddresses", boost::json::array{message.to}}};
  request["Content"] = {{"Simple", std::move(simple)}};
  return boost::json::serialize(request);
}

SesEmailChannel::SesEmailChannel(std::shared_ptr<net::HttpClient> client,
                                 std::shared_ptr<aws::CredentialProvider> credentials,
                                 const core::TimeSource& clock, std::string region,
                                 std::string from, std::string endpoint)
    : client_(std::move(client)),
      credentials_(std::move(credentials)),
      clock_(clock),
      region_(std::move(region)),
      from_(std::move(from)) {
  if (endpoint.empty()) endpoint = "https://email." + region_ + ".amazonaws.com";
  url_ = net::without_trailing_slash(std::move(endpoint)) + "/v2/email/outbound-emails";
}

boost::asio::awaitable<Attempt> SesEmailChannel::deliver(const Message& message) {
  net::HttpRequest request;
  request.method = "POST";
  request.url = url_;
  request.headers.emplace_back("Content-Type", "application/json");
  request.body = ses_request_body(from_, message);
  request.timeout = kTimeout;
  co_return co_await call_aws(*client_, *credentials_, clock_, std::move(request), region_, "ses",
                              "ses");
}

}  // namespace otpd::delivery
