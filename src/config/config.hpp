// otpd's configuration: the TOML file of the README's Configuration reference, OTPD_* environment
// overrides of its top-level keys, and validation that names the offending key.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/policy.hpp"
#include "core/types.hpp"

namespace otpd::config {

// Start-up failure: what() starts with the key, e.g.
// "tenants.acme.code_length: must be between 4 and 10 (got 99)".
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Template {
  std::string sms;
  std::string email_subject;
  std::string email_text;
  std::string email_html;
};

struct WebhookChannelConfig {
  std::string url;
  std::string secret;
};

struct EmailChannelConfig {
  std::string smtp;      // smtp[s]://user:pass@host:port?tls=starttls
  std::string provider;  // "" (smtp) or "ses"
  std::string region;
  std::string from;
  std::string endpoint;  // ses only: "" = https://email.<region>.amazonaws.com
};

struct SmsChannelConfig {
  std::string provider;  // "twilio" or "sns"
  std::string account_sid;
  std::string auth_token;
  std::string from;
  std::string base_url = "https://api.twilio.com";
  std::string region;
  std::string endpoint;  // sns only: "" = https://sns.<region>.amazonaws.com
};

struct TenantConfig {
  std::string name;
  std::vector<std::string> api_key_hashes;  // lower-case hex SHA-256, "sha256:" stripped
  core::Policy policy;
  std::map<std::string, Template> templates;  // by locale
  bool console_channel = false;               // [tenants.X.channels.console] present
  std::optional<WebhookChannelConfig> webhook;
  std::optional<EmailChannelConfig> email;
  std::optional<SmsChannelConfig> sms;
  // The Twilio-compatible API: the Verify Service SID this tenant answers as ("" = none),
  // and which of its channels each Twilio `Channel` value sends through (by default sms
  // and email through the channels of those names, when configured).
  std::string twilio_service_sid;
  std::map<std::string, core::ChannelKind> twilio_channels;
};

struct CompatConfig {
  bool enabled = false;
  std::string tenant;
  std::string path = "/otp";
  // The original's code lifetime; the facade's codes use it instead of the tenant's.
  int ttl_seconds = 60;
};

struct TwilioApiKey {
  std::string sid;          // "SK" + 32 hex digits
  std::string secret_hash;  // lower-case hex SHA-256 of the key's secret
};

// [twilio]: a Twilio Verify v2-compatible API, authenticated as one Twilio account.
struct TwilioConfig {
  bool enabled = false;                        // the table is present
  std::string account_sid;                     // "AC" + 32 hex digits
  std::vector<std::string> auth_token_hashes;  // lower-case hex SHA-256, "sha256:" stripped
  std::vector<TwilioApiKey> api_keys;
  // The scheme and host of the `url` members ("https://verify.example.com"); "" = taken from
  // each request's Host header (and X-Forwarded-Proto).
  std::string public_url;
};

struct Config {
  std::string listen = "127.0.0.1:8080";
  std::string admin_listen;  // "" = health, readiness and metrics on the main listener
  std::string store = "sqlite://./data/otpd.db";  // when unset: sqlite://<data_dir>/otpd.db
  std::string data_dir = "./data";
  std::vector<std::string> secrets;
  std::size_t max_connections = 4096;
  int threads = 0;  // I/O threads; 0 = one per core
  std::string log_level = "info";
  std::string log_format = "auto";  // "json", "text", or "auto": text on a terminal, else json
  // Set when a TLS proxy or a private network carries the traffic to a non-loopback listen
  // address; without it, API keys and such a listener refuse to start (check_plain_http).
  bool allow_plain_http = false;
  std::map<std::string, TenantConfig> tenants;
  CompatConfig compat;
  TwilioConfig twilio;

  // True when no credential is configured (no tenant API key, no [twilio] table): protected
  // mode (loopback only, tenant "default").
  bool protected_mode() const;
};

// Parses TOML text, then applies OTPD_<KEY> overrides from `env` (top-level keys; lists
// comma-separated). Throws ConfigError naming the key on any unknown key, wrong type or
// value out of range. In protected mode a "default" tenant is added when absent.
Config parse_config(const std::string& toml_text, const std::map<std::string, std::string>& env);
// Reads the file (path "" = no file: defaults plus env) and parses it.
Config load_config(const std::string& path, const std::map<std::string, std::string>& env);
// OTPD_* variables of this process.
std::map<std::string, std::string> process_env();

// "host:port" or "[v6]:port"; throws ConfigError naming `key` when malformed.
struct HostPort {
  std::string host;
  unsigned short port = 0;
};
HostPort parse_listen(const std::string& value, const std::string& key);
bool is_loopback_host(const std::string& host);
// "127.0.0.1:8080", and "[::1]:8080" for an IPv6 host: the form `listen` is written in.
std::string format_host_port(std::string_view host, unsigned short port);

// Start-up rule for `serve`: with API keys configured and `listen` off loopback, Bearer keys
// would cross the network in clear. Throws ConfigError naming `listen`, and saying how to fix
// it, unless `allow_plain_http = true` declares that a TLS proxy or a private network carries
// the traffic. Protected mode (no keys) has its own rule in serve.
void check_plain_http(const Config& config);

// A store backend this build can open: its URL scheme and the form of its URL.
struct StoreKind {
  std::string_view scheme;  // "sqlite://"
  std::string_view form;    // "sqlite://PATH"
};
// The stores of this build, in the order a message lists them. A `store` URL with any other
// scheme is a config error that names only these. Add an entry when a backend lands.
std::span<const StoreKind> supported_stores();

// OTPD_* variables that belong to something other than the config loader (the CLI, the test
// harnesses): the loader neither reads nor rejects them. Every other OTPD_* variable must
// name a top-level key, or the start fails with a did-you-mean.
std::span<const std::string_view> foreign_env_variables();

}  // namespace otpd::config
