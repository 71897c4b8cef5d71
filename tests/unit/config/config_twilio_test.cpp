// [twilio] and the tenants' twilio_service_sid / twilio_channels: what is read, and every
// mistake refused with a message naming the key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_test_util.hpp"

namespace otpd::config {
namespace {

using testing::error_of;
using ::testing::HasSubstr;
using testing::kKeyHash;
using testing::parse;
using ::testing::StartsWith;

const std::string kAccount = "AC0123456789abcdef0123456789abcdef";
const std::string kService = "VA0123456789abcdef0123456789abcdef";

std::string twilio_table(const std::string& extra = "") {
  return "[twilio]\naccount_sid = \"" + kAccount +
         "\"\nauth_tokens = [\"sha256:" + std::string(kKeyHash) + "\"]\n" + extra;
}

std::string shop(const std::string& extra = "") {
  return "[tenants.shop]\ntwilio_service_sid = \"" + kService + "\"\n" + extra +
         "[tenants.shop.channels.sms]\nprovider = \"twilio\"\naccount_sid = \"AC1\"\n"
         "auth_token = \"t\"\nfrom = \"+15005550006\"\n";
}

TEST(ConfigTwilio, OffWhenAbsent) {
  const Config c = parse("[tenants.acme]\n");
  EXPECT_FALSE(c.twilio.enabled);
  EXPECT_TRUE(c.protected_mode());
}

TEST(ConfigTwilio, ReadsTheAccountTheServicesAndTheChannels) {
  const Config c =
      parse(twilio_table("api_keys = [\"SK00112233445566778899aabbccddeeff:sha256:" +
                         std::string(kKeyHash) + "\"]\npublic_url = \"https://v.example.com\"\n") +
            shop());
  EXPECT_TRUE(c.twilio.enabled);
  EXPECT_EQ(c.twilio.account_sid, kAccount);
  EXPECT_EQ(c.twilio.auth_token_hashes, std::vector<std::string>{kKeyHash});
  ASSERT_EQ(c.twilio.api_keys.size(), 1u);
  EXPECT_EQ(c.twilio.api_keys[0].sid, "SK00112233445566778899aabbccddeeff");
  EXPECT_EQ(c.twilio.api_keys[0].secret_hash, kKeyHash);
  EXPECT_EQ(c.twilio.public_url, "https://v.example.com");
  const TenantConfig& t = c.tenants.at("shop");
  EXPECT_EQ(t.twilio_service_sid, kService);
  // By default sms goes through the sms channel; there is no email channel to map.
  EXPECT_EQ(t.twilio_channels,
            (std::map<std::string, core::ChannelKind>{{"sms", core::ChannelKind::kSms}}));
  // Credentials are configured: no protected mode, no implicit "default" tenant.
  EXPECT_FALSE(c.protected_mode());
  EXPECT_FALSE(c.tenants.contains("default"));
}

TEST(ConfigTwilio, ChannelMapping) {
  const Config c = parse(twilio_table() +
                         shop("twilio_channels = { sms = \"console\", whatsapp = "
                              "\"webhook\", email = \"console\" }\n") +
                         "[tenants.shop.channels.console]\n[tenants.shop.channels.webhook]\n"
                         "url = \"http://127.0.0.1:9/hook\"\nsecret = \"0123456789abcdef\"\n");
  const auto& m = c.tenants.at("shop").twilio_channels;
  EXPECT_EQ(m.size(), 3u);
  EXPECT_EQ(m.at("sms"), core::ChannelKind::kConsole);
  EXPECT_EQ(m.at("whatsapp"), core::ChannelKind::kWebhook);
  EXPECT_EQ(m.at("email"), core::ChannelKind::kConsole);
}

TEST(ConfigTwilio, ErrorsNameTheKey) {
  const std::string s = shop();
  EXPECT_THAT(error_of("[twilio]\nauth_tokens = [\"sha256:" + std::string(kKeyHash) + "\"]\n" + s),
              StartsWith("twilio.account_sid: required"));
  EXPECT_THAT(error_of("[twilio]\naccount_sid = \"AC123\"\n" + s),
              StartsWith("twilio.account_sid: expected an Account SID"));
  EXPECT_THAT(error_of("[twilio]\naccount_sid = \"" + kAccount + "\"\n" + s),
              StartsWith("twilio.auth_tokens: required"));
  EXPECT_THAT(
      error_of("[twilio]\naccount_sid = \"" + kAccount + "\"\nauth_tokens = [\"plain\"]\n" + s),
      StartsWith("twilio.auth_tokens[0]: expected \"sha256:<64 hex digits>\""));
  EXPECT_THAT(error_of(twilio_table().substr(0, twilio_table().size() - 2) +
                       ", \"sha256:" + std::string(kKeyHash) + "\"]\n" + s),
              StartsWith("twilio.auth_tokens[1]: listed twice"));
  EXPECT_THAT(
      error_of(twilio_table("api_keys = [\"SK1:sha256:" + std::string(kKeyHash) + "\"]\n") + s),
      StartsWith("twilio.api_keys[0]: expected \"SK<32 hex digits>:sha256:<64 hex digits>\""));
  EXPECT_THAT(error_of(twilio_table("public_url = \"https://v.example.com/v2\"\n") + s),
              StartsWith("twilio.public_url: must be a scheme and host only"));
  EXPECT_THAT(error_of(twilio_table("public_url = \"ftp://x\"\n") + s),
              StartsWith("twilio.public_url: expected an http:// or https:// URL"));
  EXPECT_THAT(error_of(twilio_table("region = \"us1\"\n") + s),
              StartsWith("twilio.region: unknown key"));
  EXPECT_THAT(error_of(twilio_table() + "[tenants.shop]\n"),
              StartsWith("twilio: no tenant sets twilio_service_sid"));
  EXPECT_THAT(error_of(s), StartsWith("tenants.shop.twilio_service_sid: needs a [twilio] table"));
  EXPECT_THAT(error_of(twilio_table() + "[tenants.shop]\ntwilio_service_sid = \"VA1\"\n"),
              StartsWith("tenants.shop.twilio_service_sid: expected a Verify Service SID"));
  EXPECT_THAT(error_of(twilio_table() + s + "[tenants.clinic]\ntwilio_service_sid = \"" + kService +
                       "\"\n"),
              HasSubstr("twilio_service_sid: the same Service SID is already tenants."));
  EXPECT_THAT(
      error_of(twilio_table() + shop("twilio_channels = { email = \"email\" }\n")),
      StartsWith("tenants.shop.twilio_channels.email: channel \"email\" is not configured"));
  EXPECT_THAT(error_of(twilio_table() + shop("twilio_channels = { email = \"sms\" }\n")),
              StartsWith("tenants.shop.twilio_channels.email: channel \"sms\" cannot reach"));
  EXPECT_THAT(error_of(twilio_table() + shop("twilio_channels = { sms = \"fax\" }\n")),
              StartsWith("tenants.shop.twilio_channels.sms: must be one of"));
  EXPECT_THAT(error_of(twilio_table() + shop("twilio_channels = { sna = \"sms\" }\n")),
              StartsWith("tenants.shop.twilio_channels.sna: unknown key"));
}

TEST(ConfigTwilio, CredentialsOffLoopbackNeedTls) {
  const Config c = parse("listen = \"0.0.0.0:8080\"\n" + twilio_table() + shop());
  try {
    check_plain_http(c);
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), StartsWith("listen: [twilio] credentials are configured"));
  }
  check_plain_http(
      parse("listen = \"0.0.0.0:8080\"\nallow_plain_http = true\n" + twilio_table() + shop()));
}

TEST(ConfigTwilio, V2IsOtpdsOwnForTheCompatFacade) {
  EXPECT_THAT(error_of("[compat]\nenabled = true\ntenant = \"a\"\npath = \"/v2/Services\"\n"),
              StartsWith("compat.path: conflicts with otpd's own routes"));
}

}  // namespace
}  // namespace otpd::config
