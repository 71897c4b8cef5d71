// DynamoDB's failures as values: what kind of failure (DynamoErrc), the AWS error code, the
// per-action reasons of a cancelled transaction, and which failures are worth retrying.
#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "aws/dynamodb_value.hpp"
#include "net/http_client.hpp"

namespace otpd::aws {

enum class DynamoErrc {
  // ConditionalCheckFailedException: a single-item write's ConditionExpression was false.
  kConditionFailed = 1,
  // TransactionCanceledException: nothing was written; DynamoError::reasons says why, per
  // action.
  kTransactionCanceled,
  // ResourceNotFoundException: no such table or index (or it is not ACTIVE yet).
  kResourceNotFound,
  // ResourceInUseException: CreateTable of a table that exists, or one being created/deleted.
  kResourceInUse,
  // The request is wrong (ValidationException, SerializationException, an unknown operation,
  // an item too large...): a bug in the caller, never worth a retry.
  kInvalidRequest,
  // No credentials, or AWS refused them (UnrecognizedClientException, AccessDeniedException,
  // InvalidSignatureException...).
  kAccessDenied,
  // DynamoDB could not be reached or kept answering retryable errors (throttling, 5xx,
  // transaction conflicts) until the operation's deadline.
  kUnavailable,
  // A 2xx answer that is not what the operation returns.
  kBadResponse,
};

const boost::system::error_category& dynamodb_category();
boost::system::error_code make_error_code(DynamoErrc e);

// Why one action of a cancelled transaction (TransactWriteItems or TransactGetItems) failed.
struct CancellationReason {
  // "None" (this action was fine), "ConditionalCheckFailed", "TransactionConflict",
  // "ItemCollectionSizeLimitExceeded", "ThrottlingError", "ProvisionedThroughputExceeded",
  // "ValidationError"...
  std::string code{};
  // The item as it is, when the action asked for it (return_item_on_condition_failure) and
  // its condition failed.
  std::optional<Item> item{};

  bool condition_failed() const { return code == "ConditionalCheckFailed"; }
};

// Never holds AWS's message text: it can repeat request data (key values, expressions), and
// callers log errors.
struct DynamoError {
  DynamoErrc errc = DynamoErrc::kUnavailable;
  std::string aws_code{};  // "ConditionalCheckFailedException"...; "" when there was no answer
  int http_status = 0;     // of the last answer; 0 when there was none
  // Why no answer came: the HTTP client's error text ("timeout", "connection refused"...)
  // or "no AWS credentials".
  std::string detail{};
  // kTransactionCanceled (and kUnavailable after repeated conflicts): one per action, in
  // request order.
  std::vector<CancellationReason> reasons{};
  // kConditionFailed of a write that asked for it (return_item_on_condition_failure): the
  // item as it is.
  std::optional<Item> item{};
  int attempts = 0;  // requests sent for the operation

  boost::system::error_code code() const { return make_error_code(errc); }
};

// throw_exception_from_error is how boost::system::result<T, DynamoError>::value() reports
// the error of a result without a value: a programming error, hence an exception.
[[noreturn]] void throw_exception_from_error(const DynamoError& error,
                                             const boost::source_location& location);

template <typename T>
using DynamoResult = boost::system::result<T, DynamoError>;

namespace dynamodb_detail {

// A non-2xx answer (or no answer: status 0) as a DynamoError, its reasons and item decoded.
DynamoError error_of(const net::HttpResponse& response);

// Whether sending the same request again may succeed: no answer, 5xx, throttling, transient
// conflicts (TransactionConflictException, TransactionInProgressException, and a cancelled
// transaction that only_transient_reasons).
bool is_retryable(const DynamoError& error);

// Whether a cancelled transaction failed only for passing reasons: every reason a conflict,
// throttling or None, and at least one not None.
bool only_transient_reasons(const std::vector<CancellationReason>& reasons);

}  // namespace dynamodb_detail

}  // namespace otpd::aws

template <>
struct boost::system::is_error_code_enum<otpd::aws::DynamoErrc> : std::true_type {};
