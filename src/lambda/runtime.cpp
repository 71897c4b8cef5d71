// The invocation loop and the mapping of one invocation to its answer.
#include "lambda/runtime.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdlib>
#include <exception>
#include <memory>
#include <optional>

#include "api/problem.hpp"
#include "api/request_id.hpp"
#include "obs/log.hpp"

namespace otpd::lambda {

namespace asio = boost::asio;

namespace {

// The handler's answer, or nothing yet: shared with the handler's task, which may outlive
// the invocation when the deadline comes first.
struct Race {
  explicit Race(const asio::any_io_executor& executor) : timer(executor) {}
  asio::steady_timer timer;
  std::optional<api::Response> response;
};

Task<api::Response> call_handler(api::Handler& handler, api::Request request,
                                 std::optional<std::chrono::steady_clock::time_point> answer_by) {
  const auto executor = co_await asio::this_coro::executor;
  auto race = std::make_shared<Race>(executor);
  asio::co_spawn(executor, handler.handle(std::move(request)),
                 [race](std::exception_ptr failure, api::Response response) {
                   // Handlers promise not to throw; a broken promise costs one 500.
                   race->response = failure
                                        ? api::problem_response(
                                              Errc::kInternal, "the request could not be processed")
                                        : std::move(response);
                   race->timer.cancel();
                 });
  if (answer_by) {
    race->timer.expires_at(*answer_by);
  } else {
    race->timer.expires_after(std::chrono::hours(24));
  }
  while (!race->response) {
    auto [ec] = co_await race->timer.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!ec) break;  // the deadline
  }
  if (race->response) co_return std::move(*race->response);
  // The handler goes on by itself (a store write is not cut in half); its answer is dropped.
  obs::warn("invocation deadline: answered 503 before the handler finished");
  co_return api::problem_response(Errc::kUnavailable, "the request did not complete in time",
                                  core::Seconds(1));
}

std::optional<std::chrono::steady_clock::time_point> answer_deadline(
    const Invocation& invocation, std::chrono::milliseconds margin) {
  if (!invocation.deadline) return std::nullopt;
  const auto left = *invocation.deadline - std::chrono::system_clock::now() - margin;
  return std::chrono::steady_clock::now() +
         std::chrono::duration_cast<std::chrono::steady_clock::duration>(left);
}

void set_trace_id(const std::string& trace_id) {
  if (trace_id.empty()) {
    ::unsetenv("_X_AMZN_TRACE_ID");
  } else {
    ::setenv("_X_AMZN_TRACE_ID", trace_id.c_str(), 1);
  }
}

}  // namespace

Task<InvocationOutcome> handle_invocation(api::Handler& handler, const Invocation& invocation,
                                          const RuntimeOptions& options) {
  if (invocation.oversized) {
    // Unread, so its format is unknown: a 2.0 document without cookies is also a valid 1.0
    // one (statusCode, headers, body, isBase64Encoded).
    auto refusal = api::problem_response(Errc::kPayloadTooLarge,
                                         "the event exceeds what otpd reads in Lambda");
    refusal.set_header(std::string(api::kRequestIdHeader), api::new_request_id());
    co_return encode_response(PayloadFormat::kHttpV2, std::move(refusal));
  }
  set_trace_id(invocation.trace_id);
  auto decoded = decode_event(invocation.event, options.limits);
  if (!decoded) {
    co_return RuntimeError{"otpd.InvalidEvent",
                           "not an API Gateway proxy event: " + decoded.error().message};
  }
  const std::string request_id(*decoded->request.header(api::kRequestIdHeader));
  api::Response response;
  if (decoded->refusal) {
    response = std::move(*decoded->refusal);
  } else {
    response = co_await call_handler(handler, std::move(decoded->request),
                                     answer_deadline(invocation, options.deadline_margin));
  }
  if (!response.header(api::kRequestIdHeader)) {
    response.set_header(std::string(api::kRequestIdHeader), request_id);
  }
  co_return encode_response(decoded->format, std::move(response));
}

Task<int> run_runtime(RuntimeClient& client, api::Handler& handler, RuntimeOptions options) {
  for (;;) {
    auto invocation = co_await client.next();
    if (!invocation) {
      obs::error("lambda: cannot get the next invocation from the Runtime API",
                 {{"error", invocation.error().message()}});
      co_return 1;
    }
    if (obs::log_enabled(obs::Level::kDebug)) {
      obs::log(obs::Level::kDebug, "invocation",
               {{"aws_request_id", invocation->request_id},
                {"trace_id", invocation->trace_id},
                {"event_bytes", static_cast<long long>(invocation->event.size())}});
    }
    InvocationOutcome outcome = co_await handle_invocation(handler, *invocation, options);
    if (auto* document = std::get_if<std::string>(&outcome)) {
      auto posted = co_await client.post_response(invocation->request_id, std::move(*document));
      if (posted) continue;
      obs::error("lambda: the Runtime API refused the response",
                 {{"aws_request_id", invocation->request_id}, {"error", posted.error().message()}});
      // Lambda refuses oversized responses: an error still ends the invocation.
      outcome = RuntimeError{"otpd.ResponseRefused", "the Runtime API refused the response"};
    }
    const auto& error = std::get<RuntimeError>(outcome);
    obs::warn("lambda: invocation failed",
              {{"aws_request_id", invocation->request_id}, {"error_type", error.type}});
    auto posted = co_await client.post_error(invocation->request_id, error);
    if (!posted) {
      obs::error("lambda: cannot post the invocation error",
                 {{"aws_request_id", invocation->request_id}, {"error", posted.error().message()}});
    }
  }
}

}  // namespace otpd::lambda
