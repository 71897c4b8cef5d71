// OTPD_<KEY> overrides of the top-level keys, and reading them from the process environment.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "config_test_util.hpp"

namespace otpd::config {
namespace {

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
                        {"OTPD_STORE", "redis://127.0.0.1:6379/2"},
                        {"OTPD_DATA_DIR", "/var/lib/otpd"},
                        {"OTPD_SECRETS", "env-secret-0123456789"},
                        {"OTPD_MAX_CONNECTIONS", "100"},
                        {"OTPD_THREADS", "8"},
                        {"OTPD_LOG_LEVEL", "error"}});
  EXPECT_EQ(c.listen, "0.0.0.0:0");
  EXPECT_EQ(c.admin_listen, "[::1]:9090");
  EXPECT_EQ(c.store, "redis://127.0.0.1:6379/2");
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
  EXPECT_EQ(parse("", {{"OTPD_DATA_DIR", "/srv"}, {"OTPD_STORE", "dynamodb://t"}}).store,
            "dynamodb://t");
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
              StartsWith("OTPD_STORE: unsupported scheme"));
  EXPECT_THAT(error_of("", {{"OTPD_STORE", "mongodb://u:hunter2@h"}}), Not(HasSubstr("hunter2")));
  EXPECT_EQ(error_of("", {{"OTPD_DATA_DIR", " "}}), "OTPD_DATA_DIR: must not be empty");
  EXPECT_EQ(error_of("", {{"OTPD_SECRETS", "long-enough-secret-1,short"}}),
            "OTPD_SECRETS[1]: must be at least 16 characters");
  EXPECT_THAT(error_of("", {{"OTPD_SECRETS", "long-enough-secret-1,short"}}),
              Not(HasSubstr("short\"")));
}

TEST(ConfigEnv, OtherOtpdVariablesAreIgnored) {
  const auto c = parse("", {{"OTPD_CONFIG", "/etc/otpd.toml"},
                            {"OTPD_URL", "http://127.0.0.1:8080"},
                            {"OTPD_TENANTS", "nonsense"}});
  EXPECT_EQ(c.listen, "127.0.0.1:8080");
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
