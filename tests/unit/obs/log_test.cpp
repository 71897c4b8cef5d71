// The log line formats (JSON for shippers, text for people), the choice between them by
// config or by whether stderr is a terminal, and the quiet operational routes.
#include "obs/log.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <pty.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace otpd::obs {
namespace {

using std::chrono::system_clock;

// 2026-12-05T10:00:00.042Z
system_clock::time_point example_time() {
  return system_clock::time_point(std::chrono::seconds(1796464800)) + std::chrono::milliseconds(42);
}

std::string text(std::string_view message, std::initializer_list<LogField> fields,
                 Level level = Level::kInfo) {
  return format_line(LogFormat::kText, example_time(), level, message,
                     std::span<const LogField>(fields.begin(), fields.size()));
}

TEST(LogText, RequestLineReadsLikeTheExample) {
  EXPECT_EQ(text("request", {{"method", "GET"},
                             {"route", "/v1/otp/{id}"},
                             {"status", 200},
                             {"us", 311LL},
                             {"tenant", "acme"}}),
            "2026-12-05T10:00:00Z INFO request method=GET route=/v1/otp/{id} status=200 us=311 "
            "tenant=acme\n");
}

TEST(LogText, LevelsAreUpperCase) {
  EXPECT_EQ(text("m", {}, Level::kDebug), "2026-12-05T10:00:00Z DEBUG m\n");
  EXPECT_EQ(text("m", {}, Level::kWarn), "2026-12-05T10:00:00Z WARN m\n");
  EXPECT_EQ(text("m", {}, Level::kError), "2026-12-05T10:00:00Z ERROR m\n");
}

TEST(LogText, ValuesThatCouldBeMisreadAreQuotedAndEscaped) {
  EXPECT_EQ(text("m", {{"error", "connection refused"}}),
            "2026-12-05T10:00:00Z INFO m error=\"connection refused\"\n");
  EXPECT_EQ(text("m", {{"a", ""}}), "2026-12-05T10:00:00Z INFO m a=\"\"\n");
  EXPECT_EQ(text("m", {{"a", "x=y"}}), "2026-12-05T10:00:00Z INFO m a=\"x=y\"\n");
  EXPECT_EQ(text("m", {{"a", "say \"hi\"\\"}}),
            "2026-12-05T10:00:00Z INFO m a=\"say \\\"hi\\\"\\\\\"\n");
  // A value can never start a line of its own (log injection).
  EXPECT_EQ(text("m", {{"a", "x\nfake=1"}}), "2026-12-05T10:00:00Z INFO m a=\"x\\nfake=1\"\n");
  EXPECT_EQ(text("m", {{"a", std::string_view("\x01\x7f\t\r", 4)}}),
            "2026-12-05T10:00:00Z INFO m a=\"\\x01\\x7f\\t\\r\"\n");
  EXPECT_EQ(text("two\nlines", {}), "2026-12-05T10:00:00Z INFO two\\nlines\n");
}

TEST(LogText, NumbersAndBooleans) {
  EXPECT_EQ(text("m", {{"n", -5}, {"ok", true}, {"no", false}, {"r", 0.25}}),
            "2026-12-05T10:00:00Z INFO m n=-5 ok=true no=false r=0.25\n");
  EXPECT_EQ(text("m", {{"n", 4096UL}}), "2026-12-05T10:00:00Z INFO m n=4096\n");
}

TEST(LogJson, OneObjectPerLineWithEveryField) {
  const std::vector<LogField> fields{
      {"route", "/v1/otp/send"}, {"status", 201}, {"ok", true}, {"detail", "a \"b\"\nc"}};
  const auto line = format_line(LogFormat::kJson, example_time(), Level::kWarn, "request", fields);
  ASSERT_TRUE(line.ends_with("}\n")) << line;
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  const auto value = boost::json::parse(line);
  const auto& o = value.as_object();
  EXPECT_EQ(o.at("ts").as_string(), "2026-12-05T10:00:00.042Z");
  EXPECT_EQ(o.at("level").as_string(), "warn");
  EXPECT_EQ(o.at("msg").as_string(), "request");
  EXPECT_EQ(o.at("route").as_string(), "/v1/otp/send");
  EXPECT_EQ(o.at("status").as_int64(), 201);
  EXPECT_EQ(o.at("ok").as_bool(), true);
  EXPECT_EQ(o.at("detail").as_string(), "a \"b\"\nc");
  // kAuto never reaches format_line from log(); taken as JSON if it does.
  EXPECT_EQ(format_line(LogFormat::kAuto, example_time(), Level::kWarn, "request", fields), line);
}

TEST(LogFormatSetting, ParsesTheConfigValues) {
  LogFormat f = LogFormat::kJson;
  ASSERT_TRUE(parse_log_format("text", f));
  EXPECT_EQ(f, LogFormat::kText);
  ASSERT_TRUE(parse_log_format("json", f));
  EXPECT_EQ(f, LogFormat::kJson);
  ASSERT_TRUE(parse_log_format("auto", f));
  EXPECT_EQ(f, LogFormat::kAuto);
  EXPECT_FALSE(parse_log_format("JSON", f));
  EXPECT_FALSE(parse_log_format("", f));
}

// Points stderr at `fd` for the life of the object.
class StderrRedirect {
 public:
  explicit StderrRedirect(int fd) : saved_(::dup(STDERR_FILENO)) { ::dup2(fd, STDERR_FILENO); }
  ~StderrRedirect() {
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
  }
  StderrRedirect(const StderrRedirect&) = delete;
  StderrRedirect& operator=(const StderrRedirect&) = delete;

