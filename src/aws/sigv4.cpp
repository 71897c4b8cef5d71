// SigV4 header signing: canonical request, string to sign, derived key, Authorization.
#include "aws/sigv4.hpp"

#include <algorithm>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <optional>
#include <utility>
#include <vector>

#include "core/crypto.hpp"
#include "net/url_text.hpp"

namespace otpd::aws {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string to_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX becomes its byte; a '%' not followed by two hex digits stays as it is.
std::string percent_decode(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '%' && i + 2 < value.size()) {
      const int hi = hex_value(value[i + 1]);
      const int lo = hex_value(value[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(value[i]);
  }
  return out;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Trimall: no leading or trailing white space, and each run inside one space.
std::string trim_all(std::string_view value) {
  std::string out;
  bool pending_space = false;
  for (const char c : value) {
    if (is_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

// Headers HttpClient sets itself or that proxies may change on the way.
bool unsigned_header(std::string_view lower_name) {
  return lower_name == "host" || lower_name == "content-length" || lower_name == "connection" ||
         lower_name == "transfer-encoding" || lower_name == "user-agent" ||
         lower_name == "expect" || lower_name == "x-amzn-trace-id";
}

// The Host header as HttpClient writes it: the port only when it is not the scheme's default.
std::optional<std::string> host_header(const boost::urls::url_view& u) {
  std::string default_port;
  if (u.scheme_id() == boost::urls::scheme::http) {
    default_port = "80";
  } else if (u.scheme_id() == boost::urls::scheme::https) {
    default_port = "443";
  } else {
    return std::nullopt;
  }
  std::string host;
  switch (u.host_type()) {
    case boost::urls::host_type::name:
      host = u.host_name();
      break;
    case boost::urls::host_type::ipv4:
      host = u.host_address();
      break;
    case boost::urls::host_type::ipv6:
      host = "[" + std::string(u.host_address()) + "]";
      break;
    default:
      return std::nullopt;
  }
  if (host.empty()) return std::nullopt;
  if (u.has_port() && !u.port().empty()) {
    const std::string_view port = u.port();
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size()) return std::nullopt;
    if (std::to_string(value) != default_port) host += ":" + std::to_string(value);
  }
  return host;
}

struct Canonical {
  std::string request;
  std::string signed_headers;
};

std::optional<Canonical> build_canonical(const net::HttpRequest& request) {
  const auto parsed = boost::urls::parse_uri(request.url);
  if (!parsed) return std::nullopt;
  const boost::urls::url_view& u = *parsed;
  auto host = host_header(u);
  if (!host) return std::nullopt;

  // Sorted by lower-case name; values of a repeated name joined with ',' in request order.
  std::vector<std::pair<std::string, std::string>> headers;
  headers.emplace_back("host", std::move(*host));
  for (const auto& [name, value] : request.headers) {
    auto lower_name = to_lower(name);
    if (unsigned_header(lower_name)) continue;
    auto trimmed = trim_all(value);
    auto it = std::find_if(headers.begin(), headers.end(),
                           [&](const auto& h) { return h.first == lower_name; });
    if (it == headers.end()) {
      headers.emplace_back(std::move(lower_name), std::move(trimmed));
    } else {
      it->second += "," + trimmed;
    }
  }
  std::sort(headers.begin(), headers.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });

  Canonical c;
  c.request = request.method;
  std::transform(c.request.begin(), c.request.end(), c.request.begin(),
                 [](char ch) { return ch >= 'a' && ch <= 'z' ? static_cast<char>(ch - 32) : ch; });
  c.request += '\n';
  c.request += sigv4_detail::canonical_uri(u.encoded_path());
  c.request += '\n';
  c.request += sigv4_detail::canonical_query(u.has_query() ? u.encoded_query() : "");
  c.request += '\n';
  for (const auto& [name, value] : headers) {
    c.request += name + ":" + value + "\n";
    if (!c.signed_headers.empty()) c.signed_headers += ';';
    c.signed_headers += name;
  }
  c.request += '\n';
  c.request += c.signed_headers;
  c.request += '\n';
  c.request += core::hex_encode(core::sha256(request.body));
  return c;
}

void remove_header(net::HttpRequest& request, std::string_view name) {
  std::erase_if(request.headers, [&](const auto& h) { return iequals(h.first, name); });
}

}  // namespace

namespace sigv4_detail {

std::string canonical_uri(std::string_view encoded_path) {
  // As botocore and the other SDKs do: "." and empty segments dropped, ".." pops one.
  std::vector<std::string_view> segments;
  std::size_t start = 0;
  while (start <= encoded_path.size()) {
    auto slash = encoded_path.find('/', start);
    if (slash == std::string_view::npos) slash = encoded_path.size();
    const auto segment = encoded_path.substr(start, slash - start);
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!segment.empty() && segment != ".") {
      segments.push_back(segment);
    }
    start = slash + 1;
  }
  std::string path = "/";
  for (std::size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) path += '/';
    path += segments[i];
  }
  if (!segments.empty() && encoded_path.back() == '/') path += '/';
  // The path is already encoded once; services other than S3 sign it encoded twice.
  return net::percent_encode(path, /*keep_slash=*/true);
}

std::string canonical_query(std::string_view encoded_query) {
  std::vector<std::pair<std::string, std::string>> params;
  std::size_t start = 0;
  while (start < encoded_query.size()) {
    auto amp = encoded_query.find('&', start);
    if (amp == std::string_view::npos) amp = encoded_query.size();
    const auto pair = encoded_query.substr(start, amp - start);
    if (!pair.empty()) {
      const auto eq = pair.find('=');
      const auto key = pair.substr(0, eq);
      const auto value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
      params.emplace_back(net::percent_encode(percent_decode(key)),
                          net::percent_encode(percent_decode(value)));
    }
    start = amp + 1;
  }
  std::sort(params.begin(), params.end());
  std::string out;
  for (const auto& [key, value] : params) {
    if (!out.empty()) out += '&';
    out += key + "=" + value;
  }
  return out;
}

std::string amz_date(core::TimePoint now) {
  const auto seconds = std::chrono::floor<std::chrono::seconds>(now);
  const auto days = std::chrono::floor<std::chrono::days>(seconds);
  const std::chrono::year_month_day date{days};
  const std::chrono::hh_mm_ss time{seconds - days};
  char out[40];
  std::snprintf(out, sizeof out, "%04d%02u%02uT%02d%02d%02dZ", static_cast<int>(date.year()),
                static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                static_cast<int>(time.hours().count()), static_cast<int>(time.minutes().count()),
                static_cast<int>(time.seconds().count()));
  return out;
}

std::string canonical_request(const net::HttpRequest& request) {
  auto c = build_canonical(request);
  return c ? c->request : std::string();
}

}  // namespace sigv4_detail

void sign_sigv4(net::HttpRequest& request, const Credentials& credentials, std::string_view region,
                std::string_view service, core::TimePoint now) {
  remove_header(request, "Authorization");
  remove_header(request, "X-Amz-Date");
  remove_header(request, "X-Amz-Security-Token");
  const std::string timestamp = sigv4_detail::amz_date(now);
  const std::string date = timestamp.substr(0, 8);
  request.headers.emplace_back("X-Amz-Date", timestamp);
  if (!credentials.session_token.empty()) {
    request.headers.emplace_back("X-Amz-Security-Token", credentials.session_token);
  }
  const auto canonical = build_canonical(request);
  if (!canonical) return;

  const std::string scope =
      date + "/" + std::string(region) + "/" + std::string(service) + "/aws4_request";
  const std::string string_to_sign = std::string(kAlgorithm) + "\n" + timestamp + "\n" + scope +
                                     "\n" + core::hex_encode(core::sha256(canonical->request));
  std::string key = core::hmac_sha256("AWS4" + credentials.secret_access_key, date);
  key = core::hmac_sha256(key, region);
  key = core::hmac_sha256(key, service);
  key = core::hmac_sha256(key, "aws4_request");
  const std::string signature = core::hex_encode(core::hmac_sha256(key, string_to_sign));
  request.headers.emplace_back(
      "Authorization", std::string(kAlgorithm) + " Credential=" + credentials.access_key_id + "/" +
                           scope + ", SignedHeaders=" + canonical->signed_headers +
                           ", Signature=" + signature);
}

}  // namespace otpd::aws
