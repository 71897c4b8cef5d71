// The Twilio-compatible API's authentication, its Services (read-only, with Twilio's
// pagination envelope) and the answers for what it does not implement.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api/twilio_auth.hpp"
#include "api_harness.hpp"

namespace otpd::api::testing {
namespace {

using ::testing::HasSubstr;

const std::string kServices = "/v2/Services";
const std::string kShop = kServices + "/" + kShopSid;

TEST(TwilioAuthTest, AccountSidWithAnyConfiguredTokenOrAnApiKey) {
  ApiHarness api(twilio_config());
  EXPECT_EQ(api.twilio("GET", kShop).status(), 200);
  EXPECT_EQ(api.twilio("GET", kShop, "", std::string(kAccountSid) + ":" + kOldAuthToken).status(),
            200);
  EXPECT_EQ(api.twilio("GET", kShop, "", std::string(kApiKeySid) + ":" + kApiKeySecret).status(),
            200);
}

TEST(TwilioAuthTest, AnythingElseIs20003) {
  ApiHarness api(twilio_config());
  const std::string other_account = "AC00000000000000000000000000000000";
  for (const std::string& credentials :
       {std::string(), std::string(kAccountSid) + ":wrong", other_account + ":" + kAuthToken,
        std::string(kAccountSid) + ":" + kApiKeySecret, std::string(kApiKeySid) + ":" + kAuthToken,
        std::string(kAccountSid) + ":", std::string(kShopApiKey)}) {
    const Reply r = api.twilio("GET", kShop, "", credentials);
    EXPECT_EQ(r.status(), 401) << credentials;
    EXPECT_EQ(r.num("code"), 20003);
    EXPECT_EQ(r.str("more_info"), "https://www.twilio.com/docs/errors/20003");
    EXPECT_THAT(r.header("WWW-Authenticate"), HasSubstr("Basic"));
  }
  // A v1 Bearer key is not a Twilio credential, and garbage is not Basic auth.
  EXPECT_EQ(api.call("GET", kShop, "", {{"Authorization", std::string("Bearer ") + kShopApiKey}})
                .status(),
            401);
  EXPECT_EQ(api.call("GET", kShop, "", {{"Authorization", "Basic !!!"}}).status(), 401);
  // Unauthenticated callers learn nothing, not even whether a Service exists.
  EXPECT_EQ(
      api.twilio("GET", kServices + "/VA00000000000000000000000000000000", "", "x:y").status(),
      401);
}

TEST(TwilioAuthTest, RepeatedFailuresFromOneAddressAreSlowedDown) {
  ApiHarness api(twilio_config());
  int throttled = 0;
  for (int i = 0; i < 40 && throttled == 0; ++i) {
    const Reply r = api.twilio("GET", kShop, "", std::string(kAccountSid) + ":guess");
    if (r.status() == 429) {
      ++throttled;
      EXPECT_EQ(r.num("code"), 20429);
      EXPECT_FALSE(r.header("Retry-After").empty());
    }
  }
  EXPECT_EQ(throttled, 1);
  // A valid credential is never held back.
  EXPECT_EQ(api.twilio("GET", kShop).status(), 200);
}

TEST(TwilioAuthTest, BasicHeaderParsing) {
  auto parsed = parse_basic_authorization("Basic " + core::base64_encode("AC1:tok:en"));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->first, "AC1");
  EXPECT_EQ(parsed->second, "tok:en");
  EXPECT_TRUE(parse_basic_authorization("basic " + core::base64_encode("a:b")));
  EXPECT_FALSE(parse_basic_authorization("Basic " + core::base64_encode("no-colon")));
  EXPECT_FALSE(parse_basic_authorization("Basic abc"));
  EXPECT_FALSE(parse_basic_authorization("Bearer " + core::base64_encode("a:b")));
  for (std::string text : {"a", "ab", "abc:", ":xyz"}) {
    auto p = parse_basic_authorization("Basic " + core::base64_encode(text));
    if (text.find(':') == std::string::npos) {
      EXPECT_FALSE(p) << text;
    } else {
      ASSERT_TRUE(p) << text;
      EXPECT_EQ(p->first + ":" + p->second, text);
    }
  }
}

TEST(TwilioServicesTest, ListWithTwilioPagination) {
  ApiHarness api(twilio_config());
  const Reply all = api.twilio("GET", kServices);
  ASSERT_EQ(all.status(), 200) << all.response.body;
  const auto& services = all.object().at("services").as_array();
  ASSERT_EQ(services.size(), 2u);
  EXPECT_EQ(services[0].at("sid"), kShopSid);  // in SID order
  EXPECT_EQ(services[1].at("sid"), kClinicSid);
  const auto& meta = all.object().at("meta").as_object();
  EXPECT_EQ(meta.at("key"), "services");
  EXPECT_EQ(meta.at("page"), 0);
  EXPECT_EQ(meta.at("page_size"), 50);
  EXPECT_EQ(meta.at("first_page_url"), "http://otpd.test:8080/v2/Services?PageSize=50&Page=0");
  EXPECT_EQ(meta.at("url"), meta.at("first_page_url"));
  EXPECT_TRUE(meta.at("next_page_url").is_null());
  EXPECT_TRUE(meta.at("previous_page_url").is_null());

  const Reply first = api.twilio("GET", kServices + "?PageSize=1");
  ASSERT_EQ(first.object().at("services").as_array().size(), 1u);
  const auto next = first.object().at("meta").at("next_page_url").as_string();
  EXPECT_EQ(next, "http://otpd.test:8080/v2/Services?PageSize=1&Page=1");
  const Reply second =
      api.twilio("GET", std::string(next.subview(std::string("http://otpd.test:8080").size())));
  ASSERT_EQ(second.status(), 200);
  EXPECT_EQ(second.object().at("services").as_array()[0].at("sid"), kClinicSid);
  EXPECT_TRUE(second.object().at("meta").at("next_page_url").is_null());
  EXPECT_EQ(second.object().at("meta").at("previous_page_url"),
            "http://otpd.test:8080/v2/Services?PageSize=1&Page=0");
  EXPECT_TRUE(api.twilio("GET", kServices + "?PageSize=1&Page=7")
                  .object()
                  .at("services")
                  .as_array()
                  .empty());

  for (std::string bad : {"PageSize=0", "PageSize=1001", "PageSize=x", "Page=-1"}) {
    const Reply r = api.twilio("GET", kServices + "?" + bad);
    EXPECT_EQ(r.status(), 400) << bad;
    EXPECT_EQ(r.num("code"), 60200) << bad;
  }
}

TEST(TwilioServicesTest, FetchAServiceFromTheTenantsConfig) {
  ApiHarness api(twilio_config("code_length = 8"));
  const Reply r = api.twilio("GET", kShop);
  ASSERT_EQ(r.status(), 200) << r.response.body;
  EXPECT_EQ(r.str("sid"), kShopSid);
  EXPECT_EQ(r.str("account_sid"), kAccountSid);
  EXPECT_EQ(r.str("friendly_name"), "Shop");
  EXPECT_EQ(r.num("code_length"), 8);
  EXPECT_EQ(r.str("url"), "http://otpd.test:8080" + kShop);
  EXPECT_EQ(r.object().at("links").at("verifications").as_string(),
            "http://otpd.test:8080" + kShop + "/Verifications");
  EXPECT_EQ(r.object().at("custom_code_enabled"), false);
  const Reply unknown = api.twilio("GET", kServices + "/VA00000000000000000000000000000000");
  EXPECT_EQ(unknown.status(), 404);
  EXPECT_EQ(unknown.num("code"), 20404);
}

TEST(TwilioServicesTest, ServicesAreReadOnly) {
  ApiHarness api(twilio_config());
  for (const auto& [method, target] : std::vector<std::pair<std::string, std::string>>{
           {"POST", kServices}, {"POST", kShop}, {"DELETE", kShop}}) {
    const Reply r = api.twilio(method, target, "FriendlyName=New");
    EXPECT_EQ(r.status(), 501) << method << " " << target;
    EXPECT_EQ(r.num("code"), 20501);
    EXPECT_THAT(r.str("message"), HasSubstr("not supported by otpd"));
  }
}

TEST(TwilioServicesTest, UnsupportedResourcesSaySo) {
  ApiHarness api(twilio_config());
  for (std::string path :
       {kShop + "/Entities/user1/Factors", kShop + "/AccessTokens", kShop + "/RateLimits",
        kShop + "/MessagingConfigurations", kShop + "/Webhooks", std::string("/v2/Attempts"),
        std::string("/v2/Forms/push"), std::string("/v2/SafeList/Numbers"),
        std::string("/v2/Templates")}) {
    const Reply r = api.twilio("POST", path, "");
    EXPECT_EQ(r.status(), 501) << path;
    EXPECT_EQ(r.num("code"), 20501) << path;
    EXPECT_THAT(r.str("message"), HasSubstr("not supported by otpd")) << path;
  }
}

TEST(TwilioServicesTest, WithoutATwilioTableV2IsNotServed) {
  ApiHarness api("[tenants.shop]\napi_keys = [\"sha256:" + sha256_hex(kShopApiKey) +
                 "\"]\n[tenants.shop.channels.console]\n");
  const Reply r = api.twilio("GET", kServices);
  EXPECT_EQ(r.status(), 404);
  EXPECT_EQ(r.header("Content-Type"), "application/problem+json");
}

}  // namespace
}  // namespace otpd::api::testing
