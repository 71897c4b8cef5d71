// The DynamoDB client's test server: the support CannedServer with a script (its n-th request
// answered with the n-th response, the last one repeated, or none answered at all), plus
// DynamoDB-shaped answers. The client's retries, deadlines and error mapping are driven
// through it.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "../support/canned_http_server.hpp"

namespace otpd::aws::testing {

// A DynamoDB-style answer: JSON 1.0 body, closed connection.
inline std::string dynamo_answer(int status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

inline std::string dynamo_error(int status, const std::string& type,
                                const std::string& extra_members = "") {
  return dynamo_answer(status, R"({"__type":"com.amazonaws.dynamodb.v20120810#)" + type +
                                   R"(","message":"secret item text 123456")" + extra_members +
                                   "}");
}

// The support server driven by a script, its requests parsed.
class ScriptedServer : public testing_support::CannedServer {
 public:
  // An empty script: never answer (read the request, then hold the connection open).
  explicit ScriptedServer(std::vector<std::string> script) : CannedServer(std::move(script)) {}

  std::vector<testing_support::Parsed> requests() {
    std::vector<testing_support::Parsed> out;
    for (const auto& raw : CannedServer::requests()) {
      out.push_back(testing_support::parse_request(raw));
    }
    return out;
  }
};

}  // namespace otpd::aws::testing
