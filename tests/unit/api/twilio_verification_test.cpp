// The Twilio-compatible API's Verification and VerificationCheck routes, in process: the
// resources' shapes, the check outcomes Twilio's SDKs see, fetch and update.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <regex>

#include "api_harness.hpp"

namespace otpd::api::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

const std::string kVerifications = std::string("/v2/Services/") + kShopSid + "/Verifications";
const std::string kCheck = std::string("/v2/Services/") + kShopSid + "/VerificationCheck";
const std::regex kTwilioDate(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z)");

std::string send_form(std::string_view to, std::string_view channel = "sms") {
  return "To=" + form_escape(to) + "&Channel=" + std::string(channel);
}

void expect_twilio_error(const Reply& r, int status, int code) {
  EXPECT_EQ(r.status(), status) << r.response.body;
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  EXPECT_EQ(r.num("code"), code) << r.response.body;
  EXPECT_EQ(r.num("status"), status);
  EXPECT_EQ(r.str("more_info"), "https://www.twilio.com/docs/errors/" + std::to_string(code));
  EXPECT_FALSE(r.str("message").empty());
  // Twilio's SDKs read an error with "type" and "title" as RFC 9457: this must not be one.
  EXPECT_FALSE(r.object().contains("type"));
}

class TwilioVerificationTest : public ::testing::Test {
 protected:
  ApiHarness api{twilio_config()};

  Reply create(std::string_view to, std::string_view channel = "sms") {
    return api.twilio("POST", kVerifications, send_form(to, channel));
  }
  Reply check(std::string form) { return api.twilio("POST", kCheck, std::move(form)); }
};

TEST_F(TwilioVerificationTest, CreateAnswersAVerificationResource) {
  const Reply r = create("+14155550100");
  ASSERT_EQ(r.status(), 201) << r.response.body;
  EXPECT_EQ(r.header("Content-Type"), "application/json");
  const auto& o = r.object();
  EXPECT_TRUE(std::regex_match(r.str("sid"), std::regex("VE[0-9a-f]{32}"))) << r.str("sid");
  EXPECT_EQ(r.str("service_sid"), kShopSid);
  EXPECT_EQ(r.str("account_sid"), kAccountSid);
  EXPECT_EQ(r.str("to"), "+141******00");  // masked: otpd keeps no plaintext recipient
  EXPECT_EQ(r.str("channel"), "sms");
  EXPECT_EQ(r.str("status"), "pending");
  EXPECT_EQ(o.at("valid"), false);
  EXPECT_TRUE(o.at("lookup").is_object());
  EXPECT_TRUE(o.at("amount").is_null());
  EXPECT_TRUE(o.at("payee").is_null());
  EXPECT_TRUE(o.at("sna").is_null());
  EXPECT_TRUE(std::regex_match(r.str("date_created"), kTwilioDate));
  EXPECT_EQ(r.str("date_updated"), r.str("date_created"));
  EXPECT_EQ(r.str("url"), "http://otpd.test:8080" + kVerifications + "/" + r.str("sid"));
  const auto& attempts = o.at("send_code_attempts").as_array();
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0].at("channel"), "SMS");
  EXPECT_EQ(attempts[0].at("time"), o.at("date_created"));
  EXPECT_TRUE(std::regex_match(std::string(attempts[0].at("attempt_sid").as_string()),
                               std::regex("VL[0-9a-f]{32}")));
  // Sent through the tenant's sms channel, with a code of the tenant's length.
  EXPECT_EQ(api.deliveries().channel(r.str("sid")), core::ChannelKind::kSms);
  EXPECT_EQ(api.deliveries().code(r.str("sid")).size(), 6u);
}

TEST_F(TwilioVerificationTest, TheSidIsTheVerificationIdOfTheV1Api) {
  const Reply created = create("+14155550101");
  ASSERT_EQ(created.status(), 201);
  const Reply v1 = api.v1("GET", "/v1/otp/" + created.str("sid"));
  ASSERT_EQ(v1.status(), 200) << v1.response.body;
  EXPECT_EQ(v1.str("id"), created.str("sid"));
  EXPECT_EQ(v1.str("status"), "pending");
}

