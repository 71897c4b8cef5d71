// The custom runtime's loop: each invocation's API Gateway event through the API's Handler,
// and its answer back to the Runtime API, one invocation at a time.
#pragma once

#include <chrono>
#include <string>
#include <variant>

#include "api/handler.hpp"
#include "core/task.hpp"
#include "lambda/event.hpp"
#include "lambda/runtime_client.hpp"

namespace otpd::lambda {

struct RuntimeOptions {
  EventLimits limits;
  // The answer goes out this long before Lambda's deadline at the latest (503 unavailable
  // when the handler is not done), rather than Lambda stopping the invocation unanswered.
  std::chrono::milliseconds deadline_margin{250};
};

// What an invocation ends with: the proxy response document to post, or an error for a
// malformed event.
using InvocationOutcome = std::variant<std::string, RuntimeError>;

// Decodes the event, sets _X_AMZN_TRACE_ID to its trace id (as AWS SDKs and X-Ray expect it
// in a custom runtime), awaits the handler to completion (or the deadline), and encodes the
// answer in the event's payload format. Never throws. REQUIRES: the only thread running the
// executor (the environment is changed).
Task<InvocationOutcome> handle_invocation(api::Handler& handler, const Invocation& invocation,
                                          const RuntimeOptions& options);

// Polls the Runtime API and answers every invocation until the Runtime API cannot be
// reached; returns the process's exit status. REQUIRES: as handle_invocation.
Task<int> run_runtime(RuntimeClient& client, api::Handler& handler, RuntimeOptions options);

}  // namespace otpd::lambda
