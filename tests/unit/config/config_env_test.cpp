// OTPD_<KEY> overrides of the top-level keys, and reading them from the process environment.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cctype>
#include <cstdlib>

#include "config/reader.hpp"
#include "config_test_util.hpp"

namespace otpd::config {
namespace {

using ::testing::AllOf;
using testing::Env;
using testing::error_of;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::parse;
using ::testing::StartsWith;

TEST(ConfigEnv, OverridesEveryTopLevelKey) {
  const auto c = parse(R"(
listen = "127.0.0.1:1111"
admin_listen = "127.0.0.1:2222"
store = "sqlite://./a.db"
data_dir = "./a"
secrets = ["file-secret-0123456789"]
max_connections = 5
threads = 1
log_level = "warn"
)",
                       {{"OTPD_LISTEN", "0.0.0.0:0"},
                        {"OTPD_ADMIN_LISTEN", "[::1]:9090"},
                        {"OTPD_STORE", "sqlite:///srv/env.db"},
                        {"OTPD_DATA_DIR", "/var/lib/otpd"},
                        {"OTPD_SECRETS", "env-secret-0123456789"},
                        {"OTPD_MAX_CONNECTIONS", "100"},
                        {"OTPD_THREADS", "8"},
                        {"OTPD_LOG_LEVEL", "error"}});
  EXPECT_EQ(c.listen, "0.0.0.0:0");
  EXPECT_EQ(c.admin_listen, "[::1]:9090");
  EXPECT_EQ(c.store, "sqlite:///srv/env.db");
  EXPECT_EQ(c.data_dir, "/var/lib/otpd");
  EXPECT_EQ(c.secrets, std::vector<std::string>{"env-secret-0123456789"});
  EXPECT_EQ(c.max_connections, 100u);
  EXPECT_EQ(c.threads, 8);
  EXPECT_EQ(c.log_level, "error");
}

TEST(ConfigEnv, FileValuesStandWithoutEnv) {
  const auto c = parse("listen = \"127.0.0.1:1111\"\nthreads = 3\n", {{"OTPD_LOG_LEVEL", "debug"}});
  EXPECT_EQ(c.listen, "127.0.0.1:1111");
  EXPECT_EQ(c.threads, 3);
  EXPECT_EQ(c.log_level, "debug");
}

TEST(ConfigEnv, ListsAreCommaSeparatedTrimmedAndSkipEmptyItems) {
  const auto c = parse("", {{"OTPD_SECRETS", " first-secret-0123456 ,,second-secret-012345 , "}});
  EXPECT_EQ(c.secrets, (std::vector<std::string>{"first-secret-0123456", "second-secret-012345"}));
  EXPECT_TRUE(
      parse("secrets = [\"file-secret-0123456789\"]", {{"OTPD_SECRETS", ""}}).secrets.empty());
}

TEST(ConfigEnv, EmptyAdminListenMovesOperationsBackToTheMainListener) {
  EXPECT_EQ(parse("admin_listen = \"127.0.0.1:9090\"", {{"OTPD_ADMIN_LISTEN", ""}}).admin_listen,
            "");
}

TEST(ConfigEnv, IntegersAreTrimmed) { EXPECT_EQ(parse("", {{"OTPD_THREADS", " 2 "}}).threads, 2); }

TEST(ConfigEnv, StoreFromEnvIsNotReplacedByTheDataDirDefault) {
  EXPECT_EQ(parse("", {{"OTPD_DATA_DIR", "/srv"}}).store, "sqlite:///srv/otpd.db");
  EXPECT_EQ(parse("", {{"OTPD_DATA_DIR", "/srv"}, {"OTPD_STORE", "sqlite:///db/t.db"}}).store,
            "sqlite:///db/t.db");
}

TEST(ConfigEnv, BadValuesNameTheVariable) {
  EXPECT_EQ(error_of("", {{"OTPD_MAX_CONNECTIONS", "many"}}),
            "OTPD_MAX_CONNECTIONS: expected an integer");
  EXPECT_EQ(error_of("", {{"OTPD_MAX_CONNECTIONS", "12x"}}),
            "OTPD_MAX_CONNECTIONS: expected an integer");
  EXPECT_EQ(error_of("", {{"OTPD_MAX_CONNECTIONS", ""}}),
            "OTPD_MAX_CONNECTIONS: expected an integer");
  EXPECT_EQ(error_of("", {{"OTPD_MAX_CONNECTIONS", "99999999999999999999999"}}),
            "OTPD_MAX_CONNECTIONS: expected an integer");
  EXPECT_EQ(error_of("", {{"OTPD_MAX_CONNECTIONS", "0"}}),
            "OTPD_MAX_CONNECTIONS: must be between 1 and 1000000 (got 0)");
  EXPECT_EQ(error_of("", {{"OTPD_THREADS", "-1"}}),
            "OTPD_THREADS: must be between 0 and 1024 (got -1)");
  EXPECT_EQ(error_of("", {{"OTPD_THREADS", "1.5"}}), "OTPD_THREADS: expected an integer");
  EXPECT_EQ(error_of("", {{"OTPD_LOG_LEVEL", "trace"}}),
            "OTPD_LOG_LEVEL: must be one of debug, info, warn, error (got \"trace\")");
  EXPECT_THAT(error_of("", {{"OTPD_LISTEN", "8080"}}), StartsWith("OTPD_LISTEN: expected"));
  EXPECT_THAT(error_of("", {{"OTPD_ADMIN_LISTEN", "h:70000"}}),
              StartsWith("OTPD_ADMIN_LISTEN: port must be"));
  EXPECT_THAT(error_of("", {{"OTPD_STORE", "mongodb://u:hunter2@h"}}),
              StartsWith("OTPD_STORE: the mongodb:// store is not available"));
  EXPECT_THAT(error_of("", {{"OTPD_STORE", "mongodb://u:hunter2@h"}}), Not(HasSubstr("hunter2")));
  EXPECT_EQ(error_of("", {{"OTPD_DATA_DIR", " "}}), "OTPD_DATA_DIR: must not be empty");
  EXPECT_EQ(error_of("", {{"OTPD_SECRETS", "long-enough-secret-1,short"}}),
            "OTPD_SECRETS[1]: must be at least 16 characters");
  EXPECT_THAT(error_of("", {{"OTPD_SECRETS", "long-enough-secret-1,short"}}),
              Not(HasSubstr("short\"")));
}

TEST(ConfigEnv, VariablesOfTheClientAndTheTestsAreLeftAlone) {
  Env env;
  for (auto name : foreign_env_variables()) env.emplace(name, "anything");
  EXPECT_TRUE(env.contains("OTPD_CONFIG") && env.contains("OTPD_URL") &&
              env.contains("OTPD_API_KEY") && env.contains("OTPD_BIN"));
  EXPECT_EQ(parse("", env).listen, "127.0.0.1:8080");
}

TEST(ConfigEnv, UnknownVariableIsAnErrorWithADidYouMean) {
  EXPECT_EQ(error_of("", {{"OTPD_LISTN", "0.0.0.0:1"}}),
            "OTPD_LISTN: unknown variable (did you mean \"OTPD_LISTEN\"?); OTPD_<KEY> sets a "
            "top-level key of the config file");
  EXPECT_THAT(error_of("", {{"OTPD_LOGLEVEL", "debug"}}),
              StartsWith("OTPD_LOGLEVEL: unknown variable (did you mean \"OTPD_LOG_LEVEL\"?)"));
  EXPECT_THAT(error_of("", {{"OTPD_CONFG", "/etc/otpd.toml"}}),
              StartsWith("OTPD_CONFG: unknown variable (did you mean \"OTPD_CONFIG\"?)"));
  EXPECT_EQ(error_of("", {{"OTPD_FROBNICATE", "1"}}),
            "OTPD_FROBNICATE: unknown variable; OTPD_<KEY> sets a top-level key of the config "
            "file");
  // Checked before any value: the message is about the name, even beside a good variable.
  EXPECT_THAT(error_of("", {{"OTPD_LISTEN", "127.0.0.1:1"}, {"OTPD_THREAD", "2"}}),
              StartsWith("OTPD_THREAD: unknown variable (did you mean \"OTPD_THREADS\"?)"));
  // The value is never echoed: a misspelt OTPD_SECRETS holds secrets.
  EXPECT_THAT(error_of("", {{"OTPD_SECRET", "hunter2-hunter2-hunter2"}}),
              AllOf(StartsWith("OTPD_SECRET: unknown variable (did you mean \"OTPD_SECRETS\"?)"),
                    Not(HasSubstr("hunter2"))));
}

TEST(ConfigEnv, TablesCannotComeFromTheEnvironment) {
  EXPECT_EQ(error_of("", {{"OTPD_TENANTS", "nonsense"}}),
            "OTPD_TENANTS: tables cannot be set from the environment; write them in the config "
            "file");
  EXPECT_THAT(error_of("", {{"OTPD_COMPAT", "x"}}), StartsWith("OTPD_COMPAT: tables cannot"));
}

TEST(ConfigEnv, EveryTopLevelValueKeyHasItsVariable) {
  // A top-level key added to the file without its OTPD_ twin would be refused as unknown here.
  for (auto key : detail::env_settable_keys()) {
    std::string name = "OTPD_";
    for (char c : key) name += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    try {
      parse_config("", {{name, ""}});
    } catch (const ConfigError& e) {
      EXPECT_THAT(e.what(), Not(HasSubstr("unknown variable"))) << name;
    }
  }
}

TEST(ConfigEnv, LogFormatAndPlainHttp) {
  const auto c = parse("", {{"OTPD_LOG_FORMAT", " text "}, {"OTPD_ALLOW_PLAIN_HTTP", "true"}});
  EXPECT_EQ(c.log_format, "text");
  EXPECT_TRUE(c.allow_plain_http);
  EXPECT_FALSE(
      parse("allow_plain_http = true", {{"OTPD_ALLOW_PLAIN_HTTP", "false"}}).allow_plain_http);
  EXPECT_EQ(error_of("", {{"OTPD_LOG_FORMAT", "xml"}}),
            "OTPD_LOG_FORMAT: must be one of auto, json, text (got \"xml\")");
  EXPECT_EQ(error_of("", {{"OTPD_ALLOW_PLAIN_HTTP", "yes"}}),
            "OTPD_ALLOW_PLAIN_HTTP: expected true or false (got \"yes\")");
}

TEST(ConfigEnv, ProcessEnvReturnsOnlyOtpdVariables) {
  ASSERT_EQ(setenv("OTPD_TEST_CONFIG_VAR", "a=b", 1), 0);
  ASSERT_EQ(setenv("NOT_OTPD_TEST_VAR", "x", 1), 0);
  const auto env = process_env();
  unsetenv("OTPD_TEST_CONFIG_VAR");
  unsetenv("NOT_OTPD_TEST_VAR");
  ASSERT_TRUE(env.contains("OTPD_TEST_CONFIG_VAR"));
  EXPECT_EQ(env.at("OTPD_TEST_CONFIG_VAR"), "a=b");
  for (const auto& [name, value] : env) EXPECT_TRUE(name.starts_with("OTPD_")) << name;
}

}  // namespace
}  // namespace otpd::config
