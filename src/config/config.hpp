// otpd's configuration: the TOML file of PRODUCT.md section 6, OTPD_* environment
// overrides of its top-level keys, and validation that names the offending key.
#pragma once

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
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
};

struct CompatConfig {
  bool enabled = false;
  std::string tenant;
  std::string path = "/otp";
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
  std::map<std::string, TenantConfig> tenants;
  CompatConfig compat;

  // True when no tenant has an API key: protected mode (loopback only, tenant "default").
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

}  // namespace otpd::config
