// AWS error codes read from each protocol's answer, and nothing else of the answer.
#include "aws/error.hpp"

#include <gtest/gtest.h>

namespace otpd::aws {
namespace {

net::HttpResponse answer(int status, std::string body,
                         std::vector<std::pair<std::string, std::string>> headers = {}) {
  net::HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

TEST(AwsError, FromTheErrorTypeHeader) {
  EXPECT_EQ(error_code_of(answer(400, R"({"message":"Email address is not verified: a@b.test"})",
                                 {{"x-amzn-ErrorType", "MessageRejected:http://internal/"}})),
            "MessageRejected");
  EXPECT_EQ(error_code_of(answer(429, "", {{"X-Amzn-Errortype", "TooManyRequestsException"}})),
            "TooManyRequestsException");
}

TEST(AwsError, FromAJsonBody) {
  EXPECT_EQ(error_code_of(answer(
                400, R"({"__type":"com.amazon.coral.service#UnrecognizedClientException"})")),
            "UnrecognizedClientException");
  EXPECT_EQ(error_code_of(answer(400, R"({"code":"BadRequestException","message":"x"})")),
            "BadRequestException");
}

TEST(AwsError, FromAnXmlBody) {
  EXPECT_EQ(
      error_code_of(answer(400,
                           "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">"
                           "<Error><Type>Sender</Type><Code>InvalidParameter</Code>"
                           "<Message>Invalid parameter: PhoneNumber +14155550100</Message>"
                           "</Error><RequestId>r</RequestId></ErrorResponse>")),
      "InvalidParameter");
}

TEST(AwsError, OnlyPlainNames) {
  EXPECT_EQ(error_code_of(answer(400, "<Error><Code>+14155550100 is bad</Code></Error>")), "");
  EXPECT_EQ(error_code_of(answer(400, R"({"code":"a b"})")), "");
  EXPECT_EQ(error_code_of(answer(400, std::string(80, 'A'), {})), "");
  EXPECT_EQ(error_code_of(answer(400, "<Code>" + std::string(65, 'A') + "</Code>")), "");
  EXPECT_EQ(error_code_of(answer(500, "oops")), "");
  EXPECT_EQ(error_code_of(answer(500, "")), "");
}

TEST(AwsError, Classification) {
  for (const char* code : {"Throttling", "ThrottlingException", "Throttled", "ThrottledException",
                           "TooManyRequestsException", "KMSThrottling"}) {
    EXPECT_TRUE(is_throttling_error(code)) << code;
  }
  EXPECT_FALSE(is_throttling_error("MessageRejected"));
  EXPECT_FALSE(is_throttling_error(""));
  EXPECT_TRUE(is_expired_credentials_error("ExpiredToken"));
  EXPECT_TRUE(is_expired_credentials_error("ExpiredTokenException"));
  EXPECT_FALSE(is_expired_credentials_error("InvalidClientTokenId"));
}

}  // namespace
}  // namespace otpd::aws
