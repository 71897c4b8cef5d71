// SigV4: the published AWS test suite's signatures, the canonical parts, and agreement with
// botocore (an independent implementation) on requests like the ones otpd sends and harder.
#include "aws/sigv4.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "botocore_oracle.hpp"

namespace otpd::aws {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

// The suite's fixed inputs: 2015-08-30T12:36:00Z, us-east-1, service "service".
const core::TimePoint kSuiteTime = core::from_unix_ms(1440938160000LL);
const Credentials kSuiteKeys{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "",
                             std::nullopt};
// The session token of the suite's post-sts-token examples.
const std::string kSuiteToken =
    "AQoDYXdzEPT//////////"
    "wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPfIe"
    "oIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/"
    "kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq"
    "5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+"
    "scqKmlzm8FDrypNC"
    "9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

std::string header(const net::HttpRequest& request, const std::string& name) {
  std::string found;
  int count = 0;
  for (const auto& [key, value] : request.headers) {
    if (key == name) {
      found = value;
      ++count;
    }
  }
  EXPECT_LE(count, 1) << name;
  return found;
}

net::HttpRequest make(std::string method, std::string url, Headers headers = {},
                      std::string body = "") {
  net::HttpRequest r;
  r.method = std::move(method);
  r.url = std::move(url);
  r.headers = std::move(headers);
  r.body = std::move(body);
  return r;
}

struct Vector {
  const char* name;
  net::HttpRequest request;
  std::string signed_headers;
  std::string signature;
  bool session_token = false;
};

TEST(Sigv4, PublishedTestSuiteVectors) {
  const std::string host = "https://example.amazonaws.com";
  const std::string unreserved =
      "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  const std::string form = "application/x-www-form-urlencoded";
  const std::vector<Vector> vectors{
      {"get-vanilla", make("GET", host + "/"), "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-vanilla-query", make("GET", host + "/"), "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-vanilla-empty-query-key", make("GET", host + "/?Param1=value1"), "host;x-amz-date",
       "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"},
      {"get-vanilla-query-order-key-case", make("GET", host + "/?Param2=value2&Param1=value1"),
       "host;x-amz-date", "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
      {"get-vanilla-query-unreserved", make("GET", host + "/?" + unreserved + "=" + unreserved),
       "host;x-amz-date", "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
      {"get-vanilla-utf8-query", make("GET", host + "/?%E1%88%B4=bar"), "host;x-amz-date",
       "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
      {"get-unreserved", make("GET", host + "/" + unreserved), "host;x-amz-date",
       "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
      {"get-header-key-duplicate",
       make("GET", host + "/",
            {{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}}),
       "host;my-header1;x-amz-date",
       "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
      {"get-header-value-trim",
       make("GET", host + "/", {{"My-Header1", " value1"}, {"My-Header2", "\"a   b   c\""}}),
       "host;my-header1;my-header2;x-amz-date",
       "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
      {"post-vanilla", make("POST", host + "/"), "host;x-amz-date",
       "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
      {"post-vanilla-query", make("POST", host + "/?Param1=value1"), "host;x-amz-date",
       "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
      {"post-header-key-sort", make("POST", host + "/", {{"My-Header1", "value1"}}),
       "host;my-header1;x-amz-date",
       "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
      {"post-header-value-case", make("POST", host + "/", {{"My-Header1", "VALUE1"}}),
       "host;my-header1;x-amz-date",
       "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"},
      {"post-x-www-form-urlencoded",
       make("POST", host + "/", {{"Content-Type", form}}, "Param1=value1"),
       "content-type;host;x-amz-date",
       "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
      {"post-x-www-form-urlencoded-parameters",
       make("POST", host + "/", {{"Content-Type", form + "; charset=utf8"}}, "Param1=value1"),
       "content-type;host;x-amz-date",
       "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"},
      {"post-sts-header-before", make("POST", host + "/"), "host;x-amz-date;x-amz-security-token",
       "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead", true},
      // normalize-path: each of these has get-vanilla's canonical path "/".
      {"get-relative", make("GET", host + "/example/.."), "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-relative-relative", make("GET", host + "/example1/example2/../.."), "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-slash", make("GET", host + "//"), "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-slash-dot-slash", make("GET", host + "/./"), "host;x-amz-date",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
  };
  for (const auto& v : vectors) {
    net::HttpRequest request = v.request;
    Credentials keys = kSuiteKeys;
    if (v.session_token) keys.session_token = kSuiteToken;
    sign_sigv4(request, keys, "us-east-1", "service", kSuiteTime);
    EXPECT_EQ(header(request, "Authorization"),
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
              "SignedHeaders=" +
                  v.signed_headers + ", Signature=" + v.signature)
        << v.name;
    EXPECT_EQ(header(request, "X-Amz-Date"), "20150830T123600Z") << v.name;
    EXPECT_EQ(header(request, "X-Amz-Security-Token"), v.session_token ? kSuiteToken : "")
        << v.name;
  }
}

TEST(Sigv4, CanonicalRequestOfTheSuitesFormPost) {
  // post-x-www-form-urlencoded's .creq, as published.
  net::HttpRequest request = make(
      "POST", "https://example.amazonaws.com/",
      {{"Content-Type", "application/x-www-form-urlencoded"}, {"X-Amz-Date", "20150830T123600Z"}},
      "Param1=value1");
  EXPECT_EQ(sigv4_detail::canonical_request(request),
            "POST\n/\n\ncontent-type:application/x-www-form-urlencoded\n"
            "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
            "content-type;host;x-amz-date\n"
            "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
}

TEST(Sigv4, CanonicalUri) {
  using sigv4_detail::canonical_uri;
  EXPECT_EQ(canonical_uri(""), "/");
  EXPECT_EQ(canonical_uri("/"), "/");
  EXPECT_EQ(canonical_uri("/v2/email/outbound-emails"), "/v2/email/outbound-emails");
  EXPECT_EQ(canonical_uri("//example//"), "/example/");
  EXPECT_EQ(canonical_uri("/./example"), "/example");
  EXPECT_EQ(canonical_uri("/a/b/../../../c"), "/c");
  // The path arrives encoded once and is signed encoded twice (every service but S3).
  EXPECT_EQ(canonical_uri("/a%20b/%E1%88%B4"), "/a%2520b/%25E1%2588%25B4");
  EXPECT_EQ(canonical_uri("/id:1@x"), "/id%3A1%40x");
}

TEST(Sigv4, CanonicalQuery) {
  using sigv4_detail::canonical_query;
  EXPECT_EQ(canonical_query(""), "");
  EXPECT_EQ(canonical_query("b=2&a=1&A=0"), "A=0&a=1&b=2");
  EXPECT_EQ(canonical_query("a=2&a=1"), "a=1&a=2");
  EXPECT_EQ(canonical_query("flag&x="), "flag=&x=");
  EXPECT_EQ(canonical_query("q=a%20b&r=%e1%88%b4"), "q=a%20b&r=%E1%88%B4");
  EXPECT_EQ(canonical_query("p=a+b&s=/?:@"), "p=a%2Bb&s=%2F%3F%3A%40");
  EXPECT_EQ(canonical_query("&&k=v&"), "k=v");
}

TEST(Sigv4, AmzDate) {
  EXPECT_EQ(sigv4_detail::amz_date(kSuiteTime), "20150830T123600Z");
  EXPECT_EQ(sigv4_detail::amz_date(kSuiteTime + core::Millis(999)), "20150830T123600Z");
  EXPECT_EQ(sigv4_detail::amz_date(core::from_unix_ms(951782400000LL)), "20000229T000000Z");
}

TEST(Sigv4, HostIsSignedAsTheClientSendsIt) {
  auto host_line = [](const std::string& url) {
    net::HttpRequest r = make("GET", url);
    const auto creq = sigv4_detail::canonical_request(r);
    const auto at = creq.find("host:");
    return creq.substr(at, creq.find('\n', at) - at);
  };
  EXPECT_EQ(host_line("https://email.eu-west-1.amazonaws.com/"),
            "host:email.eu-west-1.amazonaws.com");
  EXPECT_EQ(host_line("https://sns.eu-west-1.amazonaws.com:443/"),
            "host:sns.eu-west-1.amazonaws.com");
  EXPECT_EQ(host_line("http://h.test:80/"), "host:h.test");
  EXPECT_EQ(host_line("http://127.0.0.1:8123/"), "host:127.0.0.1:8123");
  EXPECT_EQ(host_line("https://h.test:8443/"), "host:h.test:8443");
  EXPECT_EQ(host_line("http://[::1]:9000/x"), "host:[::1]:9000");
}

TEST(Sigv4, SigningAgainReplacesTheOldSignature) {
  net::HttpRequest request =
      make("POST", "https://example.amazonaws.com/",
           {{"Content-Type", "application/json"}, {"authorization", "stale"}});
  Credentials keys = kSuiteKeys;
  keys.session_token = "tok";
  sign_sigv4(request, keys, "us-east-1", "service", kSuiteTime);
  sign_sigv4(request, kSuiteKeys, "us-east-1", "service", kSuiteTime + core::Seconds(60));
  int authorization = 0, date = 0, token = 0;
  for (const auto& [name, value] : request.headers) {
    authorization += name == "Authorization" || name == "authorization";
    date += name == "X-Amz-Date";
    token += name == "X-Amz-Security-Token";
  }
  EXPECT_EQ(authorization, 1);
  EXPECT_EQ(date, 1);
  EXPECT_EQ(token, 0);  // the second credentials have none
  EXPECT_EQ(header(request, "X-Amz-Date"), "20150830T123700Z");
}

TEST(Sigv4, HeadersTheClientOwnsAreNotSigned) {
  net::HttpRequest request = make("POST", "https://example.amazonaws.com/",
                                  {{"User-Agent", "x"},
                                   {"Content-Length", "0"},
                                   {"Connection", "close"},
                                   {"Host", "elsewhere.test"},
                                   {"Expect", "100-continue"}});
  sign_sigv4(request, kSuiteKeys, "us-east-1", "service", kSuiteTime);
  EXPECT_EQ(header(request, "Authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
}

TEST(Sigv4, AnUnparseableUrlIsLeftUnsigned) {
  net::HttpRequest request = make("GET", "not a url");
  sign_sigv4(request, kSuiteKeys, "us-east-1", "service", kSuiteTime);
  EXPECT_EQ(header(request, "Authorization"), "");
}

TEST(Sigv4, AgreesWithBotocore) {
  const Credentials temporary{"ASIAEXAMPLEKEY", "c2VjcmV0/+with/slashes+and+plus",
                              "Fwo//tok+en=", std::nullopt};
  std::vector<testing::OracleCase> cases;
  auto add = [&](net::HttpRequest r, const Credentials& keys, std::string region,
                 std::string service,
                 std::optional<std::vector<std::pair<std::string, std::string>>> params = {}) {
    cases.push_back(
        {std::move(r), std::move(params), keys, std::move(region), std::move(service), ""});
  };
  // Shaped like the SES and SNS calls, with a session token.
  add(make(
          "POST", "https://email.eu-west-1.amazonaws.com/v2/email/outbound-emails",
          {{"Content-Type", "application/json"}},
          R"({"FromEmailAddress":"a@b.test","Content":{"Simple":{"Subject":{"Data":"Dein Code für Ä"}}}})"),
      temporary, "eu-west-1", "ses");
  add(make("POST", "http://127.0.0.1:4566/",
           {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}},
           "Action=Publish&Version=2010-03-31&PhoneNumber=%2B14155550100&Message=Acme%3A+Ihr+Code+"
           "lautet+123456+%28g%C3%BCltig%29"),
      temporary, "us-east-1", "sns");
  // A query with spaces, non-ASCII, reserved characters, repeated and empty keys, written with
  // lower-case hex; botocore is given the decoded pairs and encodes them itself.
  add(make("GET", "https://example.amazonaws.com/path?b=x%20y&a=%e1%88%b4&a=1&c=&d=%2F%3F%2B%26"),
      kSuiteKeys, "us-east-1", "service",
      std::vector<std::pair<std::string, std::string>>{
          {"b", "x y"}, {"a", "ሴ"}, {"a", "1"}, {"c", ""}, {"d", "/?+&"}});
  // Repeated headers and white space to trim; a path that needs encoding and normalising.
  add(make("PUT", "https://example.amazonaws.com/a%20b/./c//%E1%88%B4/../d/",
           {{"X-Custom", "  one   two  "}, {"x-custom", "three"}, {"Content-Type", "text/plain"}},
           "line 1\nline 2\n"),
      temporary, "ap-southeast-2", "execute-api");
  // A non-default port on an IPv6 literal, an empty POST.
  add(make("POST", "http://[::1]:8080/"), kSuiteKeys, "eu-central-1", "sns");

  std::vector<std::string> ours;
  for (auto& c : cases) {
    net::HttpRequest signed_request = c.request;
    sign_sigv4(signed_request, c.credentials, c.region, c.service, kSuiteTime);
    ours.push_back(header(signed_request, "Authorization"));
    c.timestamp = "20150830T123600Z";
  }
  const auto theirs = testing::botocore_sign(cases);
  ASSERT_TRUE(theirs.has_value());
  ASSERT_EQ(theirs->size(), ours.size());
  for (std::size_t i = 0; i < ours.size(); ++i) {
    EXPECT_EQ(ours[i], (*theirs)[i]) << cases[i].request.method << " " << cases[i].request.url;
  }
}

}  // namespace
}  // namespace otpd::aws
