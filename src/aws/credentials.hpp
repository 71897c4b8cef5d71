// AWS credentials and where otpd finds them: the AWS_* environment variables (Lambda sets
// them too), the container credentials endpoint (ECS, EKS Pod Identity), then the EC2
// instance metadata service (IMDSv2).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/clock.hpp"
#include "core/types.hpp"
#include "net/http_client.hpp"

namespace otpd::aws {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;                  // "" for long-term keys
  std::optional<core::TimePoint> expires_at;  // nullopt: no expiry given
};

class CredentialProvider {
 public:
  // Reads one environment variable; nullptr when unset. Tests pass a map of their own.
  using Getenv = std::function<const char*(const char*)>;

  // Each metadata request (container endpoint, IMDS) has this deadline, so a machine that
  // has neither answers "no credentials" in about a second.
  static constexpr std::chrono::milliseconds kMetadataTimeout{1000};
  // Fetched credentials are used until this long before they expire.
  static constexpr std::chrono::minutes kRefreshBefore{5};
  // How long fetched credentials that name no expiry are kept.
  static constexpr std::chrono::minutes kNoExpiryLifetime{15};
  static constexpr std::string_view kDefaultImdsEndpoint = "http://169.254.169.254";
  static constexpr std::string_view kContainerHost = "http://169.254.170.2";

  // `getenv` defaults to std::getenv. The client and the clock must outlive the provider.
  CredentialProvider(std::shared_ptr<net::HttpClient> client, const core::TimeSource& clock,
                     Getenv getenv = {});

  // The first source that has credentials, in this order:
  //  1. AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), read on every call;
  //  2. when AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (appended to http://169.254.170.2) or
  //     AWS_CONTAINER_CREDENTIALS_FULL_URI is set: that endpoint, with the Authorization
  //     header read from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE or
  //     AWS_CONTAINER_AUTHORIZATION_TOKEN. A full URI over plain http must name a loopback
  //     address or the ECS/EKS link-local one; otherwise it is ignored. When the container
  //     variables are set, IMDS is not asked.
  //  3. unless AWS_EC2_METADATA_DISABLED=true: IMDSv2 at AWS_EC2_METADATA_SERVICE_ENDPOINT
  //     (default http://169.254.169.254): a session token, the instance role's name, then
  //     its credentials.
  // Credentials from 2 and 3 are cached until kRefreshBefore their expiry; if a refresh
  // fails while the cached ones have not yet expired, those are returned. nullopt when no
  // source has any. Never throws for network or parse failures. Safe to call from several
  // threads; concurrent refreshes may each fetch.
  boost::asio::awaitable<std::optional<Credentials>> get();

  // Forgets cached credentials, e.g. after a service answered ExpiredToken.
  void invalidate();

 private:
  boost::asio::awaitable<std::optional<Credentials>> fetch_container(bool& configured);
  boost::asio::awaitable<std::optional<Credentials>> fetch_imds();
  std::string env(const char* name) const;

  std::shared_ptr<net::HttpClient> client_;
  const core::TimeSource& clock_;
  Getenv getenv_;
  std::mutex mutex_;
  std::optional<Credentials> cached_;  // GUARDED_BY(mutex_)
  core::TimePoint refresh_at_{};       // GUARDED_BY(mutex_)
};

namespace credentials_detail {
// The credentials in a container endpoint's or IMDS's JSON answer ({"AccessKeyId",
// "SecretAccessKey", "Token", "Expiration"}); nullopt when keys are missing or IMDS says
// its "Code" is not "Success".
std::optional<Credentials> parse_credentials_json(std::string_view body);
// "2015-08-30T12:36:00Z", with optional fractional seconds and "Z" or "+00:00".
std::optional<core::TimePoint> parse_iso8601_utc(std::string_view text);
}  // namespace credentials_detail

}  // namespace otpd::aws