TEST_F(TwilioVerificationTest, EmailChannelAndLocale) {
  const Reply r = api.twilio("POST", kVerifications,
                             "To=alice%40example.com&Channel=email&Locale=pt-BR&"
                             "CustomFriendlyName=Shop+Login");
  ASSERT_EQ(r.status(), 201) << r.response.body;
  EXPECT_EQ(r.str("channel"), "email");
  EXPECT_EQ(r.str("to"), "a***@example.com");
  EXPECT_EQ(r.object().at("send_code_attempts").as_array()[0].at("channel"), "EMAIL");
  EXPECT_EQ(api.deliveries().channel(r.str("sid")), core::ChannelKind::kEmail);
  EXPECT_EQ(api.deliveries().locale(r.str("sid")), "pt-BR");
}

TEST_F(TwilioVerificationTest, ChannelsTheTenantLacksAreDisabled) {
  expect_twilio_error(create("+14155550102", "whatsapp"), 400, 60223);
  EXPECT_THAT(create("+14155550102", "whatsapp").str("message"), HasSubstr("WHATSAPP"));
  expect_twilio_error(create("+14155550102", "call"), 400, 60223);
  // The clinic has no email channel.
  const Reply r = api.twilio("POST", std::string("/v2/Services/") + kClinicSid + "/Verifications",
                             "To=bob%40example.com&Channel=email");
  expect_twilio_error(r, 400, 60223);
  EXPECT_EQ(api.deliveries().sends(), 0u);
}

TEST_F(TwilioVerificationTest, BadParametersAre60200NamingTheParameter) {
  auto expect_param = [&](const Reply& r, std::string_view name) {
    expect_twilio_error(r, 400, 60200);
    EXPECT_THAT(r.str("message"), HasSubstr("`" + std::string(name) + "`")) << r.response.body;
  };
  expect_param(api.twilio("POST", kVerifications, "Channel=sms"), "To");
  expect_param(api.twilio("POST", kVerifications, "To=%2B14155550103"), "Channel");
  expect_param(create("+14155550103", "fax"), "Channel");
  expect_param(create("not a number"), "To");
  expect_param(create("alice@example.com", "sms"), "To");  // sms needs a phone number
  expect_param(create("+14155550103", "email"), "To");
  expect_param(api.twilio("POST", kVerifications, send_form("+14155550103") + "&Locale=%21%21"),
               "Locale");
  for (std::string_view refused :
       {"CustomCode=123456", "Amount=10", "Payee=Acme", "CustomMessage=hi", "TemplateSid=HJ1",
        "SendDigits=1", "EnableSnaClientToken=true"}) {
    const std::string name(refused.substr(0, refused.find('=')));
    expect_param(
        api.twilio("POST", kVerifications, send_form("+14155550103") + "&" + std::string(refused)),
        name);
  }
  expect_param(api.twilio("POST", kVerifications, "To=%ZZ&Channel=sms"), "Body");
  EXPECT_EQ(api.deliveries().sends(), 0u);
  // Parameters otpd has no use for are accepted, as Twilio accepts what it ignores.
  EXPECT_EQ(api.twilio("POST", kVerifications,
                       send_form("+14155550103") +
                           "&EnableSnaClientToken=false&AppHash=abc&DeviceIp=1.2.3.4&Tags=x")
                .status(),
            201);
}

TEST_F(TwilioVerificationTest, CheckWrongThenRightThenAgain) {
  const Reply created = create("+14155550104");
  const std::string code = api.deliveries().code(created.str("sid"));
  const std::string wrong = code == "000000" ? "111111" : "000000";

  const Reply bad = check("To=%2B14155550104&Code=" + wrong);
  ASSERT_EQ(bad.status(), 200) << bad.response.body;  // exactly as Twilio: not an error
  EXPECT_EQ(bad.str("status"), "pending");
  EXPECT_EQ(bad.object().at("valid"), false);
  EXPECT_EQ(bad.str("sid"), created.str("sid"));
  EXPECT_TRUE(bad.object().at("sna_attempts_error_codes").is_array());

  const Reply good = check("To=%2B14155550104&Code=" + code);
  ASSERT_EQ(good.status(), 200) << good.response.body;
  EXPECT_EQ(good.str("status"), "approved");
  EXPECT_EQ(good.object().at("valid"), true);
  EXPECT_EQ(good.str("sid"), created.str("sid"));
  EXPECT_EQ(good.str("service_sid"), kShopSid);
  EXPECT_EQ(good.str("channel"), "sms");
  EXPECT_TRUE(std::regex_match(good.str("date_updated"), kTwilioDate));

  // Single use: the same code again is 20404, as Twilio deletes an approved verification.
  const Reply again = check("To=%2B14155550104&Code=" + code);
  expect_twilio_error(again, 404, 20404);
  EXPECT_THAT(again.str("message"), HasSubstr("/VerificationCheck"));
}

