// The one table from otpd's refusals to Twilio's statuses and codes, and Twilio's form
// decoding.
#include "api/twilio_errors.hpp"

#include <gtest/gtest.h>

#include <set>

#include "api/twilio_form.hpp"

namespace otpd::api {
namespace {

TEST(TwilioErrorsTest, EveryErrcHasARow) {
  std::set<int> codes;
  for (int e = static_cast<int>(Errc::kInvalidRequest); e <= static_cast<int>(Errc::kUnavailable);
       ++e) {
    const Errc errc = static_cast<Errc>(e);
    const TwilioError t = twilio_error(errc);
    EXPECT_FALSE(t.message.empty()) << code_name(errc);
    // The fallback row is 500/20500; only kInternal may have it.
    if (errc != Errc::kInternal) {
      EXPECT_NE(t.status, 500) << code_name(errc);
    }
    EXPECT_GE(t.status, 400);
    codes.insert(t.code);
  }
  EXPECT_GE(codes.size(), 10u);
}

TEST(TwilioErrorsTest, TheCodesTwilioApplicationsHandle) {
  EXPECT_EQ(twilio_error(Errc::kNotFound).code, 20404);
  EXPECT_EQ(twilio_error(Errc::kExpired).code, 20404);
  EXPECT_EQ(twilio_error(Errc::kExpired).status, 404);
  EXPECT_EQ(twilio_error(Errc::kNotPending).code, 20404);
  EXPECT_EQ(twilio_error(Errc::kAlreadyApproved).code, 20404);
  EXPECT_EQ(twilio_error(Errc::kInvalidRequest).code, 60200);
  EXPECT_EQ(twilio_error(Errc::kMaxAttempts).code, 60202);
  EXPECT_EQ(twilio_error(Errc::kMaxAttempts).status, 429);
  EXPECT_EQ(twilio_error(Errc::kSendLimit).code, 60203);
  EXPECT_EQ(twilio_error(Errc::kResendCooldown).code, 60212);
  EXPECT_EQ(twilio_error(Errc::kRateLimited).code, 20429);
  EXPECT_EQ(twilio_error(Errc::kUnauthorized).code, 20003);
  EXPECT_EQ(twilio_error(Errc::kUnavailable).status, 503);
}

TEST(TwilioErrorsTest, ProblemResponses) {
  Problem unavailable = Problem::of(Errc::kUnavailable, "the store is unavailable");
  Response r = twilio_problem_response(unavailable, "/Services/VA1");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.header("Retry-After"), "1");
  EXPECT_EQ(r.problem_code, "unavailable");

  FieldErrors errors;
  errors.add("to", "must be an E.164 phone number");
  r = twilio_problem_response(errors.problem(), "/Services/VA1/Verifications");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("Invalid parameter `To`: must be an E.164 phone number"), std::string::npos)
      << r.body;

  r = twilio_problem_response(Problem::of(Errc::kNotFound, "x"), "/Services/VA1/Verifications/VE2");
  EXPECT_NE(r.body.find("The requested resource /Services/VA1/Verifications/VE2 was not found"),
            std::string::npos);
  EXPECT_EQ(twilio_parameter("id"), "VerificationSid");
  EXPECT_EQ(twilio_parameter("code"), "Code");
}

TEST(TwilioFormTest, DecodesAsBrowsersAndTwilioSdksEncode) {
  auto form =
      FormParams::parse("To=%2B14155550100&Channel=sms&CustomFriendlyName=My+App&To=x&Empty");
  ASSERT_TRUE(form);
  EXPECT_EQ(form->get("To"), "+14155550100");  // the first value
  EXPECT_EQ(form->get("CustomFriendlyName"), "My App");
  EXPECT_EQ(form->get("Empty"), "");
  EXPECT_FALSE(form->get("to"));  // names are case-sensitive
  EXPECT_FALSE(FormParams::parse("To=%G1"));
  EXPECT_TRUE(FormParams::parse("")->all().empty());
}

}  // namespace
}  // namespace otpd::api
