// The rules that keep credentials and codes off the network in clear: signing-secret length,
// plain-http outbound endpoints, Bearer keys on a non-loopback listener; and the store list.
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

std::string webhook(const std::string& url, const std::string& secret) {
  return "[tenants.acme.channels.webhook]\nurl = \"" + url + "\"\nsecret = \"" + secret + "\"\n";
}

std::string twilio(const std::string& base_url) {
  return "[tenants.acme.channels.sms]\nprovider = \"twilio\"\naccount_sid = \"AC1\"\n"
         "auth_token = \"tok\"\nfrom = \"+15005550006\"\nbase_url = \"" +
         base_url + "\"\n";
}

std::string aws(const std::string& table, const std::string& endpoint) {
  return "[tenants.acme.channels." + table + "]\nprovider = \"" +
         (table == "email" ? "ses" : "sns") + "\"\nregion = \"eu-west-1\"\n" +
         (table == "email" ? "from = \"a@b.test\"\n" : "") + "endpoint = \"" + endpoint + "\"\n";
}

TEST(ConfigSecurity, WebhookSigningSecretHasSixteenCharactersAtLeast) {
  const std::string url = "https://hooks.example/otp";
  EXPECT_EQ(error_of(webhook(url, "whsec_test")),
            "tenants.acme.channels.webhook.secret: must be at least 16 characters");
  EXPECT_EQ(error_of(webhook(url, "0123456789abcde")),
            "tenants.acme.channels.webhook.secret: must be at least 16 characters");
  EXPECT_THAT(error_of(webhook(url, "hunter2")), ::testing::Not(HasSubstr("hunter2")));
  EXPECT_EQ(parse(webhook(url, "0123456789abcdef")).tenants.at("acme").webhook->secret,
            "0123456789abcdef");
}

TEST(ConfigSecurity, PlainHttpEndpointsOffLoopbackAreRefusedNamingTheKey) {
  const std::string secret = "whsec_0123456789abcdef";
  EXPECT_THAT(error_of(webhook("http://hooks.example/otp", secret)),
              StartsWith("tenants.acme.channels.webhook.url: plain http:// would carry every "
                         "code and its signature in clear over the network; use https://"));
  EXPECT_THAT(error_of(twilio("http://api.twilio.com")),
              StartsWith("tenants.acme.channels.sms.base_url: plain http:// would carry the "
                         "auth token"));
  EXPECT_THAT(error_of(aws("email", "http://email.eu-west-1.amazonaws.com")),
              StartsWith("tenants.acme.channels.email.endpoint: plain http://"));
  EXPECT_THAT(error_of(aws("sms", "http://10.0.0.5:4566")),
              StartsWith("tenants.acme.channels.sms.endpoint: plain http://"));
  // Userinfo, a port, a path or a query do not hide the host.
  for (const char* url : {"http://127.0.0.1.evil.test/x", "http://127.0.0.1@evil.test/x",
                          "http://user:pw@evil.test:80/x", "http://[2001:db8::1]:8080/x",
                          "http://evil.test?h=127.0.0.1", "http://localhost.evil.test/"}) {
    EXPECT_THAT(error_of(webhook(url, secret)),
                StartsWith("tenants.acme.channels.webhook.url: plain http://"))
        << url;
    // The URL may carry a token: never echoed.
    EXPECT_THAT(error_of(webhook(url, secret)), ::testing::Not(HasSubstr("evil")));
  }
}

TEST(ConfigSecurity, PlainHttpToLoopbackAndHttpsAnywhereAreAccepted) {
  const std::string secret = "whsec_0123456789abcdef";
  for (const char* url :
       {"http://127.0.0.1:9000/hook", "http://127.9.9.9/hook", "http://localhost:9000/hook",
        "http://[::1]:9000/hook", "http://user:pw@127.0.0.1:1/x", "https://hooks.example/otp",
        "https://10.0.0.5/otp"}) {
    EXPECT_EQ(parse(webhook(url, secret)).tenants.at("acme").webhook->url, url) << url;
  }
  EXPECT_EQ(parse(twilio("http://127.0.0.1:4010")).tenants.at("acme").sms->base_url,
            "http://127.0.0.1:4010");
  EXPECT_EQ(parse(aws("email", "http://127.0.0.1:4566")).tenants.at("acme").email->endpoint,
            "http://127.0.0.1:4566");
  EXPECT_EQ(parse(aws("sms", "https://sns.example")).tenants.at("acme").sms->endpoint,
            "https://sns.example");
}

std::string keyed(const std::string& top) {
  return top + "\n[tenants.acme]\napi_keys = [\"sha256:" + kKeyHash + "\"]\n";
}

