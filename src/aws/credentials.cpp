// The AWS credential chain: environment, container endpoint, IMDSv2; fetched credentials
// cached until shortly before they expire.
#include "aws/credentials.hpp"

#include <boost/json/parse.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <utility>

#include "net/url_text.hpp"

namespace otpd::aws {
namespace {

namespace asio = boost::asio;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string trim(std::string_view s) {
  const auto begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string_view::npos) return "";
  const auto end = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(begin, end - begin + 1));
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto x = static_cast<unsigned char>(a[i]);
    const auto y = static_cast<unsigned char>(b[i]);
    if (std::tolower(x) != std::tolower(y)) return false;
  }
  return true;
}

// The SDKs accept a full container URI over plain http only for addresses that cannot leave
// the host or the task: anything else could be someone else's server.
bool allowed_container_uri(std::string_view uri) {
  const auto parsed = boost::urls::parse_uri(uri);
  if (!parsed) return false;
  const boost::urls::url_view& u = *parsed;
  if (u.scheme_id() == boost::urls::scheme::https) return true;
  if (u.scheme_id() != boost::urls::scheme::http) return false;
  const std::string host = u.host_type() == boost::urls::host_type::name
                               ? std::string(u.host_name())
                               : std::string(u.host_address());
  if (host == "localhost" || host == "::1" || host == "169.254.170.2" || host == "169.254.170.23" ||
      host == "fd00:ec2::23") {
    return true;
  }
  return u.host_type() == boost::urls::host_type::ipv4 && host.starts_with("127.");
}

std::optional<std::string> read_token_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return trim(content);
}

bool ok(const net::HttpResponse& response) {
  return response.status >= 200 && response.status < 300;
}

// One IMDS request: the trimmed body of a 2xx answer, or nullopt.
asio::awaitable<std::optional<std::string>> metadata(net::HttpClient& client, std::string method,
                                                     std::string url,
                                                     std::pair<std::string, std::string> header) {
  net::HttpRequest request;
  request.method = std::move(method);
  request.url = std::move(url);
  request.timeout = CredentialProvider::kMetadataTimeout;
  request.headers.push_back(std::move(header));
  const auto response = co_await client.send(std::move(request));
  if (!ok(response)) co_return std::nullopt;
  co_return trim(response.body);
}

}  // namespace

namespace credentials_detail {

std::optional<core::TimePoint> parse_iso8601_utc(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS
  if (text.size() < 20) return std::nullopt;
  auto number = [&](std::size_t at, std::size_t length) -> int {
    int value = 0;
    for (std::size_t i = at; i < at + length; ++i) {
      if (!is_digit(text[i])) return -1;
      value = value * 10 + (text[i] - '0');
    }
    return value;
  };
  if (text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != 't') || text[13] != ':' ||
      text[16] != ':') {
    return std::nullopt;
  }
  const int year = number(0, 4), month = number(5, 2), day = number(8, 2);
  const int hour = number(11, 2), minute = number(14, 2), second = number(17, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0 || hour > 23 ||
      minute > 59 || second > 60) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year(year),
                                         std::chrono::month(static_cast<unsigned>(month)),
                                         std::chrono::day(static_cast<unsigned>(day))};
  if (!date.ok()) return std::nullopt;
  std::size_t at = 19;
  if (at < text.size() && text[at] == '.') {
    ++at;
    const std::size_t digits = at;
    while (at < text.size() && is_digit(text[at])) ++at;
    if (at == digits) return std::nullopt;
  }
  std::chrono::minutes offset{0};
  const auto zone = text.substr(at);
  if (zone == "Z" || zone == "z") {
  } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
    const int h = number(at + 1, 2), m = number(at + 4, 2);
    if (h < 0 || m < 0 || h > 23 || m > 59) return std::nullopt;
    offset = std::chrono::minutes(h * 60 + m);
    if (zone[0] == '-') offset = -offset;
  } else {
    return std::nullopt;
  }
  const auto t = std::chrono::sys_days(date) + std::chrono::hours(hour) +
                 std::chrono::minutes(minute) + std::chrono::seconds(second) - offset;
  return std::chrono::time_point_cast<core::Millis>(t);
}

std::optional<Credentials> parse_credentials_json(std::string_view body) {
  boost::system::error_code ec;
  const auto value = boost::json::parse(body, ec);
  if (ec || !value.is_object()) return std::nullopt;
  const auto& object = value.as_object();
  auto string_of = [&](std::string_view key) -> std::optional<std::string> {
    const auto* v = object.if_contains(key);
    if (v == nullptr || !v->is_string()) return std::nullopt;
    return std::string(v->as_string());
  };
  if (const auto* code = object.if_contains("Code");
      code != nullptr && (!code->is_string() || code->as_string() != "Success")) {
    return std::nullopt;
  }
  auto key = string_of("AccessKeyId");
  auto secret = string_of("SecretAccessKey");
  if (!key || !secret || key->empty() || secret->empty()) return std::nullopt;
  Credentials credentials;
  credentials.access_key_id = std::move(*key);
  credentials.secret_access_key = std::move(*secret);
  credentials.session_token = string_of("Token").value_or("");
  if (auto expiration = string_of("Expiration")) {
    credentials.expires_at = parse_iso8601_utc(*expiration);
  }
  return credentials;
}

}  // namespace credentials_detail

