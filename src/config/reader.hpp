// Internal to config/: typed, range-checked access to one TOML table, with every error
// naming the dotted key, and the value checks shared by the file and OTPD_* variables.
#pragma once

#include <toml++/toml.h>

#include <initializer_list>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace otpd::config::detail {

// "tenants" + "acme" -> "tenants.acme"; keys that are not bare TOML keys are quoted, so
// the name in a message is the one to write in the file.
std::string join_key(const std::string& parent, std::string_view key);
// "secrets" + 1 -> "secrets[1]".
std::string index_key(const std::string& parent, std::size_t index);

// `text` in double quotes, as TOML would write it.
std::string quote(std::string_view text);
// 2.5 -> "2.5", 3.0 -> "3".
std::string format_number(double value);
// `scheme` ("smtp://") followed by a non-empty host part, no spaces or control characters.
// The channel finds out the rest when it connects.
bool is_url(std::string_view value, std::string_view scheme);
bool is_http_url(std::string_view value);

// " (did you mean \"listen\"?)" when one of `known` is a likely typo of `unknown`, else "".
std::string did_you_mean(std::string_view unknown, std::span<const std::string_view> known);

// An http:// URL may only reach a loopback host: credentials and codes never travel in clear
// over a network. https:// passes. The URL is never echoed (it may carry a token).
void check_outbound_url(const std::string& key, const std::string& url, std::string_view carries);

// Throws ConfigError("<key>: <what>").
[[noreturn]] void fail(const std::string& key, const std::string& what);

// "must be between 4 and 10 (got 99)" unless min <= value <= max.
void check_range(const std::string& key, long long value, long long min, long long max);

// Reads one table at `path`. The constructor rejects any key outside `known`, so a
// typo never passes silently. Getters return nullopt when the key is absent and throw
// when it has the wrong type or is out of range.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string path,
              std::initializer_list<std::string_view> known);

  const std::string& path() const { return path_; }
  std::string key(std::string_view name) const { return join_key(path_, name); }
  bool has(std::string_view name) const { return table_.contains(name); }

  std::optional<std::string> string(std::string_view name) const;
  std::optional<long long> integer(std::string_view name, long long min, long long max) const;
  // An integer or a float; NaN and infinities are refused.
  std::optional<double> number(std::string_view name, double min) const;
  std::optional<bool> boolean(std::string_view name) const;
  std::optional<std::vector<std::string>> strings(std::string_view name) const;
  const toml::table* table(std::string_view name) const;

 private:
  const toml::table& table_;
  std::string path_;
};

// Shared by file keys and OTPD_* variables; `key` is the name the message starts with.
void check_listen(const std::string& key, const std::string& value);
void check_store(const std::string& key, const std::string& value);
void check_secret(const std::string& key, const std::string& value);
void check_log_level(const std::string& key, const std::string& value);
void check_data_dir(const std::string& key, const std::string& value);
void check_log_format(const std::string& key, const std::string& value);

// Names of the top-level keys that OTPD_<KEY> can set, lower case ("listen", "log_level").
std::span<const std::string_view> env_settable_keys();

inline constexpr long long kMaxConnectionsMax = 1'000'000;
inline constexpr long long kThreadsMax = 1024;

// The loader's parts, one file each.
// [tenants.NAME] with its templates and channels (tenant.cpp).
TenantConfig read_tenant(const toml::table& table, const std::string& name);
// [twilio] (twilio.cpp), and the checks between it and the tenants' twilio_* keys.
TwilioConfig read_twilio(const toml::table& table);
void check_twilio(const Config& config);
// A Twilio SID: `prefix` ("AC", "VA", "SK") and 32 hex digits.
bool is_twilio_sid(std::string_view value, std::string_view prefix);
// "sha256:<64 hex>" as the lower-case hex digest; throws naming `key` otherwise.
std::string read_sha256(const std::string& key, const std::string& value);
// OTPD_<KEY> overrides of the top-level keys (config_env.cpp). Sets `store_set` when
// OTPD_STORE was given.
void apply_env(Config& config, const std::map<std::string, std::string>& env, bool& store_set);

}  // namespace otpd::config::detail
