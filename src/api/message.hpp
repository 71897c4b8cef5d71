// Transport-neutral HTTP request and response: what the router sees instead of a socket or
// a Lambda event, so both transports (and the tests) share every handler.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace otpd::api {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct Request {
  std::string method;  // upper case: "GET", "POST"
  std::string target;  // path and query as sent: "/v1/otp/abc?x=1"
  HeaderList headers;
  std::string body;
  std::string remote_address;  // for logs only

  // First header of that name (case-insensitive), if any.
  std::optional<std::string_view> header(std::string_view name) const;
};

struct Response {
  int status = 200;
  HeaderList headers;  // Content-Type is among them when there is a body
  std::string body;
  // The problem's `code` when this is a problem+json answer, for the access log; never sent.
  std::string_view problem_code;

  void set_header(std::string name, std::string value);
  std::optional<std::string_view> header(std::string_view name) const;
};

// Case-insensitive ASCII comparison, as HTTP field names require.
bool iequals(std::string_view a, std::string_view b);

}  // namespace otpd::api
