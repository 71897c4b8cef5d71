// The Runtime API client against a loopback server with canned answers: what it sends, what
// it reads from the Lambda-Runtime-* headers, and its failures as values.
#include "lambda/runtime_client.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "../../unit/support/canned_http_server.hpp"

namespace otpd::lambda {
namespace {

namespace asio = boost::asio;
using ::testing::HasSubstr;
using testing_support::CannedServer;

template <typename T>
T run(asio::io_context& io, Task<T> task) {
  std::optional<T> result;
  asio::co_spawn(io, std::move(task), [&](std::exception_ptr e, T value) {
    if (e) std::rethrow_exception(e);
    result.emplace(std::move(value));
  });
  io.restart();
  io.run();
  return std::move(*result);
}

std::string endpoint(const CannedServer& server) {
  return "127.0.0.1:" + std::to_string(server.port());
}

TEST(RuntimeClient, NextReadsTheInvocation) {
  CannedServer server(
      "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: 8476a536-e9f4-11e8-9739-2dfe598c3fcd\r\n"
      "Lambda-Runtime-Deadline-Ms: 1542409706888\r\n"
      "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-2:123456789012:function:f\r\n"
      "Lambda-Runtime-Trace-Id: Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=1\r\n"
      "Content-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"a\":\"b\"} \n");
  asio::io_context io;
  RuntimeClient client(io.get_executor(), endpoint(server), 1024);
  auto invocation = run(io, client.next());
  ASSERT_TRUE(invocation) << invocation.error().message();
  EXPECT_EQ(invocation->request_id, "8476a536-e9f4-11e8-9739-2dfe598c3fcd");
  ASSERT_TRUE(invocation->deadline);
  EXPECT_EQ(invocation->deadline->time_since_epoch(), std::chrono::milliseconds(1542409706888));
  EXPECT_EQ(invocation->trace_id, "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Sampled=1");
  EXPECT_EQ(invocation->function_arn, "arn:aws:lambda:us-east-2:123456789012:function:f");
  EXPECT_EQ(invocation->event, "{\"a\":\"b\"} \n");
  EXPECT_FALSE(invocation->oversized);
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_THAT(server.requests()[0], HasSubstr("GET /2018-06-01/runtime/invocation/next HTTP/1.1"));
  EXPECT_THAT(server.requests()[0], HasSubstr("Host: " + endpoint(server)));
}

TEST(RuntimeClient, EventsOverTheBoundAreNotRead) {
  CannedServer server(
      "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: abc\r\n"
      "Content-Length: 2048\r\n\r\n" +
      std::string(2048, 'x'));
  asio::io_context io;
  RuntimeClient client(io.get_executor(), endpoint(server), 1024);
  auto invocation = run(io, client.next());
  ASSERT_TRUE(invocation);
  EXPECT_TRUE(invocation->oversized);
  EXPECT_EQ(invocation->request_id, "abc");
  EXPECT_EQ(invocation->event, "");
}

TEST(RuntimeClient, InvocationWithoutRequestIdIsAnError) {
  CannedServer server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
  asio::io_context io;
  RuntimeClient client(io.get_executor(), endpoint(server), 1024);
  auto invocation = run(io, client.next());
  ASSERT_FALSE(invocation);
  EXPECT_EQ(invocation.error(), RuntimeApiErrc::kMissingRequestId);
}

TEST(RuntimeClient, PostsResponsesAndErrors) {
  CannedServer server("HTTP/1.1 202 Accepted\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}");
  asio::io_context io;
  RuntimeClient client(io.get_executor(), endpoint(server), 1024);
  EXPECT_TRUE(run(io, client.post_response("id-1", "{\"statusCode\":200}")));
  EXPECT_TRUE(run(io, client.post_error("id/2", {"otpd.InvalidEvent", "rawPath: missing"})));
  EXPECT_TRUE(run(io, client.post_init_error({"otpd.ConfigError", "config error: x"})));
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_THAT(requests[0], HasSubstr("POST /2018-06-01/runtime/invocation/id-1/response "));
  EXPECT_THAT(requests[0], HasSubstr("\r\n\r\n{\"statusCode\":200}"));
  // The request id goes into the path escaped.
  EXPECT_THAT(requests[1], HasSubstr("POST /2018-06-01/runtime/invocation/id%2F2/error "));
  EXPECT_THAT(requests[1], HasSubstr("Lambda-Runtime-Function-Error-Type: otpd.InvalidEvent"));
  EXPECT_THAT(requests[1], HasSubstr("{\"errorMessage\":\"rawPath: missing\",\"errorType\":"
                                     "\"otpd.InvalidEvent\",\"stackTrace\":[]}"));
  EXPECT_THAT(requests[2], HasSubstr("POST /2018-06-01/runtime/init/error "));
}

TEST(RuntimeClient, UnexpectedStatusIsAnError) {
  CannedServer server("HTTP/1.1 413 Too Large\r\nContent-Length: 2\r\n\r\n{}");
  asio::io_context io;
  RuntimeClient client(io.get_executor(), endpoint(server), 1024);
  auto posted = run(io, client.post_response("id-1", "{}"));
  ASSERT_FALSE(posted);
  EXPECT_EQ(posted.error(), RuntimeApiErrc::kUnexpectedStatus);
  EXPECT_FALSE(run(io, client.next()));
}

TEST(RuntimeClient, UnreachableRuntimeApiIsAnError) {
  unsigned short port;
  {
    CannedServer gone("HTTP/1.1 200 OK\r\n\r\n");
    port = gone.port();
  }
  asio::io_context io;
  RuntimeClient client(io.get_executor(), "127.0.0.1:" + std::to_string(port), 1024);
  EXPECT_FALSE(run(io, client.next()));
}

TEST(RuntimeClient, EndpointNeedsAPort) {
  asio::io_context io;
  EXPECT_THROW(RuntimeClient(io.get_executor(), "localhost", 1), std::invalid_argument);
  EXPECT_THROW(RuntimeClient(io.get_executor(), "localhost:", 1), std::invalid_argument);
  EXPECT_NO_THROW(RuntimeClient(io.get_executor(), "[::1]:9001", 1));
}

}  // namespace
}  // namespace otpd::lambda
