// Problems: what a request is refused with, as a value the service returns, and the one
// table that maps each to its HTTP status, `code` and title (RFC 9457 problem+json).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "api/message.hpp"
#include "core/errc.hpp"
#include "core/types.hpp"
#include "core/verification.hpp"

namespace otpd::api {

struct FieldError {
  std::string field;
  std::string message;
};

struct Problem {
  Errc code = Errc::kInternal;
  std::string detail;
  core::Seconds retry_after{0};           // > 0: a Retry-After header and member
  std::optional<int> attempts_remaining;  // invalid_code, max_attempts
  std::vector<FieldError> errors;         // invalid_request
  std::optional<core::Status> status;     // not_found of a known verification: what it is now
  std::string allow;                      // method_not_allowed: the Allow header

  static Problem of(Errc code, std::string detail, core::Seconds retry_after = core::Seconds(0)) {
    Problem p;
    p.code = code;
    p.detail = std::move(detail);
    p.retry_after = retry_after;
    return p;
  }
};

// Field errors collected while reading a request, then one 400 invalid_request for all of
// them, one per field. At most kMaxEchoed are listed (a body of unknown names must not make an
// answer larger than itself); the rest are counted.
class FieldErrors {
 public:
  static constexpr std::size_t kMaxEchoed = 10;
  void add(std::string field, std::string message);
  bool empty() const { return errors_.empty() && dropped_ == 0; }
  Problem problem() const;

 private:
  std::vector<FieldError> errors_;
  std::size_t dropped_ = 0;
};

// Either a value or the problem that stopped it.
template <typename T>
class Outcome {
 public:
  Outcome(T value) : v_(std::move(value)) {}            // NOLINT: implicit by design
  Outcome(Problem problem) : v_(std::move(problem)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  const T& value() const { return std::get<0>(v_); }
  T& value() { return std::get<0>(v_); }
  const Problem& problem() const { return std::get<1>(v_); }

 private:
  std::variant<T, Problem> v_;
};

// The HTTP status of a problem code (the one table).
int http_status(Errc code);
// The standard reason phrase for a status ("Unprocessable Content" for 422...): a
// problem's title is its status line's reason phrase.
std::string_view reason_phrase(int status);

// problem+json: {"type":"about:blank","title","status","code","detail", ...extras}, with
// Retry-After and Allow headers when the problem carries them.
Response problem_response(const Problem& problem);
inline Response problem_response(Errc code, std::string detail,
                                 core::Seconds retry_after = core::Seconds(0)) {
  return problem_response(Problem::of(code, std::move(detail), retry_after));
}

}  // namespace otpd::api
