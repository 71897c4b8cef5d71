// OTPD_<KEY> environment overrides of the top-level keys, and reading them from environ.
#include <unistd.h>

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

}  // namespace

void apply_env(Config& config, const std::map<std::string, std::string>& env, bool& store_set) {
  // Variables that are not top-level keys (OTPD_CONFIG, tools' own) are left alone.
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
}

}  // namespace detail

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
