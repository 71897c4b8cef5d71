// The start-up rule against credentials in clear: API keys (or the Twilio-compatible API's auth
// tokens) with a listener off loopback need TLS in front of otpd, or an explicit statement
// that the network is private.
#include <algorithm>

#include "config/reader.hpp"

namespace otpd::config {

void check_plain_http(const Config& config) {
  if (config.protected_mode() || config.allow_plain_http) return;
  const auto listen = parse_listen(config.listen, "listen");
  if (is_loopback_host(listen.host)) return;
  const bool api_keys = std::any_of(config.tenants.begin(), config.tenants.end(),
                                    [](const auto& t) { return !t.second.api_key_hashes.empty(); });
  detail::fail(
      "listen",
      std::string(api_keys ? "API keys are configured" : "[twilio] credentials are configured") +
          " and " + format_host_port(listen.host, listen.port) +
          " is not a loopback address, so clients would send their " +
          (api_keys ? "Bearer keys" : "auth tokens") +
          " in clear (otpd speaks plain HTTP). Either listen on 127.0.0.1 behind a TLS "
          "reverse proxy (deploy/nginx/otpd.conf), or, when a TLS proxy or a private "
          "network already carries the traffic, set allow_plain_http = true");
}

}  // namespace otpd::config
