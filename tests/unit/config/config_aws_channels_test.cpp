// The AWS-backed channels' keys: SES email and SNS sms take a region and an optional
// SES/SNS-compatible endpoint; the other providers refuse both.
#include <gtest/gtest.h>

#include "config_test_util.hpp"

namespace otpd::config {
namespace {

using testing::error_of;
using testing::parse;

TEST(ConfigAwsChannels, SesAndSnsEndpointsAreRead) {
  const auto c = parse(R"(
[tenants.a.channels.email]
provider = "ses"
region = "eu-west-1"
from = "no-reply@a.test"
endpoint = "http://127.0.0.1:4566"
[tenants.a.channels.sms]
provider = "sns"
region = "us-gov-west-1"
endpoint = "https://sns.example.test/base/"
)");
  const auto& a = c.tenants.at("a");
  EXPECT_EQ(a.email->provider, "ses");
  EXPECT_EQ(a.email->region, "eu-west-1");
  EXPECT_EQ(a.email->endpoint, "http://127.0.0.1:4566");
  EXPECT_EQ(a.sms->provider, "sns");
  EXPECT_EQ(a.sms->region, "us-gov-west-1");
  EXPECT_EQ(a.sms->endpoint, "https://sns.example.test/base/");
}

TEST(ConfigAwsChannels, EndpointDefaultsToEmpty) {
  const auto c = parse(R"(
[tenants.a.channels.email]
provider = "ses"
region = "eu-west-1"
from = "no-reply@a.test"
[tenants.a.channels.sms]
provider = "sns"
region = "eu-west-1"
)");
  EXPECT_EQ(c.tenants.at("a").email->endpoint, "");
  EXPECT_EQ(c.tenants.at("a").sms->endpoint, "");
}

TEST(ConfigAwsChannels, EndpointMustBeAnHttpUrl) {
  const std::string ses =
      "[tenants.acme.channels.email]\nprovider = \"ses\"\nregion = \"r\"\n"
      "from = \"a@b\"\n";
  const std::string sns = "[tenants.acme.channels.sms]\nprovider = \"sns\"\nregion = \"r\"\n";
  for (const char* url :
       {"email.eu-west-1.amazonaws.com", "ftp://h", "https://", "http:///x", "https://h /x", ""}) {
    EXPECT_EQ(error_of(ses + "endpoint = \"" + url + "\"\n"),
              "tenants.acme.channels.email.endpoint: expected an http:// or https:// URL")
        << url;
    EXPECT_EQ(error_of(sns + "endpoint = \"" + url + "\"\n"),
              "tenants.acme.channels.sms.endpoint: expected an http:// or https:// URL")
        << url;
  }
  EXPECT_EQ(error_of(ses + "endpoint = 4566\n"),
            "tenants.acme.channels.email.endpoint: expected a string");
}

TEST(ConfigAwsChannels, OtherProvidersRefuseTheEndpoint) {
  EXPECT_EQ(error_of("[tenants.acme.channels.email]\nsmtp = \"smtp://h\"\nfrom = \"a@b\"\n"
                     "endpoint = \"http://127.0.0.1:1\"\n"),
            "tenants.acme.channels.email.endpoint: only used with provider \"ses\"");
  EXPECT_EQ(error_of("[tenants.acme.channels.sms]\nprovider = \"twilio\"\naccount_sid = \"a\"\n"
                     "auth_token = \"t\"\nfrom = \"+1\"\nendpoint = \"http://127.0.0.1:1\"\n"),
            "tenants.acme.channels.sms.endpoint: not used with provider \"twilio\"");
}

TEST(ConfigAwsChannels, RegionIsARegionName) {
  // It becomes part of a host name and of the signature's scope.
  for (const char* region : {"eu-west-1/x", "EU-WEST-1", "eu west 1", "eu.west"}) {
    EXPECT_EQ(error_of(std::string("[tenants.acme.channels.sms]\nprovider = \"sns\"\nregion = \"") +
                       region + "\"\n"),
              std::string("tenants.acme.channels.sms.region: expected an AWS region like "
                          "\"eu-west-1\" (got \"") +
                  region + "\")");
    EXPECT_EQ(error_of(std::string("[tenants.acme.channels.email]\nprovider = \"ses\"\n"
                                   "from = \"a@b\"\nregion = \"") +
                       region + "\"\n"),
              std::string("tenants.acme.channels.email.region: expected an AWS region like "
                          "\"eu-west-1\" (got \"") +
                  region + "\")");
  }
}

}  // namespace
}  // namespace otpd::config