 private:
  int saved_;
};

std::string read_all(int fd) {
  std::string out;
  ::lseek(fd, 0, SEEK_SET);
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  return out;
}

TEST(LogOutput, AutoIsTextOnATerminalAndJsonOtherwise) {
  char path[] = "/tmp/otpd-log-test-XXXXXX";
  const int file = ::mkstemp(path);
  ASSERT_GE(file, 0);
  ::unlink(path);
  {
    StderrRedirect to_file(file);
    EXPECT_EQ(auto_log_format(), LogFormat::kJson);
  }
  ::close(file);

  int master = -1, slave = -1;
  if (::openpty(&master, &slave, nullptr, nullptr, nullptr) != 0) {
    GTEST_SKIP() << "no pseudo-terminal available";
  }
  {
    StderrRedirect to_tty(slave);
    EXPECT_EQ(auto_log_format(), LogFormat::kText);
  }
  ::close(slave);
  ::close(master);
}

TEST(LogOutput, WritesTheChosenFormatAndHonoursTheLevel) {
  char path[] = "/tmp/otpd-log-test-XXXXXX";
  const int file = ::mkstemp(path);
  ASSERT_GE(file, 0);
  ::unlink(path);
  {
    StderrRedirect to_file(file);
    set_log_level(Level::kInfo);
    set_log_format(LogFormat::kText);
    info("otpd listening", {{"listen", "[::1]:8080"}});
    log(Level::kDebug, "hidden", {});
    set_log_format(LogFormat::kJson);
    warn("as json", {{"n", 1}});
    // auto on a file is JSON.
    set_log_format(LogFormat::kAuto);
    error("auto", {});
  }
  const std::string out = read_all(file);
  ::close(file);
  const auto first_end = out.find('\n');
  ASSERT_NE(first_end, std::string::npos) << out;
  const std::string first = out.substr(0, first_end);
  EXPECT_TRUE(first.ends_with("Z INFO otpd listening listen=[::1]:8080")) << first;
  EXPECT_EQ(out.find("hidden"), std::string::npos) << out;
  const auto second_end = out.find('\n', first_end + 1);
  ASSERT_NE(second_end, std::string::npos) << out;
  const auto json = boost::json::parse(out.substr(first_end + 1, second_end - first_end - 1));
  EXPECT_EQ(json.as_object().at("msg").as_string(), "as json");
  EXPECT_EQ(json.as_object().at("n").as_int64(), 1);
  const auto third = boost::json::parse(out.substr(second_end + 1));
  EXPECT_EQ(third.as_object().at("level").as_string(), "error");
}

TEST(AccessLog, OperationalRoutesAreLoggedAtDebug) {
  for (const char* route : {"/healthz", "/readyz", "/metrics"}) {
    EXPECT_TRUE(quiet_route(route)) << route;
    EXPECT_EQ(access_log_level(route), Level::kDebug) << route;
  }
  for (const char* route : {"/v1/otp/send", "/v1/otp/{id}", "/v1/openapi.json", "unmatched",
                            "compat", "/healthz/x", "/metricsx", ""}) {
    EXPECT_FALSE(quiet_route(route)) << route;
    EXPECT_EQ(access_log_level(route), Level::kInfo) << route;
  }
}

}  // namespace
}  // namespace otpd::obs
