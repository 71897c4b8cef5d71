// The Lambda Runtime API (version 2018-06-01) as seen from a custom runtime: wait for the
// next invocation, post its response or error, or report a failed start. Plain HTTP/1.1 over
// one keep-alive connection to AWS_LAMBDA_RUNTIME_API.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "core/task.hpp"

namespace otpd::lambda {

enum class RuntimeApiErrc {
  kUnexpectedStatus = 1,  // the Runtime API answered with a status the protocol does not use
  kMissingRequestId,      // an invocation without Lambda-Runtime-Aws-Request-Id
};
const boost::system::error_category& runtime_api_category();
boost::system::error_code make_error_code(RuntimeApiErrc e);

struct Invocation {
  std::string request_id;  // Lambda-Runtime-Aws-Request-Id
  // Lambda-Runtime-Deadline-Ms: when Lambda stops the invocation; nullopt when not sent.
  std::optional<std::chrono::system_clock::time_point> deadline;
  std::string trace_id;      // Lambda-Runtime-Trace-Id (X-Ray), "" when not sent
  std::string function_arn;  // Lambda-Runtime-Invoked-Function-Arn
  std::string event;
  // The event was larger than the client's bound and was not read: `event` is empty, and
  // the invocation still needs an answer.
  bool oversized = false;
};

// An error posted to the Runtime API: errorType and errorMessage of its JSON body.
struct RuntimeError {
  std::string type;  // also sent as Lambda-Runtime-Function-Error-Type
  std::string message;
};

// Not thread-safe: one call at a time, from coroutines on one executor. Never throws for
// network failures: they come back as error codes. A call that finds its kept-alive
// connection closed opens a new one and tries once more.
class RuntimeClient {
 public:
  // `endpoint` is AWS_LAMBDA_RUNTIME_API: "host:port" or "[v6]:port". Throws
  // std::invalid_argument when it has no port. Events over `max_event_bytes` are not read.
  RuntimeClient(boost::asio::any_io_executor executor, std::string endpoint,
                std::size_t max_event_bytes);
  ~RuntimeClient();
  RuntimeClient(const RuntimeClient&) = delete;
  RuntimeClient& operator=(const RuntimeClient&) = delete;

  // Waits as long as Lambda takes to send the next event (no timeout: the process may be
  // frozen in between).
  Task<boost::system::result<Invocation>> next();
  Task<boost::system::result<void>> post_response(const std::string& request_id, std::string body);
  Task<boost::system::result<void>> post_error(const std::string& request_id,
                                               const RuntimeError& error);
  // Before exiting on a failed start (bad config, store unreachable).
  Task<boost::system::result<void>> post_init_error(const RuntimeError& error);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace otpd::lambda

template <>
struct boost::system::is_error_code_enum<otpd::lambda::RuntimeApiErrc> : std::true_type {};
