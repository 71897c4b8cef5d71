// OTPD_<KEY> environment overrides of the top-level keys, and reading them from environ.
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>

#include "config/reader.hpp"

namespace otpd::config {
namespace detail {
namespace {

std::string trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return "";
  const auto last = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(first, last - first + 1));
}

long long env_integer(const std::string& name, const std::string& raw, long long min,
                      long long max) {
  const auto text = trim(raw);
  long long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    fail(name, "expected an integer");
  }
  check_range(name, value, min, max);
  return value;
}

std::vector<std::string> env_list(const std::string& raw) {
  std::vector<std::string> items;
  std::size_t start = 0;
  while (start <= raw.size()) {
    auto comma = raw.find(',', start);
    if (comma == std::string::npos) comma = raw.size();
    if (auto item = trim(std::string_view(raw).substr(start, comma - start)); !item.empty()) {
      items.push_back(std::move(item));
    }
    start = comma + 1;
  }
  return items;
}

bool env_boolean(const std::string& name, const std::string& raw) {
  const auto text = trim(raw);
  if (text == "true") return true;
  if (text == "false") return false;
  fail(name, "expected true or false (got " + quote(text) + ")");
}

constexpr std::array<std::string_view, 10> kEnvSettable{
    "listen",          "admin_listen", "store",     "data_dir",   "secrets",
    "max_connections", "threads",      "log_level", "log_format", "allow_plain_http"};

// Read by otpd's main (OTPD_CONFIG; OTPD_CONFIG_TOML, the whole config in Lambda mode), by
// the otp client (OTPD_URL, OTPD_API_KEY), and by the test suites (OTPD_BIN: e2e,
// OTPD_SIGV4_ORACLE: unit, OTPD_FUZZ_TRACE: fuzzers), which may leave them in the
// environment otpd starts in.
constexpr std::array<std::string_view, 7> kForeign{
    "OTPD_CONFIG", "OTPD_CONFIG_TOML",  "OTPD_URL",       "OTPD_API_KEY",
    "OTPD_BIN",    "OTPD_SIGV4_ORACLE", "OTPD_FUZZ_TRACE"};

std::string env_name(std::string_view key) {
  std::string name = "OTPD_";
  for (char c : key) name += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
  return name;
}

// A misspelt variable would otherwise be ignored, and otpd would start with the value the
// operator meant to replace: refuse it, as an unknown file key is refused.
void check_known_variables(const std::map<std::string, std::string>& env) {
  std::vector<std::string> names;
  for (auto key : kEnvSettable) names.push_back(env_name(key));
  for (auto name : kForeign) names.emplace_back(name);
  std::vector<std::string_view> candidates(names.begin(), names.end());
  for (const auto& [name, value] : env) {
    if (!name.starts_with("OTPD_")) continue;
    if (std::find(candidates.begin(), candidates.end(), name) != candidates.end()) continue;
    if (name == "OTPD_TENANTS" || name == "OTPD_COMPAT") {
      fail(name, "tables cannot be set from the environment; write them in the config file");
    }
    fail(name, "unknown variable" + did_you_mean(name, candidates) +
                   "; OTPD_<KEY> sets a top-level key of the config file");
  }
}

}  // namespace

std::span<const std::string_view> env_settable_keys() { return kEnvSettable; }

void apply_env(Config& config, const std::map<std::string, std::string>& env, bool& store_set) {
  check_known_variables(env);
  const auto get = [&env](const char* name) -> const std::string* {
    const auto it = env.find(name);
    return it == env.end() ? nullptr : &it->second;
  };
  if (const auto* v = get("OTPD_LISTEN")) {
    check_listen("OTPD_LISTEN", trim(*v));
    config.listen = trim(*v);
  }
  if (const auto* v = get("OTPD_ADMIN_LISTEN")) {
    // Empty moves health, readiness and metrics back to the main listener.
    if (!trim(*v).empty()) check_listen("OTPD_ADMIN_LISTEN", trim(*v));
    config.admin_listen = trim(*v);
  }
  if (const auto* v = get("OTPD_STORE")) {
    check_store("OTPD_STORE", trim(*v));
    config.store = trim(*v);
    store_set = true;
  }
  if (const auto* v = get("OTPD_DATA_DIR")) {
    check_data_dir("OTPD_DATA_DIR", trim(*v));
    config.data_dir = trim(*v);
  }
  if (const auto* v = get("OTPD_SECRETS")) {
    auto secrets = env_list(*v);
    for (std::size_t i = 0; i < secrets.size(); ++i) {
      check_secret(index_key("OTPD_SECRETS", i), secrets[i]);
    }
    config.secrets = std::move(secrets);
  }
  if (const auto* v = get("OTPD_MAX_CONNECTIONS")) {
    config.max_connections =
        static_cast<std::size_t>(env_integer("OTPD_MAX_CONNECTIONS", *v, 1, kMaxConnectionsMax));
  }
  if (const auto* v = get("OTPD_THREADS")) {
    config.threads = static_cast<int>(env_integer("OTPD_THREADS", *v, 0, kThreadsMax));
  }
  if (const auto* v = get("OTPD_LOG_LEVEL")) {
    check_log_level("OTPD_LOG_LEVEL", trim(*v));
    config.log_level = trim(*v);
  }
  if (const auto* v = get("OTPD_LOG_FORMAT")) {
    check_log_format("OTPD_LOG_FORMAT", trim(*v));
    config.log_format = trim(*v);
  }
  if (const auto* v = get("OTPD_ALLOW_PLAIN_HTTP")) {
    config.allow_plain_http = env_boolean("OTPD_ALLOW_PLAIN_HTTP", *v);
  }
}

}  // namespace detail

std::span<const std::string_view> foreign_env_variables() { return detail::kForeign; }

std::map<std::string, std::string> process_env() {
  std::map<std::string, std::string> result;
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const auto eq = text.find('=');
    if (eq == std::string_view::npos || !text.starts_with("OTPD_")) continue;
    result.emplace(text.substr(0, eq), text.substr(eq + 1));
  }
  return result;
}

}  // namespace otpd::config
