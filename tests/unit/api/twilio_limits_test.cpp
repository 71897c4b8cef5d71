// otpd's limits behind the Twilio-compatible API: each answers with its Twilio code and a
// Retry-After, and the same rules as the v1 API apply (resends supersede, per-recipient
// windows, the failure budget, the tenant's buckets and caps).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api_harness.hpp"

namespace otpd::api::testing {
namespace {

const std::string kVerifications = std::string("/v2/Services/") + kShopSid + "/Verifications";
const std::string kCheck = std::string("/v2/Services/") + kShopSid + "/VerificationCheck";

void expect_limit(const Reply& r, int status, int code) {
  EXPECT_EQ(r.status(), status) << r.response.body;
  EXPECT_EQ(r.num("code"), code) << r.response.body;
  EXPECT_EQ(r.num("status"), status);
  const std::string retry_after = r.header("Retry-After");
  ASSERT_FALSE(retry_after.empty()) << r.response.body;
  EXPECT_GE(std::stoi(retry_after), 1);
}

Reply create(ApiHarness& api, std::string_view to) {
  return api.twilio("POST", kVerifications, "To=" + form_escape(to) + "&Channel=sms");
}

TEST(TwilioLimitsTest, AResendIsANewCodeAndSupersedesTheFirst) {
  ApiHarness api(twilio_config());
  const Reply first = create(api, "+14155550200");
  ASSERT_EQ(first.status(), 201);
  // Within the cooldown: 60212 with the seconds to wait.
  expect_limit(create(api, "+14155550200"), 429, 60212);
  api.clock().advance(core::Seconds(30));
  const Reply second = create(api, "+14155550200");
  ASSERT_EQ(second.status(), 201) << second.response.body;
  EXPECT_NE(second.str("sid"), first.str("sid"));
  // The first code stops working at once; the new one works.
  const std::string old_code = api.deliveries().code(first.str("sid"));
  const Reply old =
      api.twilio("POST", kCheck, "VerificationSid=" + first.str("sid") + "&Code=" + old_code);
  EXPECT_EQ(old.status(), 404);
  EXPECT_EQ(old.num("code"), 20404);
  const Reply good = api.twilio(
      "POST", kCheck, "To=%2B14155550200&Code=" + api.deliveries().code(second.str("sid")));
  EXPECT_EQ(good.str("status"), "approved") << good.response.body;
}

TEST(TwilioLimitsTest, SendsPerRecipientWindowIs60203) {
  ApiHarness api(twilio_config("resend_cooldown_seconds = 0\nmax_sends_per_window = 2"));
  ASSERT_EQ(create(api, "+14155550201").status(), 201);
  ASSERT_EQ(create(api, "+14155550201").status(), 201);
  expect_limit(create(api, "+14155550201"), 429, 60203);
  // Another recipient is not held back.
  EXPECT_EQ(create(api, "+14155550202").status(), 201);
}

TEST(TwilioLimitsTest, FailureBudgetIs60202OnCheckAndOnSend) {
  ApiHarness api(twilio_config("failures_per_recipient_per_hour = 2\nresend_cooldown_seconds = 0"));
  const Reply created = create(api, "+14155550203");
  const std::string code = api.deliveries().code(created.str("sid"));
  const std::string wrong = code == "000000" ? "111111" : "000000";
  EXPECT_EQ(api.twilio("POST", kCheck, "To=%2B14155550203&Code=" + wrong).str("status"), "pending");
  EXPECT_EQ(api.twilio("POST", kCheck, "To=%2B14155550203&Code=" + wrong).str("status"), "pending");
  expect_limit(api.twilio("POST", kCheck, "To=%2B14155550203&Code=" + code), 429, 60202);
  // A new code would be sent for nothing: refused too.
  expect_limit(create(api, "+14155550203"), 429, 60202);
}

TEST(TwilioLimitsTest, TenantSendRateIs20429) {
  ApiHarness api(twilio_config("send_rate_per_second = 1"));
  ASSERT_EQ(create(api, "+14155550204").status(), 201);
  expect_limit(create(api, "+14155550205"), 429, 20429);
  api.clock().advance(core::Seconds(1));
  EXPECT_EQ(create(api, "+14155550205").status(), 201);
}

TEST(TwilioLimitsTest, RequestRatePerCredentialIs20429) {
  ApiHarness api(twilio_config("requests_per_second_per_key = 1"));
  const std::string service = std::string("/v2/Services/") + kShopSid;
  ASSERT_EQ(api.twilio("GET", service).status(), 200);
  expect_limit(api.twilio("GET", service), 429, 20429);
  // Another credential has a bucket of its own.
  EXPECT_EQ(api.twilio("GET", service, "", std::string(kApiKeySid) + ":" + kApiKeySecret).status(),
            200);
}

TEST(TwilioLimitsTest, DailyCapAndPrefixVelocityAre20429) {
  ApiHarness capped(twilio_config("daily_send_cap = { sms = 1 }"));
  ASSERT_EQ(create(capped, "+14155550206").status(), 201);
  expect_limit(create(capped, "+14155550207"), 429, 20429);

  ApiHarness velocity(twilio_config("sms_sends_per_prefix_per_minute = 1"));
  ASSERT_EQ(create(velocity, "+14155550208").status(), 201);
  expect_limit(create(velocity, "+14155550209"), 429, 20429);
  EXPECT_EQ(create(velocity, "+442071838750").status(), 201);
}

TEST(TwilioLimitsTest, RefusedDestinationIs60605) {
  ApiHarness api(twilio_config("sms_deny_prefixes = [\"+44\"]"));
  const Reply r = create(api, "+442071838750");
  EXPECT_EQ(r.status(), 403) << r.response.body;
  EXPECT_EQ(r.num("code"), 60605);
  EXPECT_EQ(api.deliveries().sends(), 0u);
}

}  // namespace
}  // namespace otpd::api::testing