TEST_F(TwilioVerificationTest, CheckByVerificationSid) {
  const Reply created = create("+14155550105");
  const std::string sid = created.str("sid");
  const Reply good = check("VerificationSid=" + sid + "&Code=" + api.deliveries().code(sid));
  ASSERT_EQ(good.status(), 200) << good.response.body;
  EXPECT_EQ(good.str("status"), "approved");
  expect_twilio_error(check("VerificationSid=VE00000000000000000000000000000000&Code=123456"), 404,
                      20404);
}

TEST_F(TwilioVerificationTest, CheckParameters) {
  const Reply created = create("+14155550106");
  const std::string sid = created.str("sid");
  expect_twilio_error(check("To=%2B14155550106"), 400, 60200);
  expect_twilio_error(check("Code=123456"), 400, 60200);
  expect_twilio_error(check("To=%2B14155550106&VerificationSid=" + sid + "&Code=123456"), 400,
                      60200);
  expect_twilio_error(check("To=%2B14155550106&Code=12"), 400, 60200);  // no code is that short
  expect_twilio_error(check("To=%2B14155550106&Code=123456&Amount=1"), 400, 60200);
  // A code of another length than this verification's is wrong, and counts no attempt.
  const Reply seven = check("To=%2B14155550106&Code=1234567");
  EXPECT_EQ(seven.status(), 200);
  EXPECT_EQ(seven.str("status"), "pending");
  EXPECT_EQ(api.v1("GET", "/v1/otp/" + sid).num("attempts_remaining"), 5);
}

TEST_F(TwilioVerificationTest, MaxCheckAttempts) {
  const Reply created = create("+14155550107");
  const std::string code = api.deliveries().code(created.str("sid"));
  const std::string wrong = code == "000000" ? "111111" : "000000";
  for (int i = 0; i < 4; ++i) {
    const Reply r = check("To=%2B14155550107&Code=" + wrong);
    ASSERT_EQ(r.status(), 200) << i;
    EXPECT_EQ(r.str("status"), "pending");
  }
  // The fifth wrong code spends the last attempt.
  const Reply last = check("To=%2B14155550107&Code=" + wrong);
  ASSERT_EQ(last.status(), 200) << last.response.body;
  EXPECT_EQ(last.str("status"), "max_attempts_reached");
  EXPECT_EQ(last.object().at("valid"), false);
  // Then every check, the right code too, is 60202.
  const Reply locked = check("To=%2B14155550107&Code=" + code);
  expect_twilio_error(locked, 429, 60202);
  EXPECT_EQ(locked.header("Retry-After"), "");
  expect_twilio_error(api.twilio("GET", kVerifications + "/" + created.str("sid")), 404, 20404);
}

TEST_F(TwilioVerificationTest, ExpiredIs20404) {
  const Reply created = create("+14155550108");
  const std::string sid = created.str("sid");
  api.clock().advance(core::Seconds(301));
  expect_twilio_error(check("To=%2B14155550108&Code=" + api.deliveries().code(sid)), 404, 20404);
  expect_twilio_error(api.twilio("GET", kVerifications + "/" + sid), 404, 20404);
  expect_twilio_error(api.twilio("POST", kVerifications + "/" + sid, "Status=canceled"), 404,
                      20404);
}

TEST_F(TwilioVerificationTest, FetchAPendingVerification) {
  const Reply created = create("+14155550109");
  const std::string sid = created.str("sid");
  api.clock().advance(core::Seconds(5));
  const Reply r = api.twilio("GET", kVerifications + "/" + sid);
  ASSERT_EQ(r.status(), 200) << r.response.body;
  EXPECT_EQ(r.json, created.json);  // the same resource as the create answered
  const Reply unknown = api.twilio("GET", kVerifications + "/VE0123456789abcdef0123456789abcdef");
  expect_twilio_error(unknown, 404, 20404);
  EXPECT_THAT(unknown.str("message"),
              HasSubstr("/Verifications/VE0123456789abcdef0123456789abcdef"));
  // Another Service (tenant) never sees it.
  expect_twilio_error(
      api.twilio("GET", std::string("/v2/Services/") + kClinicSid + "/Verifications/" + sid), 404,
      20404);
  // Approved: gone, as on Twilio.
  check("VerificationSid=" + sid + "&Code=" + api.deliveries().code(sid));
  expect_twilio_error(api.twilio("GET", kVerifications + "/" + sid), 404, 20404);
}

