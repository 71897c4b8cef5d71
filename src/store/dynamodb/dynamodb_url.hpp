// The `store` URL of the DynamoDB backend: dynamodb://TABLE?region=R&endpoint=URL&timeout_ms=N.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace otpd::store {

struct DynamoDbUrl {
  std::string table;     // 3-255 of [A-Za-z0-9_.-], as DynamoDB names tables
  std::string region;    // "" when the URL names none: AWS_REGION / AWS_DEFAULT_REGION then
  std::string endpoint;  // "" for DynamoDB itself; DynamoDB Local: http://127.0.0.1:8000
  // The whole of one store operation (its reads, its commit and the retries of both).
  std::chrono::milliseconds timeout{2000};
};

// The URL's parts, or nullopt with `why` set to what to fix (the URL itself is never echoed).
// Query values may be percent-encoded; an unknown parameter is an error, not ignored.
std::optional<DynamoDbUrl> parse_dynamodb_url(std::string_view url, std::string& why);

}  // namespace otpd::store
