// Structured logs: one JSON object per line on stderr. Callers pass only masked or
// non-secret values; nothing here can know what a code looks like, so the rule that no
// code, key, secret or plaintext recipient is logged is kept at the call sites (and tested
// end to end).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace otpd::obs {

enum class Level { kDebug = 0, kInfo, kWarn, kError };
bool parse_level(std::string_view text, Level& out);
void set_log_level(Level level);
bool log_enabled(Level level);

struct LogField {
  using Value = std::variant<std::string_view, long long, double, bool>;
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  LogField(std::string_view k, long long v) : key(k), value(v) {}
  LogField(std::string_view k, int v) : key(k), value(static_cast<long long>(v)) {}
  LogField(std::string_view k, unsigned long v) : key(k), value(static_cast<long long>(v)) {}
  LogField(std::string_view k, double v) : key(k), value(v) {}
  LogField(std::string_view k, bool v) : key(k), value(v) {}
  std::string_view key;
  Value value;
};

// {"ts":"...","level":"info","msg":"...",<fields>} written with one write(2).
void log(Level level, std::string_view message, std::initializer_list<LogField> fields = {});

inline void info(std::string_view m, std::initializer_list<LogField> f = {}) {
  log(Level::kInfo, m, f);
}
inline void warn(std::string_view m, std::initializer_list<LogField> f = {}) {
  log(Level::kWarn, m, f);
}
inline void error(std::string_view m, std::initializer_list<LogField> f = {}) {
  log(Level::kError, m, f);
}

}  // namespace otpd::obs