TEST(ConfigSecurity, BearerKeysOnANonLoopbackListenerNeedAllowPlainHttp) {
  try {
    check_plain_http(parse(keyed("listen = \"0.0.0.0:8080\"")));
    ADD_FAILURE() << "no ConfigError";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_THAT(what, StartsWith("listen: API keys are configured and 0.0.0.0:8080 is not a "
                                 "loopback address"));
    // The message says both ways out.
    EXPECT_THAT(what, HasSubstr("deploy/nginx/otpd.conf"));
    EXPECT_THAT(what, HasSubstr("allow_plain_http = true"));
  }
  EXPECT_THROW(check_plain_http(parse(keyed("listen = \"[::]:8080\""))), ConfigError);
  EXPECT_THROW(check_plain_http(parse(keyed("listen = \"192.0.2.10:8080\""))), ConfigError);
  EXPECT_THROW(
      check_plain_http(parse(keyed("listen = \"127.0.0.1:1\""), {{"OTPD_LISTEN", "[::]:1"}})),
      ConfigError);
}

TEST(ConfigSecurity, PlainHttpIsFineOnLoopbackWithoutKeysOrWhenAllowed) {
  EXPECT_NO_THROW(check_plain_http(parse(keyed("listen = \"127.0.0.1:8080\""))));
  EXPECT_NO_THROW(check_plain_http(parse(keyed("listen = \"[::1]:8080\""))));
  EXPECT_NO_THROW(check_plain_http(parse(keyed("listen = \"localhost:8080\""))));
  EXPECT_NO_THROW(
      check_plain_http(parse(keyed("listen = \"0.0.0.0:8080\"\nallow_plain_http = true"))));
  EXPECT_NO_THROW(check_plain_http(
      parse(keyed("listen = \"0.0.0.0:8080\""), {{"OTPD_ALLOW_PLAIN_HTTP", "true"}})));
  // Without keys there is nothing to leak; protected mode refuses that listener on its own.
  EXPECT_NO_THROW(check_plain_http(parse("listen = \"0.0.0.0:8080\"")));
}

TEST(ConfigSecurity, AllowPlainHttpIsABoolean) {
  EXPECT_FALSE(parse("").allow_plain_http);
  EXPECT_TRUE(parse("allow_plain_http = true").allow_plain_http);
  EXPECT_EQ(error_of("allow_plain_http = \"yes\""), "allow_plain_http: expected a boolean");
}

TEST(ConfigSecurity, StoreErrorsNameOnlyTheStoresOfThisBuild) {
  std::string forms;
  for (const auto& store : supported_stores()) {
    forms += (forms.empty() ? "" : ", ") + std::string(store.form);
  }
  EXPECT_THAT(forms, StartsWith("sqlite://PATH, redis://"));
  EXPECT_EQ(error_of("store = \"memcached://127.0.0.1:11211\""),
            "store: the memcached:// store is not available in this build (this build supports: " +
                forms + ")");
  EXPECT_EQ(error_of("store = \"./data/otpd.db\""),
            "store: not a store URL (this build supports: " + forms + ")");
  EXPECT_EQ(error_of("store = \"sqlite://\""),
            "store: nothing after \"sqlite://\" (expected sqlite://PATH)");
  // Whatever stands before "://" is echoed only when it is a plain scheme.
  EXPECT_EQ(error_of("store = \"u:hunter2@h://x\""),
            "store: not a store URL (this build supports: " + forms + ")");
}

TEST(ConfigLogFormat, FileKeyAndDefault) {
  EXPECT_EQ(parse("").log_format, "auto");
  for (const char* format : {"auto", "json", "text"}) {
    EXPECT_EQ(parse(std::string("log_format = \"") + format + "\"").log_format, format);
  }
  EXPECT_EQ(error_of("log_format = \"pretty\""),
            "log_format: must be one of auto, json, text (got \"pretty\")");
  EXPECT_EQ(error_of("log_formt = \"json\""),
            "log_formt: unknown key (did you mean \"log_format\"?)");
}

TEST(ListenFormat, Ipv6HostsAreBracketed) {
  EXPECT_EQ(format_host_port("::1", 8080), "[::1]:8080");
  EXPECT_EQ(format_host_port("::", 0), "[::]:0");
  EXPECT_EQ(format_host_port("127.0.0.1", 8080), "127.0.0.1:8080");
  EXPECT_EQ(format_host_port("localhost", 1), "localhost:1");
  EXPECT_EQ(format_host_port("[::1]", 2), "[::1]:2");
  // What parse_listen reads back, format_host_port writes out.
  const auto parsed = parse_listen("[fe80::1]:8443", "listen");
  EXPECT_EQ(format_host_port(parsed.host, parsed.port), "[fe80::1]:8443");
}

}  // namespace
}  // namespace otpd::config
