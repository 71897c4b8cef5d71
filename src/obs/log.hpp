// Structured logs on stderr: one JSON object per line for log shippers, or one readable
// "ts LEVEL message key=value ..." line for a person at a terminal. Callers pass only masked
// or non-secret values; nothing here can know what a code looks like, so the rule that no
// code, key, secret or plaintext recipient is logged is kept at the call sites (and tested
// end to end).
#pragma once

#include <chrono>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <variant>

namespace otpd::obs {

enum class Level { kDebug = 0, kInfo, kWarn, kError };
bool parse_level(std::string_view text, Level& out);
void set_log_level(Level level);
bool log_enabled(Level level);

// kAuto: text when stderr is a terminal, JSON otherwise (a pipe, a file, journald).
enum class LogFormat { kAuto, kJson, kText };
// "auto", "json" or "text" (the config key `log_format`).
bool parse_log_format(std::string_view text, LogFormat& out);
// Until this is called the format is kAuto, decided when the process starts.
void set_log_format(LogFormat format);
// What kAuto resolves to for this process's stderr: kJson or kText.
LogFormat auto_log_format();

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

// One line, newline included, exactly as log() writes it:
//   kJson: {"ts":"2026-12-05T10:00:00.123Z","level":"info","msg":"request","route":"/healthz"}
//   kText: 2026-12-05T10:00:00Z INFO request route=/healthz status=200
// In text, a value with a space, '=', '"' or a control character is double-quoted with
// escapes, so a value can never forge a field or a line. kAuto is treated as kJson.
std::string format_line(LogFormat format, std::chrono::system_clock::time_point when, Level level,
                        std::string_view message, std::span<const LogField> fields);

// Writes one line to stderr with one write(2), so lines from threads never interleave.
void log_fields(Level level, std::string_view message, std::span<const LogField> fields);
inline void log(Level level, std::string_view message,
                std::initializer_list<LogField> fields = {}) {
  log_fields(level, message, std::span<const LogField>(fields.begin(), fields.size()));
}

inline void info(std::string_view m, std::initializer_list<LogField> f = {}) {
  log(Level::kInfo, m, f);
}
inline void warn(std::string_view m, std::initializer_list<LogField> f = {}) {
  log(Level::kWarn, m, f);
}
inline void error(std::string_view m, std::initializer_list<LogField> f = {}) {
  log(Level::kError, m, f);
}

// The operational routes (/healthz, /readyz, /metrics): probes and scrapers hit them every
// few seconds, so their access-log lines would bury the API's at info.
bool quiet_route(std::string_view route);
// The level of a request's access-log line: debug for a quiet route, info otherwise.
Level access_log_level(std::string_view route);

}  // namespace otpd::obs
