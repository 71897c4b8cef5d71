// AWS error codes read from each protocol's answer, and nothing else of the answer.
#include "net/aws_error.hpp"

#include <gtest/gtest.h>

namespace otpd::net {
namespace {

HttpResponse answer(int status, std::string body,
                    std::vector<std::pair<std::string, std::string>> headers = {}) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  r.headers = std::move(headers);
  return r;
}

TEST(AwsError, FromTheErrorTypeHeader) {
  EXPECT_EQ(aws_error_code(answer(400, R"({"message":"Email address is not verified: a@b.test"})",
                                  {{"x-amzn-ErrorType", "MessageRejected:http://internal/"}})),
            "MessageRejected");
  EXPECT_EQ(aws_error_code(answer(429, "", {{"X-Amzn-Errortype", "TooManyRequestsException"}})),
            "TooManyRequestsException");
}

TEST(AwsError, FromAJsonBody) {
  EXPECT_EQ(aws_error_code(answer(
                400, R"({"__type":"com.amazon.coral.service#UnrecognizedClientException"})")),
            "UnrecognizedClientException");
  EXPECT_EQ(aws_error_code(answer(400, R"({"code":"BadRequestException","message":"x"})")),
            "BadRequestException");
}

TEST(AwsError, FromAnXmlBody) {
  EXPECT_EQ(
      aws_error_code(answer(400,
                            "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\">"
                            "<Error><Type>Sender</Type><Code>InvalidParameter</Code>"
                            "<Message>Invalid parameter: PhoneNumber +14155550100</Message>"
                            "</Error><RequestId>r</RequestId></ErrorResponse>")),
      "InvalidParameter");
}

TEST(AwsError, OnlyPlainNames) {
  EXPECT_EQ(aws_error_code(answer(400, "<Error><Code>+14155550100 is bad</Code></Error>")), "");
  EXPECT_EQ(aws_error_code(answer(400, R"({"code":"a b"})")), "");
  EXPECT_EQ(aws_error_code(answer(400, std::string(80, 'A'), {})), "");
  EXPECT_EQ(aws_error_code(answer(400, "<Code>" + std::string(65, 'A') + "</Code>")), "");
  EXPECT_EQ(aws_error_code(answer(500, "oops")), "");
  EXPECT_EQ(aws_error_code(answer(500, "")), "");
}

TEST(AwsError, Classification) {
  for (const char* code : {"Throttling", "ThrottlingException", "Throttled", "ThrottledException",
                           "TooManyRequestsException", "KMSThrottling"}) {
    EXPECT_TRUE(aws_error_is_throttling(code)) << code;
  }
  EXPECT_FALSE(aws_error_is_throttling("MessageRejected"));
  EXPECT_FALSE(aws_error_is_throttling(""));
  EXPECT_TRUE(aws_error_is_expired_credentials("ExpiredToken"));
  EXPECT_TRUE(aws_error_is_expired_credentials("ExpiredTokenException"));
  EXPECT_FALSE(aws_error_is_expired_credentials("InvalidClientTokenId"));
}

}  // namespace
}  // namespace otpd::net
