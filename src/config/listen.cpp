// Listener addresses: "host:port" / "[v6]:port" parsing and the loopback test that
// protected mode and the console channel depend on.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>

#include "config/reader.hpp"

namespace otpd::config {
namespace {

bool is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

bool is_ipv6(const std::string& text) {
  in6_addr addr{};
  return inet_pton(AF_INET6, text.c_str(), &addr) == 1;
}

}  // namespace

HostPort parse_listen(const std::string& value, const std::string& key) {
  const auto malformed = [&]() {
    detail::fail(key,
                 "expected \"host:port\" or \"[ipv6]:port\" (got " + detail::quote(value) + ")");
  };
  HostPort result;
  std::string port_text;
  if (value.starts_with('[')) {
    const auto close = value.find(']');
    if (close == std::string::npos || close + 1 >= value.size() || value[close + 1] != ':') {
      malformed();
    }
    result.host = value.substr(1, close - 1);
    if (!is_ipv6(result.host)) malformed();
    port_text = value.substr(close + 2);
  } else {
    // A bare IPv6 address ("::1:8080") is ambiguous, hence the brackets.
    const auto colon = value.find(':');
    if (colon == std::string::npos || colon == 0 ||
        value.find(':', colon + 1) != std::string::npos) {
      malformed();
    }
    result.host = value.substr(0, colon);
    if (!std::all_of(result.host.begin(), result.host.end(), is_host_char)) malformed();
    port_text = value.substr(colon + 1);
  }
  if (port_text.empty() || port_text.size() > 5 ||
      !std::all_of(port_text.begin(), port_text.end(),
                   [](char c) { return c >= '0' && c <= '9'; })) {
    malformed();
  }
  const long port = std::stol(port_text);
  // Port 0 asks the kernel for a free port, which is what tests want.
  if (port > 65535) {
    detail::fail(key, "port must be between 0 and 65535 (got " + port_text + ")");
  }
  result.port = static_cast<unsigned short>(port);
  return result;
}

bool is_loopback_host(const std::string& host) {
  std::string h = host;
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  std::string lower = h;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "localhost" || lower == "localhost.") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, h.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    // ::ffff:127.0.0.1 reaches the IPv4 loopback.
    return IN6_IS_ADDR_V4MAPPED(&v6) && v6.s6_addr[12] == 127;
  }
  return false;
}

std::string format_host_port(std::string_view host, unsigned short port) {
  const bool v6 = host.find(':') != std::string_view::npos && !host.starts_with('[');
  return (v6 ? "[" + std::string(host) + "]" : std::string(host)) + ":" + std::to_string(port);
}

}  // namespace otpd::config
