// A few v1 routes in process, through the same Router as the Twilio-compatible API: send,
// verify, status, cancel, authentication and the problem+json answers.
#include <gtest/gtest.h>

#include "api_harness.hpp"

namespace otpd::api::testing {
namespace {

class V1ApiTest : public ::testing::Test {
 protected:
  ApiHarness api{twilio_config()};

  Reply send(std::string_view to) {
    return api.v1("POST", "/v1/otp/send", "{\"to\":\"" + std::string(to) + "\"}");
  }
};

TEST_F(V1ApiTest, SendVerifyStatusCancel) {
  const Reply sent = send("+14155550300");
  ASSERT_EQ(sent.status(), 201) << sent.response.body;
  const std::string id = sent.str("id");
  EXPECT_EQ(id.rfind("v_", 0), 0u);  // v1 ids keep their own form
  EXPECT_EQ(sent.header("Location"), "/v1/otp/" + id);
  EXPECT_EQ(sent.str("status"), "pending");

  const Reply wrong =
      api.v1("POST", "/v1/otp/verify",
             "{\"id\":\"" + id + "\",\"code\":\"" +
                 (api.deliveries().code(id) == "000000" ? "111111" : "000000") + "\"}");
  EXPECT_EQ(wrong.status(), 422);
  EXPECT_EQ(wrong.str("code"), "invalid_code");
  EXPECT_EQ(wrong.num("attempts_remaining"), 4);

  const Reply right =
      api.v1("POST", "/v1/otp/verify",
             "{\"id\":\"" + id + "\",\"code\":\"" + api.deliveries().code(id) + "\"}");
  ASSERT_EQ(right.status(), 200) << right.response.body;
  EXPECT_EQ(right.str("status"), "approved");
  EXPECT_EQ(api.v1("GET", "/v1/otp/" + id).str("status"), "approved");

  const std::string other = send("+14155550301").str("id");
  const Reply canceled = api.v1("POST", "/v1/otp/" + other + "/cancel");
  EXPECT_EQ(canceled.status(), 200);
  EXPECT_EQ(canceled.str("status"), "canceled");
  const Reply again = api.v1("POST", "/v1/otp/" + other + "/cancel");
  EXPECT_EQ(again.status(), 409);
  EXPECT_EQ(again.str("code"), "not_pending");
}

TEST_F(V1ApiTest, ProblemsAndAuthentication) {
  EXPECT_EQ(api.call("POST", "/v1/otp/send", "{\"to\":\"+14155550302\"}",
                     {{"Content-Type", "application/json"}})
                .status(),
            401);
  // A Twilio credential is not a v1 key.
  EXPECT_EQ(api.call("GET", "/v1/otp/v_x", "",
                     {{"Authorization", "Basic " + core::base64_encode(std::string(kAccountSid) +
                                                                       ":" + kAuthToken)}})
                .status(),
            401);
  const Reply not_json = api.call("POST", "/v1/otp/send", "to=x",
                                  {{"Authorization", std::string("Bearer ") + kShopApiKey},
                                   {"Content-Type", "application/x-www-form-urlencoded"}});
  EXPECT_EQ(not_json.status(), 415);
  EXPECT_EQ(not_json.header("Content-Type"), "application/problem+json");
  const Reply unknown_field = api.v1("POST", "/v1/otp/send", "{\"to\":\"+14155550303\",\"x\":1}");
  EXPECT_EQ(unknown_field.status(), 400);
  EXPECT_EQ(unknown_field.str("code"), "invalid_request");
  EXPECT_EQ(api.v1("GET", "/v1/otp/v_doesnotexist").status(), 404);
  EXPECT_EQ(api.v1("DELETE", "/v1/otp/send").status(), 405);
  // A verification started through the Twilio API is visible to its tenant's v1 key, and
  // its cooldown holds a v1 send back: one service, one set of rules.
  const Reply twilio =
      api.twilio("POST", std::string("/v2/Services/") + kShopSid + "/Verifications",
                 "To=%2B14155550304&Channel=sms");
  ASSERT_EQ(twilio.status(), 201);
  const Reply held = send("+14155550304");
  EXPECT_EQ(held.status(), 429);
  EXPECT_EQ(held.str("code"), "resend_cooldown");
}

}  // namespace
}  // namespace otpd::api::testing