CredentialProvider::CredentialProvider(std::shared_ptr<net::HttpClient> client,
                                       const core::TimeSource& clock, Getenv getenv)
    : client_(std::move(client)), clock_(clock), getenv_(std::move(getenv)) {
  if (!getenv_) getenv_ = [](const char* name) -> const char* { return std::getenv(name); };
}

std::string CredentialProvider::env(const char* name) const {
  const char* value = getenv_(name);
  return value == nullptr ? std::string() : std::string(value);
}

void CredentialProvider::invalidate() {
  std::lock_guard lock(mutex_);
  cached_.reset();
}

asio::awaitable<std::optional<Credentials>> CredentialProvider::get() {
  const auto access_key = env("AWS_ACCESS_KEY_ID");
  const auto secret_key = env("AWS_SECRET_ACCESS_KEY");
  if (!access_key.empty() && !secret_key.empty()) {
    co_return Credentials{access_key, secret_key, env("AWS_SESSION_TOKEN"), std::nullopt};
  }

  std::optional<Credentials> stale;
  {
    std::lock_guard lock(mutex_);
    if (cached_) {
      if (clock_.now() < refresh_at_) co_return cached_;
      stale = cached_;
    }
  }

  bool container = false;
  auto fresh = co_await fetch_container(container);
  if (!fresh && !container) fresh = co_await fetch_imds();

  const auto now = clock_.now();
  if (!fresh) {
    // A failed refresh keeps the old credentials for as long as they are still valid.
    if (stale && stale->expires_at && now < *stale->expires_at) co_return stale;
    co_return std::nullopt;
  }
  std::lock_guard lock(mutex_);
  cached_ = fresh;
  refresh_at_ = fresh->expires_at ? *fresh->expires_at - kRefreshBefore : now + kNoExpiryLifetime;
  co_return fresh;
}

asio::awaitable<std::optional<Credentials>> CredentialProvider::fetch_container(bool& configured) {
  std::string url;
  if (const auto relative = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"); !relative.empty()) {
    url = std::string(kContainerHost) + (relative.front() == '/' ? "" : "/") + relative;
  } else if (const auto full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI"); !full.empty()) {
    configured = true;
    if (!allowed_container_uri(full)) co_return std::nullopt;
    url = full;
  } else {
    co_return std::nullopt;
  }
  configured = true;

  net::HttpRequest request;
  request.method = "GET";
  request.url = std::move(url);
  request.timeout = kMetadataTimeout;
  request.headers.emplace_back("Accept", "application/json");
  std::optional<std::string> token;
  if (const auto file = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"); !file.empty()) {
    token = read_token_file(file);
    if (!token) co_return std::nullopt;
  } else if (const auto value = env("AWS_CONTAINER_AUTHORIZATION_TOKEN"); !value.empty()) {
    token = value;
  }
  if (token) request.headers.emplace_back("Authorization", *token);

  const auto response = co_await client_->send(std::move(request));
  if (!ok(response)) co_return std::nullopt;
  co_return credentials_detail::parse_credentials_json(response.body);
}

asio::awaitable<std::optional<Credentials>> CredentialProvider::fetch_imds() {
  if (iequals(trim(env("AWS_EC2_METADATA_DISABLED")), "true")) co_return std::nullopt;
  auto base = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
  if (base.empty()) base = kDefaultImdsEndpoint;
  base = net::without_trailing_slash(std::move(base));

  const auto token = co_await metadata(*client_, "PUT", base + "/latest/api/token",
                                       {"X-aws-ec2-metadata-token-ttl-seconds", "21600"});
  if (!token || token->empty()) co_return std::nullopt;
  const std::pair<std::string, std::string> header{"X-aws-ec2-metadata-token", *token};
  const std::string roles_url = base + "/latest/meta-data/iam/security-credentials/";
  const auto roles = co_await metadata(*client_, "GET", roles_url, header);
  if (!roles) co_return std::nullopt;
  // One role per instance profile; the answer lists it on the first line.
  const std::string role = trim(std::string_view(*roles).substr(0, roles->find('\n')));
  if (role.empty() || role.find_first_of("/?#% ") != std::string::npos) co_return std::nullopt;
  const auto credentials = co_await metadata(*client_, "GET", roles_url + role, header);
  if (!credentials) co_return std::nullopt;
  co_return credentials_detail::parse_credentials_json(*credentials);
}

}  // namespace otpd::aws
