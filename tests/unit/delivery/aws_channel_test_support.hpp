// Shared by the SES and SNS channel tests: a provider with fixed keys, a run helper, and the
// check that a received request's Authorization is what botocore computes for its bytes.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <map>
#include <memory>
#include <string>

#include "../aws/botocore_oracle.hpp"
#include "../support/canned_http_server.hpp"
#include "aws/credentials.hpp"
#include "core/clock.hpp"
#include "delivery/channel.hpp"

namespace otpd::delivery::testing {

// 2015-08-30T12:36:00Z
inline const core::TimePoint kAwsTime = core::from_unix_ms(1440938160000LL);

// AWS_* variables for a provider; with no keys and IMDS disabled it has none.
inline std::shared_ptr<aws::CredentialProvider> fixed_credentials(
    const std::shared_ptr<net::HttpClient>& client, const core::TimeSource& clock,
    std::map<std::string, std::string> env) {
  env["AWS_EC2_METADATA_DISABLED"] = "true";
  auto shared = std::make_shared<const std::map<std::string, std::string>>(std::move(env));
  return std::make_shared<aws::CredentialProvider>(
      client, clock, [shared](const char* name) -> const char* {
        auto it = shared->find(name);
        return it == shared->end() ? nullptr : it->second.c_str();
      });
}

// Rebuilds the request the channel signed from the bytes the server received, asks botocore
// to sign it at the same time with the same keys, and compares.
inline void expect_botocore_agrees(const testing_support::Parsed& received, const std::string& url,
                                   const aws::Credentials& keys, const std::string& region,
                                   const std::string& service) {
  aws::testing::OracleCase c;
  c.request.method = received.request_line.substr(0, received.request_line.find(' '));
  c.request.url = url;
  for (const auto& [name, value] : received.headers) {
    if (name == "authorization" || name == "x-amz-date" || name == "x-amz-security-token" ||
        name == "host" || name == "user-agent" || name == "content-length") {
      continue;
    }
    c.request.headers.emplace_back(name, value);
  }
  c.request.body = received.body;
  c.credentials = keys;
  c.region = region;
  c.service = service;
  c.timestamp = received.headers.at("x-amz-date");
  const auto theirs = aws::testing::botocore_sign({c});
  ASSERT_TRUE(theirs.has_value());
  ASSERT_EQ(theirs->size(), 1u);
  EXPECT_EQ(received.headers.at("authorization"), (*theirs)[0]);
}

}  // namespace otpd::delivery::testing
