// The stderr logger: JSON lines or readable text lines, one write(2) per line.
#include "obs/log.hpp"

#include <unistd.h>

#include <atomic>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <ctime>

namespace otpd::obs {
namespace {

LogFormat detect_auto_format() {
  return ::isatty(STDERR_FILENO) == 1 ? LogFormat::kText : LogFormat::kJson;
}

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
// Resolved (never kAuto): every line asks, so isatty is called once, at start.
std::atomic<LogFormat> g_format{detect_auto_format()};

const char* level_name(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

const char* level_label(Level level) {
  switch (level) {
    case Level::kDebug:
      return "DEBUG";
    case Level::kInfo:
      return "INFO";
    case Level::kWarn:
      return "WARN";
    case Level::kError:
      return "ERROR";
  }
  return "INFO";
}

// "2026-12-05T10:00:00" (UTC) and the milliseconds of `when`.
std::pair<std::string, long long> utc_seconds(std::chrono::system_clock::time_point when) {
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(when.time_since_epoch()).count();
  const auto secs = static_cast<std::time_t>(ms / 1000 - (ms % 1000 < 0 ? 1 : 0));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  const auto n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return {std::string(buf, n), ((ms % 1000) + 1000) % 1000};
}

std::string json_line(std::chrono::system_clock::time_point when, Level level,
                      std::string_view message, std::span<const LogField> fields) {
  const auto [seconds, millis] = utc_seconds(when);
  char fraction[8];
  std::snprintf(fraction, sizeof fraction, ".%03lldZ", millis);
  boost::json::object line;
  line["ts"] = seconds + fraction;
  line["level"] = level_name(level);
  line["msg"] = message;
  for (const auto& field : fields) {
    std::visit([&](const auto& v) { line[field.key] = v; }, field.value);
  }
  return boost::json::serialize(line) + "\n";
}

bool needs_quotes(std::string_view value) {
  if (value.empty()) return true;
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= ' ' || u == 0x7f || c == '"' || c == '=' || c == '\\') return true;
  }
  return false;
}

// Control characters are escaped everywhere, so no value or message can start a new line.
void append_escaped(std::string& out, std::string_view text) {
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (u < ' ' || u == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", u);
      out += hex;
    } else {
      out += c;
    }
  }
}

void append_text_value(std::string& out, const LogField::Value& value) {
  if (const auto* s = std::get_if<std::string_view>(&value)) {
    if (!needs_quotes(*s)) {
      out += *s;
      return;
    }
    out += '"';
    append_escaped(out, *s);
    out += '"';
  } else if (const auto* i = std::get_if<long long>(&value)) {
    out += std::to_string(*i);
  } else if (const auto* d = std::get_if<double>(&value)) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", *d);
    out += buf;
  } else {
    out += std::get<bool>(value) ? "true" : "false";
  }
}

std::string text_line(std::chrono::system_clock::time_point when, Level level,
                      std::string_view message, std::span<const LogField> fields) {
  std::string out = utc_seconds(when).first;
  out += "Z ";
  out += level_label(level);
  out += ' ';
  append_escaped(out, message);
  for (const auto& field : fields) {
    out += ' ';
    append_escaped(out, field.key);
    out += '=';
    append_text_value(out, field.value);
  }
  out += '\n';
  return out;
}

}  // namespace

bool parse_level(std::string_view text, Level& out) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError}) {
    if (text == level_name(l)) {
      out = l;
      return true;
    }
  }
  return false;
}

void set_log_level(Level level) { g_level = static_cast<int>(level); }
bool log_enabled(Level level) { return static_cast<int>(level) >= g_level.load(); }

bool parse_log_format(std::string_view text, LogFormat& out) {
  if (text == "auto") {
    out = LogFormat::kAuto;
  } else if (text == "json") {
    out = LogFormat::kJson;
  } else if (text == "text") {
    out = LogFormat::kText;
  } else {
    return false;
  }
  return true;
}

void set_log_format(LogFormat format) {
  g_format = format == LogFormat::kAuto ? detect_auto_format() : format;
}

LogFormat auto_log_format() { return detect_auto_format(); }

std::string format_line(LogFormat format, std::chrono::system_clock::time_point when, Level level,
                        std::string_view message, std::span<const LogField> fields) {
  return format == LogFormat::kText ? text_line(when, level, message, fields)
                                    : json_line(when, level, message, fields);
}

void log_fields(Level level, std::string_view message, std::span<const LogField> fields) {
  if (!log_enabled(level)) return;
  const std::string text =
      format_line(g_format.load(), std::chrono::system_clock::now(), level, message, fields);
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    const ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n <= 0) break;
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

bool quiet_route(std::string_view route) {
  return route == "/healthz" || route == "/readyz" || route == "/metrics";
}

Level access_log_level(std::string_view route) {
  return quiet_route(route) ? Level::kDebug : Level::kInfo;
}

}  // namespace otpd::obs
