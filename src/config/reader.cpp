// Typed access to TOML tables for the config loader, and the checks of top-level values.
#include "config/reader.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "config/config.hpp"

namespace otpd::config::detail {
namespace {

bool is_bare_key(std::string_view key) {
  return !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + '"';
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

bool before(const toml::source_position& a, const toml::source_position& b) {
  return a.line != b.line ? a.line < b.line : a.column < b.column;
}

}  // namespace

// Most unknown keys are typos of a known one; naming it saves a trip to the docs.
std::string did_you_mean(std::string_view unknown, std::span<const std::string_view> known) {
  std::string_view best;
  std::size_t best_distance = std::numeric_limits<std::size_t>::max();
  for (auto candidate : known) {
    const auto d = edit_distance(unknown, candidate);
    // A third of the name may differ, so "a" is not mistaken for "sms".
    if (d < best_distance && d <= std::max<std::size_t>(1, candidate.size() / 3)) {
      best = candidate;
      best_distance = d;
    }
  }
  return best.empty() ? "" : " (did you mean " + quoted(best) + "?)";
}

std::string join_key(const std::string& parent, std::string_view key) {
  std::string name = is_bare_key(key) ? std::string(key) : quoted(key);
  return parent.empty() ? name : parent + "." + name;
}

std::string index_key(const std::string& parent, std::size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

void fail(const std::string& key, const std::string& what) { throw ConfigError(key + ": " + what); }

void check_range(const std::string& key, long long value, long long min, long long max) {
  if (value >= min && value <= max) return;
  const auto got = " (got " + std::to_string(value) + ")";
  // A huge upper bound is only there to fit the C++ type; "at least" reads better.
  if (max >= 2147483647LL) fail(key, "must be at least " + std::to_string(min) + got);
  fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) + got);
}

bool is_url(std::string_view value, std::string_view scheme) {
  if (!value.starts_with(scheme)) return false;
  const auto rest = value.substr(scheme.size());
  if (rest.empty() || rest.front() == '/' || rest.front() == '?' || rest.front() == '#') {
    return false;
  }
  return std::none_of(value.begin(), value.end(),
                      [](char c) { return static_cast<unsigned char>(c) <= ' '; });
}

bool is_http_url(std::string_view value) {
  return is_url(value, "http://") || is_url(value, "https://");
}

TableReader::TableReader(const toml::table& table, std::string path,
                         std::initializer_list<std::string_view> known)
    : table_(table), path_(std::move(path)) {
  std::vector<const toml::key*> unknown;
  for (auto&& [k, v] : table_) {
    if (std::find(known.begin(), known.end(), k.str()) == known.end()) unknown.push_back(&k);
  }
  if (unknown.empty()) return;
  // Report in file order: the first one is what the reader looks at first.
  std::sort(unknown.begin(), unknown.end(), [](const toml::key* a, const toml::key* b) {
    return before(a->source().begin, b->source().begin);
  });
  std::string message =
      "unknown key" + did_you_mean(unknown.front()->str(), std::span(known.begin(), known.size()));
  if (unknown.size() > 1) {
    message += " (also unknown:";
    for (std::size_t i = 1; i < unknown.size(); ++i) {
      message += (i == 1 ? " " : ", ") + key(unknown[i]->str());
    }
    message += ")";
  }
  fail(key(unknown.front()->str()), message);
}

std::optional<std::string> TableReader::string(std::string_view name) const {
  const auto* node = table_.get(name);
  if (node == nullptr) return std::nullopt;
  const auto* value = node->as_string();
  if (value == nullptr) fail(key(name), "expected a string");
  return value->get();
}

std::optional<long long> TableReader::integer(std::string_view name, long long min,
                                              long long max) const {
  const auto* node = table_.get(name);
  if (node == nullptr) return std::nullopt;
  const auto* value = node->as_integer();
  if (value == nullptr) fail(key(name), "expected an integer");
  check_range(key(name), value->get(), min, max);
  return value->get();
}

std::optional<double> TableReader::number(std::string_view name, double min) const {
  const auto* node = table_.get(name);
  if (node == nullptr) return std::nullopt;
  double result = 0;
  if (const auto* i = node->as_integer()) {
    result = static_cast<double>(i->get());
  } else if (const auto* f = node->as_floating_point()) {
    result = f->get();
  } else {
    fail(key(name), "expected a number");
  }
  if (!std::isfinite(result)) fail(key(name), "must be a finite number");
  if (result < min) {
    fail(key(name),
         "must be at least " + format_number(min) + " (got " + format_number(result) + ")");
  }
  return result;
}

std::optional<bool> TableReader::boolean(std::string_view name) const {
  const auto* node = table_.get(name);
  if (node == nullptr) return std::nullopt;
  const auto* value = node->as_boolean();
  if (value == nullptr) fail(key(name), "expected a boolean");
  return value->get();
}

std::optional<std::vector<std::string>> TableReader::strings(std::string_view name) const {
  const auto* node = table_.get(name);
  if (node == nullptr) return std::nullopt;
  const auto* array = node->as_array();
  if (array == nullptr) fail(key(name), "expected an array of strings");
  std::vector<std::string> result;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const auto* value = (*array)[i].as_string();
    if (value == nullptr) fail(index_key(key(name), i), "expected a string");
    result.push_back(value->get());
  }
  return result;
}

const toml::table* TableReader::table(std::string_view name) const {
  const auto* node = table_.get(name);
  if (node == nullptr) return nullptr;
  const auto* value = node->as_table();
  if (value == nullptr) fail(key(name), "expected a table");
  return value;
}

void check_listen(const std::string& key, const std::string& value) { parse_listen(value, key); }

void check_secret(const std::string& key, const std::string& value) {
  // Never echoes the value: it is a secret.
  if (value.size() < 16) fail(key, "must be at least 16 characters");
}

void check_log_level(const std::string& key, const std::string& value) {
  for (std::string_view level : {"debug", "info", "warn", "error"}) {
    if (value == level) return;
  }
  fail(key, "must be one of debug, info, warn, error (got " + quoted(value) + ")");
}

void check_data_dir(const std::string& key, const std::string& value) {
  if (value.empty()) fail(key, "must not be empty");
}

void check_log_format(const std::string& key, const std::string& value) {
  for (std::string_view format : {"auto", "json", "text"}) {
    if (value == format) return;
  }
  fail(key, "must be one of auto, json, text (got " + quoted(value) + ")");
}

void check_outbound_url(const std::string& key, const std::string& url, std::string_view carries) {
  constexpr std::string_view kPlain = "http://";
  if (!url.starts_with(kPlain)) return;
  auto authority = std::string_view(url).substr(kPlain.size());
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  std::string_view host = authority;
  if (host.starts_with('[')) {
    host = host.substr(0, host.find(']') + 1);
  } else {
    host = host.substr(0, host.find(':'));
  }
  if (is_loopback_host(std::string(host))) return;
  fail(key, "plain http:// would carry " + std::string(carries) +
                " in clear over the network; use https:// (http:// is accepted only for a "
                "loopback host such as 127.0.0.1)");
}

std::string quote(std::string_view text) { return quoted(text); }

std::string format_number(double value) {
  std::string text = std::to_string(value);
  // std::to_string prints six decimals; trailing zeros only add noise to a message.
  if (text.find('.') != std::string::npos) {
    while (text.back() == '0') text.pop_back();
    if (text.back() == '.') text.pop_back();
  }
  return text;
}

}  // namespace otpd::config::detail
