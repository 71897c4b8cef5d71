// DynamoDB error answers mapped to DynamoErrc, with the cancellation reasons decoded.
#include "aws/dynamodb_error.hpp"

#include <algorithm>
#include <array>
#include <boost/json/parse.hpp>
#include <boost/throw_exception.hpp>
#include <stdexcept>

#include "aws/error.hpp"

namespace otpd::aws {
namespace {

class DynamoCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "dynamodb"; }
  std::string message(int value) const override {
    switch (static_cast<DynamoErrc>(value)) {
      case DynamoErrc::kConditionFailed:
        return "condition failed";
      case DynamoErrc::kTransactionCanceled:
        return "transaction cancelled";
      case DynamoErrc::kResourceNotFound:
        return "table or index not found";
      case DynamoErrc::kResourceInUse:
        return "table in use";
      case DynamoErrc::kInvalidRequest:
        return "invalid request";
      case DynamoErrc::kAccessDenied:
        return "access denied";
      case DynamoErrc::kUnavailable:
        return "unavailable";
      case DynamoErrc::kBadResponse:
        return "bad response";
    }
    return "unknown dynamodb error";
  }
};

template <std::size_t N>
bool one_of(std::string_view code, const std::array<std::string_view, N>& codes) {
  return std::find(codes.begin(), codes.end(), code) != codes.end();
}

// Worth the same request again after a pause.
constexpr std::array<std::string_view, 9> kRetryableCodes{
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
    "TransactionInProgressException",
    "LimitExceededException",  // too many table operations at once
    "InternalFailure"};

constexpr std::array<std::string_view, 9> kAccessCodes{"UnrecognizedClientException",
                                                       "AccessDeniedException",
                                                       "MissingAuthenticationTokenException",
                                                       "MissingAuthenticationToken",
                                                       "InvalidSignatureException",
                                                       "IncompleteSignatureException",
                                                       "InvalidClientTokenId",
                                                       "ExpiredTokenException",
                                                       "ExpiredToken"};

// Reasons that say "not now" rather than "no".
constexpr std::array<std::string_view, 4> kTransientReasons{
    "None", "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"};

DynamoErrc errc_of(int status, std::string_view code) {
  if (code == "ConditionalCheckFailedException") return DynamoErrc::kConditionFailed;
  if (code == "TransactionCanceledException") return DynamoErrc::kTransactionCanceled;
  if (code == "ResourceNotFoundException") return DynamoErrc::kResourceNotFound;
  if (code == "ResourceInUseException") return DynamoErrc::kResourceInUse;
  if (one_of(code, kRetryableCodes) || is_throttling_error(code)) return DynamoErrc::kUnavailable;
  if (one_of(code, kAccessCodes)) return DynamoErrc::kAccessDenied;
  if (status >= 500 || status == 429) return DynamoErrc::kUnavailable;
  if (status == 403 && code.empty()) return DynamoErrc::kAccessDenied;
  return DynamoErrc::kInvalidRequest;
}

std::vector<CancellationReason> reasons_of(const boost::json::object& body) {
  std::vector<CancellationReason> reasons;
  const auto* list = body.if_contains("CancellationReasons");
  if (list == nullptr || !list->is_array()) return reasons;
  for (const auto& entry : list->as_array()) {
    CancellationReason reason;
    if (entry.is_object()) {
      const auto& object = entry.as_object();
      if (const auto* code = object.if_contains("Code"); code != nullptr && code->is_string()) {
        reason.code = code->as_string();
      }
      if (const auto* item = object.if_contains("Item")) reason.item = item_from_json(*item);
    }
    reasons.push_back(std::move(reason));
  }
  return reasons;
}

}  // namespace

const boost::system::error_category& dynamodb_category() {
  static const DynamoCategory category;
  return category;
}

boost::system::error_code make_error_code(DynamoErrc e) {
  return {static_cast<int>(e), dynamodb_category()};
}

void throw_exception_from_error(const DynamoError& error, const boost::source_location& location) {
  boost::throw_exception(
      std::runtime_error("dynamodb: " + error.code().message() +
                         (error.aws_code.empty() ? "" : " (" + error.aws_code + ")")),
      location);
}

namespace dynamodb_detail {

DynamoError error_of(const net::HttpResponse& response) {
  DynamoError error;
  error.http_status = response.status;
  if (response.status == 0) {
    error.errc = DynamoErrc::kUnavailable;
    error.detail = response.error;
    return error;
  }
  error.aws_code = error_code_of(response);
  error.errc = errc_of(response.status, error.aws_code);
  if (error.errc == DynamoErrc::kTransactionCanceled ||
      error.errc == DynamoErrc::kConditionFailed) {
    boost::system::error_code ec;
    const auto body = boost::json::parse(response.body, ec);
    if (!ec && body.is_object()) {
      error.reasons = reasons_of(body.as_object());
      if (const auto* item = body.as_object().if_contains("Item")) {
        error.item = item_from_json(*item);
      }
    }
  }
  return error;
}

bool only_transient_reasons(const std::vector<CancellationReason>& reasons) {
  const bool all_transient = std::all_of(reasons.begin(), reasons.end(), [](const auto& r) {
    return one_of(r.code, kTransientReasons);
  });
  const bool some_reason =
      std::any_of(reasons.begin(), reasons.end(), [](const auto& r) { return r.code != "None"; });
  return all_transient && some_reason;
}

bool is_retryable(const DynamoError& error) {
  if (error.errc == DynamoErrc::kUnavailable) return true;
  return error.errc == DynamoErrc::kTransactionCanceled && only_transient_reasons(error.reasons);
}

}  // namespace dynamodb_detail

}  // namespace otpd::aws
