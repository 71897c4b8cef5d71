// One invocation through handle_invocation: the handler awaited, the answer in the event's
// format, malformed and oversized events, the limits, the deadline and the trace id.
#include "lambda/runtime.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <cstdlib>
#include <stdexcept>

#include "sample_events.hpp"

namespace otpd::lambda {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using ::testing::HasSubstr;

// Answers 200 with what it saw, after an optional delay; counts its calls.
class EchoHandler final : public api::Handler {
 public:
  Task<api::Response> handle(api::Request request) override {
    ++calls;
    if (const char* trace = std::getenv("_X_AMZN_TRACE_ID")) seen_trace = trace;
    if (delay.count() > 0) {
      asio::steady_timer timer(co_await asio::this_coro::executor, delay);
      co_await timer.async_wait(asio::use_awaitable);
    }
    if (throw_instead) throw std::runtime_error("broken promise");
    api::Response r;
    r.set_header("Content-Type", "text/plain");
    if (!omit_request_id) r.set_header("X-Request-Id", "from-handler");
    r.body = request.method + " " + request.target + " " + request.body;
    co_return r;
  }
  int calls = 0;
  std::string seen_trace;
  std::chrono::milliseconds delay{0};
  bool throw_instead = false;
  bool omit_request_id = false;
};

// Runs one invocation to its outcome; a handler still running afterwards is abandoned.
InvocationOutcome run(api::Handler& handler, const Invocation& invocation,
                      RuntimeOptions options = {}) {
  asio::io_context io;
  std::optional<InvocationOutcome> outcome;
  asio::co_spawn(io, handle_invocation(handler, invocation, options),
                 [&](std::exception_ptr e, InvocationOutcome o) {
                   if (e) std::rethrow_exception(e);
                   outcome = std::move(o);
                   io.stop();
                 });
  io.run();
  EXPECT_TRUE(outcome);
  return outcome ? std::move(*outcome) : InvocationOutcome{RuntimeError{}};
}

json::value response_of(const InvocationOutcome& outcome) {
  const auto* doc = std::get_if<std::string>(&outcome);
  EXPECT_NE(doc, nullptr) << "expected a response, got an error";
  return doc ? json::parse(*doc) : json::value();
}

Invocation invocation_of(std::string event) {
  Invocation invocation;
  invocation.request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";
  invocation.deadline = std::chrono::system_clock::now() + std::chrono::seconds(30);
  invocation.trace_id =
      "Root=1-5bef4de7-ad49b0e87f6ef6c87fc2e700;Parent=9a9197af755a6419;Sampled=1";
  invocation.event = std::move(event);
  return invocation;
}

TEST(HandleInvocation, AwaitsTheHandlerAndAnswersInTheEventsFormat) {
  EchoHandler handler;
  handler.delay = std::chrono::milliseconds(5);
  const auto v2 =
      response_of(run(handler, invocation_of(testing::sample_text("http_v2_send.json"))));
  EXPECT_EQ(v2.at("statusCode"), 200);
  EXPECT_EQ(v2.at("body"), "POST /v1/otp/send {\"to\":\"alice@example.com\"}");
  EXPECT_FALSE(v2.as_object().contains("multiValueHeaders"));

  const auto v1 =
      response_of(run(handler, invocation_of(testing::sample_text("rest_v1_compat_post.json"))));
  EXPECT_EQ(v1.at("multiValueHeaders").at("Content-Type"), json::array{"text/plain"});
  EXPECT_EQ(handler.calls, 2);
}

TEST(HandleInvocation, SetsTheTraceIdForTheHandler) {
  EchoHandler handler;
  auto invocation = invocation_of(testing::sample_text("http_v2_send.json"));
  run(handler, invocation);
  EXPECT_EQ(handler.seen_trace, invocation.trace_id);
  invocation.trace_id = "";
  run(handler, invocation);
  EXPECT_EQ(std::getenv("_X_AMZN_TRACE_ID"), nullptr);
}

TEST(HandleInvocation, AddsTheRequestIdWhenTheHandlerDidNot) {
  EchoHandler handler;
  handler.omit_request_id = true;
  const auto doc =
      response_of(run(handler, invocation_of(testing::sample_text("http_v2_base64_stage.json"))));
  EXPECT_EQ(doc.at("headers").at("X-Request-Id"), "client-chosen-id-42");
}

TEST(HandleInvocation, MalformedEventIsAnError) {
  EchoHandler handler;
  const auto outcome = run(handler, invocation_of("{\"version\":\"2.0\"}"));
  const auto* error = std::get_if<RuntimeError>(&outcome);
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->type, "otpd.InvalidEvent");
  EXPECT_THAT(error->message, HasSubstr("requestContext: missing"));
  EXPECT_EQ(handler.calls, 0);
}

TEST(HandleInvocation, RefusalsNeverReachTheHandler) {
  EchoHandler handler;
  auto shape = testing::sample("http_v2_send.json");
  shape["body"] = std::string(17 * 1024, 'x');
  const auto doc = response_of(run(handler, invocation_of(testing::text(shape))));
  EXPECT_EQ(doc.at("statusCode"), 413);
  EXPECT_EQ(handler.calls, 0);
  EXPECT_EQ(doc.at("headers").at("Content-Type"), "application/problem+json");
}

TEST(HandleInvocation, OversizedEventGetsA413BothFormatsAccept) {
  EchoHandler handler;
  Invocation invocation = invocation_of("");
  invocation.oversized = true;
  const auto doc = response_of(run(handler, invocation));
  EXPECT_EQ(doc.at("statusCode"), 413);
  const auto& keys = doc.as_object();
  for (const auto& [key, value] : keys) {
    EXPECT_TRUE(key == "statusCode" || key == "headers" || key == "body" ||
                key == "isBase64Encoded")
        << key;
  }
  EXPECT_EQ(handler.calls, 0);
}

TEST(HandleInvocation, AThrowingHandlerCostsOne500) {
  EchoHandler handler;
  handler.throw_instead = true;
  const auto doc =
      response_of(run(handler, invocation_of(testing::sample_text("http_v2_send.json"))));
  EXPECT_EQ(doc.at("statusCode"), 500);
  EXPECT_THAT(std::string(doc.at("body").as_string()), HasSubstr("\"code\":\"internal\""));
}

TEST(HandleInvocation, AnswersBeforeTheDeadline) {
  EchoHandler handler;
  handler.delay = std::chrono::seconds(30);
  Invocation invocation = invocation_of(testing::sample_text("http_v2_send.json"));
  invocation.deadline = std::chrono::system_clock::now() + std::chrono::milliseconds(300);
  const auto doc = response_of(run(handler, invocation));
  EXPECT_EQ(doc.at("statusCode"), 503);
  EXPECT_EQ(doc.at("headers").at("Retry-After"), "1");
  EXPECT_THAT(std::string(doc.at("body").as_string()), HasSubstr("\"code\":\"unavailable\""));
}

}  // namespace
}  // namespace otpd::lambda
