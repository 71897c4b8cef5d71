// HTTP Basic authentication of the Twilio-compatible API, as Twilio's SDKs send it: the
// Account SID and an auth token, or an API key SID (SK…) and its secret. Only SHA-256
// hashes of tokens and secrets are configured, as with API keys.
#pragma once

#include <optional>
#include <string>

#include "api/message.hpp"
#include "config/config.hpp"

namespace otpd::api {

class TwilioCredentials {
 public:
  // `config` must outlive this object. Thread-safe (read-only).
  explicit TwilioCredentials(const config::TwilioConfig& config) : config_(config) {}

  // The lower-case hex SHA-256 of the token or secret the request authenticated with (a
  // stable name for the credential, for the per-key request rate), or nullopt when the
  // Authorization header is missing, malformed or names no configured credential.
  std::optional<std::string> authenticate(const Request& request) const;

 private:
  const config::TwilioConfig& config_;
};

// "user:password" from an `Authorization: Basic …` value; nullopt when it is not one.
std::optional<std::pair<std::string, std::string>> parse_basic_authorization(
    std::string_view header);

}  // namespace otpd::api