TEST_F(TwilioVerificationTest, CancelAndApproveByUpdate) {
  const std::string first = create("+14155550110").str("sid");
  const Reply canceled = api.twilio("POST", kVerifications + "/" + first, "Status=canceled");
  ASSERT_EQ(canceled.status(), 200) << canceled.response.body;
  EXPECT_EQ(canceled.str("status"), "canceled");
  EXPECT_EQ(canceled.str("sid"), first);
  EXPECT_EQ(canceled.object().at("valid"), false);
  expect_twilio_error(check("VerificationSid=" + first + "&Code=" + api.deliveries().code(first)),
                      404, 20404);
  expect_twilio_error(api.twilio("POST", kVerifications + "/" + first, "Status=canceled"), 404,
                      20404);

  const std::string second = create("+14155550111").str("sid");
  const Reply approved = api.twilio("POST", kVerifications + "/" + second, "Status=approved");
  ASSERT_EQ(approved.status(), 200) << approved.response.body;
  EXPECT_EQ(approved.str("status"), "approved");
  EXPECT_EQ(approved.object().at("valid"), true);
  EXPECT_EQ(api.v1("GET", "/v1/otp/" + second).str("status"), "approved");
  expect_twilio_error(api.twilio("POST", kVerifications + "/" + second, "Status=canceled"), 404,
                      20404);

  const std::string third = create("+14155550112").str("sid");
  expect_twilio_error(api.twilio("POST", kVerifications + "/" + third, "Status=pending"), 400,
                      60200);
  expect_twilio_error(api.twilio("POST", kVerifications + "/" + third, ""), 400, 60200);
}

TEST_F(TwilioVerificationTest, MethodsAndUnknownPaths) {
  const Reply r = api.twilio("GET", kVerifications);
  expect_twilio_error(r, 405, 20004);
  EXPECT_EQ(r.header("Allow"), "POST");
  expect_twilio_error(api.twilio("GET", kCheck), 405, 20004);
  expect_twilio_error(api.twilio("DELETE", kVerifications + "/VE0123"), 405, 20004);
  expect_twilio_error(api.twilio("GET", std::string("/v2/Services/") + kShopSid + "/Bogus"), 404,
                      20404);
  expect_twilio_error(api.twilio("GET", "/v2/Nothing"), 404, 20404);
  expect_twilio_error(api.twilio("GET", "/v2"), 404, 20404);
}

TEST_F(TwilioVerificationTest, UrlsFollowTheProxyOrTheConfiguredPublicUrl) {
  const Reply proxied = api.twilio("POST", kVerifications, send_form("+14155550113"), std::nullopt,
                                   {{"X-Forwarded-Proto", "https"}});
  EXPECT_THAT(proxied.str("url"), StartsWith("https://otpd.test:8080/v2/Services/"));
  // A Host that is not a host name is not echoed into URLs.
  const Reply odd =
      api.call("POST", kVerifications, send_form("+14155550114"),
               {{"Host", "evil\"/x"},
                {"Authorization",
                 "Basic " + core::base64_encode(std::string(kAccountSid) + ":" + kAuthToken)}});
  ASSERT_EQ(odd.status(), 201) << odd.response.body;
  EXPECT_THAT(odd.str("url"), StartsWith("http://localhost/v2/Services/"));

  std::string toml = twilio_config();
  toml.insert(toml.find("[tenants.shop]"), "public_url = \"https://verify.example.com\"\n");
  ApiHarness configured(toml);
  const Reply r = configured.twilio("POST", kVerifications, send_form("+14155550115"));
  EXPECT_THAT(r.str("url"), StartsWith("https://verify.example.com/v2/Services/" +
                                       std::string(kShopSid) + "/Verifications/VE"));
}

}  // namespace
}  // namespace otpd::api::testing
