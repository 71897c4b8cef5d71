// Shared by the DynamoDB client's tests: credentials from a fixed environment, coroutines run
// to completion on an io_context of their own, and botocore's opinion of a received signature.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "../support/canned_http_server.hpp"
#include "aws/credentials.hpp"
#include "botocore_oracle.hpp"
#include "core/clock.hpp"
#include "core/task.hpp"
#include "net/http_client.hpp"

namespace otpd::aws::testing {

inline const Credentials kTestKeys{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "",
                                   std::nullopt};

inline std::map<std::string, std::string> env_of(const Credentials& keys) {
  std::map<std::string, std::string> env{{"AWS_ACCESS_KEY_ID", keys.access_key_id},
                                         {"AWS_SECRET_ACCESS_KEY", keys.secret_access_key}};
  if (!keys.session_token.empty()) env["AWS_SESSION_TOKEN"] = keys.session_token;
  return env;
}

// A provider that reads only `env`; IMDS is off, so without keys it has none.
inline std::shared_ptr<CredentialProvider> env_credentials(
    const std::shared_ptr<net::HttpClient>& client, const core::TimeSource& clock,
    std::map<std::string, std::string> env) {
  env["AWS_EC2_METADATA_DISABLED"] = "true";
  auto shared = std::make_shared<const std::map<std::string, std::string>>(std::move(env));
  return std::make_shared<CredentialProvider>(
      client, clock, [shared](const char* name) -> const char* {
        auto it = shared->find(name);
        return it == shared->end() ? nullptr : it->second.c_str();
      });
}

// An io_context served by `threads` threads for as long as the object lives.
class IoThreads {
 public:
  explicit IoThreads(int threads = 1) : work_(io_.get_executor()) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { io_.run(); });
  }
  ~IoThreads() {
    work_.reset();
    io_.stop();
    for (auto& t : threads_) t.join();
  }
  IoThreads(const IoThreads&) = delete;
  IoThreads& operator=(const IoThreads&) = delete;

  boost::asio::io_context& io() { return io_; }

  // Runs `task` on the pool and waits for its result.
  template <typename T>
  T run(Task<T> task) {
    return boost::asio::co_spawn(io_, std::move(task), boost::asio::use_future).get();
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::vector<std::thread> threads_;
};

// Rebuilds the request that was signed from the bytes received, has botocore sign it at the
// same time with the same keys, and compares the Authorization headers.
inline void expect_botocore_agrees(const testing_support::Parsed& received, const std::string& url,
                                   const Credentials& keys, const std::string& region,
                                   const std::string& service) {
  OracleCase c;
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
  const auto theirs = botocore_sign({c});
  ASSERT_TRUE(theirs.has_value());
  ASSERT_EQ(theirs->size(), 1u);
  EXPECT_EQ(received.headers.at("authorization"), (*theirs)[0]);
}

}  // namespace otpd::aws::testing
