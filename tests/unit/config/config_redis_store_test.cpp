// The Redis store URLs in the config: every form is accepted, each needs the shared secrets
// of a remote store (instances must sign and seal alike), and no password is ever echoed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_test_util.hpp"

namespace otpd::config {
namespace {

using testing::error_of;
using ::testing::HasSubstr;
using ::testing::Not;
using testing::parse;
using ::testing::StartsWith;

const char* const kRedisUrls[] = {
    "redis://127.0.0.1:6379/0",
    "redis://otpd:pa55word@redis.internal:6380/2",
    "rediss://cache.example:6380?ca_file=/etc/otpd/ca.pem",
    "redis-cluster://10.0.0.1:7000,10.0.0.2:7000,10.0.0.3:7000",
    "rediss-cluster://:pa55word@10.0.0.1:7000,10.0.0.2:7000?key_prefix=otpd-eu:",
};

TEST(ConfigRedisStore, EveryRedisFormIsAcceptedWithSharedSecrets) {
  for (const char* url : kRedisUrls) {
    const Config c =
        parse("secrets = [\"0123456789abcdef\"]\nstore = \"" + std::string(url) + "\"");
    EXPECT_EQ(c.store, url);
    // The same through the environment, as a container would set it.
    const Config e =
        parse("", {{"OTPD_STORE", url}, {"OTPD_SECRETS", "0123456789abcdef,old-0123456789ab"}});
    EXPECT_EQ(e.store, url);
    EXPECT_EQ(e.secrets.size(), 2u);
  }
}

TEST(ConfigRedisStore, EveryRedisFormNeedsSharedSecrets) {
  for (const char* url : kRedisUrls) {
    const std::string scheme = std::string(url).substr(0, std::string(url).find("://"));
    const std::string error = error_of("store = \"" + std::string(url) + "\"");
    EXPECT_THAT(error, StartsWith("secrets: required when the store is remote (" + scheme + "://)"))
        << url;
    EXPECT_THAT(error, Not(HasSubstr("pa55word"))) << url;
    // Empty secrets from the environment are no secrets either.
    EXPECT_THAT(error_of("", {{"OTPD_STORE", url}, {"OTPD_SECRETS", ""}}), StartsWith("secrets: "))
        << url;
  }
  // A secret too short for a remote store is refused like any other.
  EXPECT_EQ(error_of("secrets = [\"short\"]\nstore = \"redis://h:6379/0\""),
            "secrets[0]: must be at least 16 characters");
}

TEST(ConfigRedisStore, TheStoreListNamesTheRedisForms) {
  std::string forms;
  for (const auto& store : supported_stores()) {
    forms += (forms.empty() ? "" : ", ") + std::string(store.form);
  }
  for (const char* form : {"redis://", "rediss://", "redis-cluster://", "rediss-cluster://"}) {
    EXPECT_THAT(forms, HasSubstr(form));
  }
  EXPECT_THAT(error_of("secrets = [\"0123456789abcdef\"]\nstore = \"redis://\""),
              StartsWith("store: nothing after \"redis://\""));
  EXPECT_THAT(
      error_of("secrets = [\"0123456789abcdef\"]\nstore = \"redis-clusters://:pa55word@h\""),
      Not(HasSubstr("pa55word")));
}

}  // namespace
}  // namespace otpd::config
