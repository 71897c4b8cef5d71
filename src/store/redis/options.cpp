// parse_redis_url and the redacted form of ClientOptions.
#include "store/redis/options.hpp"

#include <boost/url/pct_string_view.hpp>
#include <cctype>
#include <charconv>
#include <limits>

namespace otpd::store::redis {
namespace {

Error bad(std::string what) { return Error{Errc::kInvalidArgument, std::move(what)}; }

template <typename Int>
bool parse_int(std::string_view text, Int& out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size();
}

Result<std::string> decode(std::string_view text, std::string_view what) {
  auto pct = boost::urls::make_pct_string_view(text);
  if (!pct) return bad(std::string(what) + " has a malformed percent-encoding");
  return pct->decode();
}

bool host_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_';
}

Result<Endpoint> parse_endpoint(std::string_view text) {
  Endpoint endpoint;
  std::string_view port;
  if (text.starts_with('[')) {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return bad("unclosed '[' in a host");
    endpoint.host = std::string(text.substr(1, close - 1));
    for (char c : endpoint.host) {
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') {
        return bad("malformed IPv6 address in a host");
      }
    }
    const auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (!rest.starts_with(':')) return bad("unexpected text after an IPv6 address");
      port = rest.substr(1);
      if (port.empty()) return bad("empty port");
    }
  } else {
    const auto colon = text.find(':');
    endpoint.host = std::string(text.substr(0, colon));
    if (colon != std::string_view::npos) {
      port = text.substr(colon + 1);
      if (port.empty()) return bad("empty port");
    }
    for (char c : endpoint.host) {
      if (!host_char(c)) return bad("a host may hold only letters, digits, '.', '-' and '_'");
    }
  }
  if (endpoint.host.empty()) return bad("empty host");
  if (!port.empty()) {
    unsigned value = 0;
    if (!parse_int(port, value) || value == 0 || value > 65535) {
      return bad("port must be a number from 1 to 65535");
    }
    endpoint.port = static_cast<std::uint16_t>(value);
  }
  return endpoint;
}

}  // namespace

std::string Endpoint::to_string() const {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Result<ClientOptions> parse_redis_url(std::string_view url) {
  ClientOptions options;
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return bad("not a URL: expected redis://, rediss://, redis-cluster:// or rediss-cluster://");
  }
  const auto scheme = url.substr(0, scheme_end);
  if (scheme == "redis" || scheme == "rediss") {
    options.mode = ClientOptions::Mode::kStandalone;
  } else if (scheme == "redis-cluster" || scheme == "rediss-cluster") {
    options.mode = ClientOptions::Mode::kCluster;
  } else {
    return bad("unknown scheme: expected redis, rediss, redis-cluster or rediss-cluster");
  }
  options.tls = scheme.starts_with("rediss");

  auto rest = url.substr(scheme_end + 3);
  std::string_view query;
  if (const auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view path;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    path = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  // The last '@' ends the credentials, so a password may hold a raw '@'.
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const auto userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const auto colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      return bad("credentials must be user:password or :password");
    }
    auto user = decode(userinfo.substr(0, colon), "the user name");
    if (!user) return user.error();
    auto password = decode(userinfo.substr(colon + 1), "the password");
    if (!password) return password.error();
    if (password->empty()) return bad("empty password");
    options.user = std::move(*user);
    options.password = std::move(*password);
  }

  while (true) {
    const auto comma = rest.find(',');
    auto endpoint = parse_endpoint(rest.substr(0, comma));
    if (!endpoint) return endpoint.error();
    options.endpoints.push_back(std::move(*endpoint));
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  if (options.mode == ClientOptions::Mode::kStandalone && options.endpoints.size() != 1) {
    return bad("a standalone server has one host; use redis-cluster:// for a list of seeds");
  }

  if (!path.empty()) {
    if (!parse_int(path, options.db) || options.db < 0) {
      return bad("the path must be a database number (/0, /1...)");
    }
    if (options.mode == ClientOptions::Mode::kCluster && options.db != 0) {
      return bad("Redis Cluster has only database 0");
    }
  }

  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    const auto key = pair.substr(0, eq);
    auto value = decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), "an option");
    if (!value) return value.error();
    if (key == "ca_file") {
      if (!options.tls) return bad("ca_file needs TLS (rediss:// or rediss-cluster://)");
      if (value->empty()) return bad("ca_file is empty");
      options.ca_file = std::move(*value);
    } else if (key == "timeout_ms") {
      long long ms = 0;
      if (!parse_int(std::string_view(*value), ms) || ms < 1 || ms > 600000) {
        return bad("timeout_ms must be a number of milliseconds from 1 to 600000");
      }
      options.request_timeout = std::chrono::milliseconds(ms);
    } else if (key == "key_prefix") {
      if (value->empty() || value->size() > 64 ||
          value->find_first_of("{}*?[]\\") != std::string::npos) {
        return bad("key_prefix must be 1 to 64 characters without '{', '}' or glob characters");
      }
      options.key_prefix = std::move(*value);
    } else {
      return bad("unknown option '" + std::string(key) +
                 "' (known: ca_file, timeout_ms, key_prefix)");
    }
  }
  return options;
}

std::string ClientOptions::redacted_url() const {
  std::string url = tls ? "rediss" : "redis";
  if (mode == Mode::kCluster) url += "-cluster";
  url += "://";
  if (!password.empty()) url += user + ":***@";
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    if (i > 0) url += ',';
    url += endpoints[i].to_string();
  }
  if (db != 0) url += "/" + std::to_string(db);
  char separator = '?';
  if (!ca_file.empty()) {
    url += separator + std::string("ca_file=") + ca_file;
    separator = '&';
  }
  if (request_timeout != std::chrono::milliseconds(2000)) {
    url += separator + std::string("timeout_ms=") + std::to_string(request_timeout.count());
    separator = '&';
  }
  if (key_prefix != "otpd:") url += separator + std::string("key_prefix=") + key_prefix;
  return url;
}

}  // namespace otpd::store::redis
