// Every class of invalid config is refused with a message that starts with the dotted key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config_test_util.hpp"

namespace otpd::config {
namespace {

using testing::error_of;
using ::testing::HasSubstr;
using testing::kKeyHash;
using ::testing::Not;
using ::testing::StartsWith;

TEST(ConfigErrors, OutOfRange) {
  EXPECT_EQ(error_of("[tenants.acme]\ncode_length = 99\n"),
            "tenants.acme.code_length: must be between 4 and 10 (got 99)");
  EXPECT_EQ(error_of("[tenants.acme]\ncode_length = 3\n"),
            "tenants.acme.code_length: must be between 4 and 10 (got 3)");
  EXPECT_EQ(error_of("[tenants.acme]\nttl_seconds = 29\n"),
            "tenants.acme.ttl_seconds: must be between 30 and 3600 (got 29)");
  EXPECT_EQ(error_of("[tenants.acme]\nttl_seconds = 3601\n"),
            "tenants.acme.ttl_seconds: must be between 30 and 3600 (got 3601)");
  EXPECT_EQ(error_of("[tenants.acme]\nmax_attempts = 0\n"),
            "tenants.acme.max_attempts: must be between 1 and 20 (got 0)");
  EXPECT_EQ(error_of("[tenants.acme]\nmax_attempts = 21\n"),
            "tenants.acme.max_attempts: must be between 1 and 20 (got 21)");
  EXPECT_EQ(error_of("[tenants.acme]\nresend_cooldown_seconds = -1\n"),
            "tenants.acme.resend_cooldown_seconds: must be between 0 and 86400 (got -1)");
  EXPECT_EQ(error_of("[tenants.acme]\nmax_sends_per_window = 1001\n"),
            "tenants.acme.max_sends_per_window: must be between 1 and 1000 (got 1001)");
  EXPECT_EQ(error_of("[tenants.acme]\nsend_window_seconds = 0\n"),
            "tenants.acme.send_window_seconds: must be between 1 and 86400 (got 0)");
  EXPECT_EQ(error_of("[tenants.acme]\nretention_seconds = 2592001\n"),
            "tenants.acme.retention_seconds: must be between 0 and 2592000 (got 2592001)");
  EXPECT_EQ(error_of("[tenants.acme]\nfailures_per_recipient_per_hour = -1\n"),
            "tenants.acme.failures_per_recipient_per_hour: must be at least 0 (got -1)");
  EXPECT_EQ(error_of("[tenants.acme]\nfailures_per_recipient_per_hour = 9999999999\n"),
            "tenants.acme.failures_per_recipient_per_hour: must be at least 0 (got 9999999999)");
  EXPECT_EQ(error_of("[tenants.acme]\nsms_sends_per_prefix_per_minute = -5\n"),
            "tenants.acme.sms_sends_per_prefix_per_minute: must be at least 0 (got -5)");
  EXPECT_EQ(error_of("[tenants.acme]\nsend_rate_per_second = -0.5\n"),
            "tenants.acme.send_rate_per_second: must be at least 0 (got -0.5)");
  EXPECT_EQ(error_of("[tenants.acme]\nrequests_per_second_per_key = nan\n"),
            "tenants.acme.requests_per_second_per_key: must be a finite number");
  EXPECT_EQ(error_of("[tenants.acme]\nsend_rate_per_second = inf\n"),
            "tenants.acme.send_rate_per_second: must be a finite number");
  EXPECT_EQ(error_of("[tenants.acme]\ndaily_send_cap = { sms = -1 }\n"),
            "tenants.acme.daily_send_cap.sms: must be at least 0 (got -1)");
  EXPECT_EQ(error_of("max_connections = 0"),
            "max_connections: must be between 1 and 1000000 (got 0)");
  EXPECT_EQ(error_of("threads = -1"), "threads: must be between 0 and 1024 (got -1)");
}

TEST(ConfigErrors, WrongType) {
  EXPECT_EQ(error_of("[tenants.acme]\nttl_seconds = \"300\"\n"),
            "tenants.acme.ttl_seconds: expected an integer");
  EXPECT_EQ(error_of("[tenants.acme]\ncode_length = 6.0\n"),
            "tenants.acme.code_length: expected an integer");
  EXPECT_EQ(error_of("[tenants.acme]\nsend_rate_per_second = \"1\"\n"),
            "tenants.acme.send_rate_per_second: expected a number");
  EXPECT_EQ(error_of("[tenants.acme]\napp_name = 5\n"), "tenants.acme.app_name: expected a string");
  EXPECT_EQ(error_of("[tenants.acme]\napi_keys = \"sha256:x\"\n"),
            "tenants.acme.api_keys: expected an array of strings");
  EXPECT_EQ(error_of("[tenants.acme]\nsms_deny_prefixes = [\"+1\", 44]\n"),
            "tenants.acme.sms_deny_prefixes[1]: expected a string");
  EXPECT_EQ(error_of("[tenants.acme]\ndaily_send_cap = 5\n"),
            "tenants.acme.daily_send_cap: expected a table");
  EXPECT_EQ(error_of("[tenants.acme]\ndaily_send_cap = { email = 1.5 }\n"),
            "tenants.acme.daily_send_cap.email: expected an integer");
  EXPECT_EQ(error_of("[tenants.acme]\ntemplates = { de = \"x\" }\n"),
            "tenants.acme.templates.de: expected a table");
  EXPECT_EQ(error_of("[tenants.acme]\nchannels.console = true\n"),
            "tenants.acme.channels.console: expected a table");
  EXPECT_EQ(error_of("listen = 8080"), "listen: expected a string");
  EXPECT_EQ(error_of("secrets = \"0123456789abcdef\""), "secrets: expected an array of strings");
  EXPECT_EQ(error_of("threads = \"4\""), "threads: expected an integer");
  EXPECT_EQ(error_of("tenants = 1"), "tenants: expected a table");
  EXPECT_EQ(error_of("tenants.acme = 1"), "tenants.acme: expected a table");
  EXPECT_EQ(error_of("[compat]\nenabled = \"yes\"\n"), "compat.enabled: expected a boolean");
  EXPECT_EQ(error_of("compat = []"), "compat: expected a table");
}

TEST(ConfigErrors, UnknownKeysAtEveryLevel) {
  EXPECT_EQ(error_of("[tenants.acme]\nttl_second = 300\n"),
            "tenants.acme.ttl_second: unknown key (did you mean \"ttl_seconds\"?)");
  EXPECT_EQ(error_of("lisen = \"127.0.0.1:1\""), "lisen: unknown key (did you mean \"listen\"?)");
  EXPECT_EQ(error_of("frobnicate = 1"), "frobnicate: unknown key");
  EXPECT_EQ(error_of("[tenants.acme]\ns = 1\n"), "tenants.acme.s: unknown key");
  EXPECT_THAT(error_of("[tenants.acme.channels.webhook]\nurl = \"https://x\"\nsecret = \"s\"\n"
                       "retries = 3\n"),
              StartsWith("tenants.acme.channels.webhook.retries: unknown key"));
  EXPECT_THAT(error_of("[tenants.acme.channels.console]\ncolor = true\n"),
              StartsWith("tenants.acme.channels.console.color: unknown key"));
  EXPECT_THAT(error_of("[tenants.acme.channels.fax]\n"),
              StartsWith("tenants.acme.channels.fax: unknown key"));
  EXPECT_THAT(error_of("[tenants.acme.templates.de]\nsmss = \"{{code}}\"\n"),
              StartsWith("tenants.acme.templates.de.smss: unknown key (did you mean \"sms\"?)"));
  EXPECT_THAT(error_of("[compat]\nenable = true\n"),
              StartsWith("compat.enable: unknown key (did you mean \"enabled\"?)"));
  EXPECT_THAT(error_of("[tenants.acme]\ndaily_send_cap = { fax = 1 }\n"),
              StartsWith("tenants.acme.daily_send_cap.fax: unknown key"));
  // Keys that are not bare TOML keys are quoted as they must be written.
  EXPECT_EQ(error_of("\"a.b\" = 1"), "\"a.b\": unknown key");
}

TEST(ConfigErrors, SeveralUnknownKeysAreAllNamedInFileOrder) {
  EXPECT_EQ(error_of("zzz = 1\naaa = 2\n"), "zzz: unknown key (also unknown: aaa)");
}

TEST(ConfigErrors, ApiKeys) {
  const auto expected = "tenants.acme.api_keys[0]: expected \"sha256:<64 hex digits>\"";
  EXPECT_EQ(error_of("[tenants.acme]\napi_keys = [\"plaintext-key\"]\n"), expected);
  EXPECT_EQ(error_of("[tenants.acme]\napi_keys = [\"sha256:" + std::string(63, 'a') + "\"]\n"),
            expected);
  EXPECT_EQ(error_of("[tenants.acme]\napi_keys = [\"sha256:" + std::string(65, 'a') + "\"]\n"),
            expected);
  EXPECT_EQ(error_of("[tenants.acme]\napi_keys = [\"sha256:" + std::string(64, 'g') + "\"]\n"),
            expected);
  EXPECT_EQ(error_of("[tenants.acme]\napi_keys = [\"SHA256:" + std::string(kKeyHash) + "\"]\n"),
            expected);
  EXPECT_EQ(error_of("[tenants.acme]\napi_keys = [\"sha256:" + std::string(kKeyHash) +
                     "\", \"sha512:x\"]\n"),
            "tenants.acme.api_keys[1]: expected \"sha256:<64 hex digits>\"");
  // Not echoed: whatever was pasted there might be the key itself.
  EXPECT_THAT(error_of("[tenants.acme]\napi_keys = [\"plaintext-key\"]\n"),
              Not(HasSubstr("plaintext-key")));
}

TEST(ConfigErrors, ApiKeyBelongsToOneTenant) {
  const auto key = "\"sha256:" + std::string(kKeyHash) + "\"";
  EXPECT_EQ(error_of("[tenants.a]\napi_keys = [" + key + ", " + key + "]\n"),
            "tenants.a.api_keys[1]: listed twice");
  EXPECT_EQ(
      error_of("[tenants.a]\napi_keys = [" + key + "]\n[tenants.b]\napi_keys = [" + key + "]\n"),
      "tenants.b.api_keys[0]: the same key is already listed as tenants.a.api_keys[0]");
}

TEST(ConfigErrors, TenantNames) {
  EXPECT_THAT(error_of("[tenants.Acme]\n"), StartsWith("tenants.Acme: invalid tenant name"));
  EXPECT_THAT(error_of("[tenants.\"a b\"]\n"), StartsWith("tenants.\"a b\": invalid tenant name"));
  EXPECT_THAT(error_of("[tenants.\"\"]\n"), StartsWith("tenants.\"\": invalid tenant name"));
  EXPECT_THAT(error_of("[tenants." + std::string(65, 'a') + "]\n"),
              StartsWith("tenants." + std::string(65, 'a') + ": invalid tenant name"));
  EXPECT_NO_THROW(parse_config("[tenants." + std::string(64, 'a') + "]\n", {}));
}

TEST(ConfigErrors, EnumsAndStrings) {
  EXPECT_EQ(error_of("[tenants.acme]\nalphabet = \"hex\"\n"),
            "tenants.acme.alphabet: must be \"digits\" or \"alnum\" (got \"hex\")");
  EXPECT_EQ(
      error_of("[tenants.acme]\ndefault_channel = \"fax\"\n"),
      "tenants.acme.default_channel: must be one of console, email, sms, webhook (got \"fax\")");
  EXPECT_EQ(error_of("[tenants.acme]\napp_name = \"\"\n"),
            "tenants.acme.app_name: must not be empty");
  EXPECT_THAT(error_of("[tenants.acme]\nwebotp_origin = \"https://acme.example\"\n"),
              StartsWith("tenants.acme.webotp_origin: expected a host name"));
  EXPECT_THAT(error_of("[tenants.acme]\nwebotp_origin = \"-acme.example\"\n"),
              StartsWith("tenants.acme.webotp_origin: expected a host name"));
  EXPECT_THAT(error_of("[tenants.acme]\nwebotp_origin = \"acme..example\"\n"),
              StartsWith("tenants.acme.webotp_origin: expected a host name"));
  EXPECT_EQ(error_of("log_level = \"verbose\""),
            "log_level: must be one of debug, info, warn, error (got \"verbose\")");
}

TEST(ConfigErrors, PhonePrefixes) {
  for (const char* bad : {"1", "+", "+1234567", "+1a", " +1", "+-1"}) {
    EXPECT_THAT(
        error_of("[tenants.acme]\nsms_allow_prefixes = [\"+44\", \"" + std::string(bad) + "\"]\n"),
        StartsWith("tenants.acme.sms_allow_prefixes[1]: expected a phone prefix"))
        << bad;
  }
  EXPECT_THAT(error_of("[tenants.acme]\nsms_deny_prefixes = [\"44\"]\n"),
              StartsWith("tenants.acme.sms_deny_prefixes[0]: expected a phone prefix"));
}

TEST(ConfigErrors, DefaultChannelMustBeConfigured) {
  EXPECT_EQ(error_of("[tenants.acme]\ndefault_channel = \"email\"\n"),
            "tenants.acme.default_channel: channel \"email\" is not configured");
  EXPECT_EQ(error_of("[tenants.acme]\ndefault_channel = \"console\"\n"),
            "tenants.acme.default_channel: channel \"console\" is not configured");
  EXPECT_EQ(error_of("[tenants.acme]\ndefault_channel = \"sms\"\n"
                     "[tenants.acme.channels.console]\n"),
            "tenants.acme.default_channel: channel \"sms\" is not configured");
  EXPECT_NO_THROW(parse_config(
      "[tenants.acme]\ndefault_channel = \"console\"\n[tenants.acme.channels.console]\n", {}));
}

TEST(ConfigErrors, WebhookChannel) {
  const std::string head = "[tenants.acme.channels.webhook]\n";
  EXPECT_EQ(error_of(head + "secret = \"s\"\n"), "tenants.acme.channels.webhook.url: required");
  EXPECT_EQ(error_of(head + "url = \"https://h/x\"\n"),
            "tenants.acme.channels.webhook.secret: required");
  EXPECT_EQ(error_of(head + "url = \"https://h/x\"\nsecret = \"\"\n"),
            "tenants.acme.channels.webhook.secret: must not be empty");
  for (const char* url : {"ftp://h/x", "https://", "https:///path", "h/x", "https://h /x"}) {
    EXPECT_EQ(error_of(head + "url = \"" + url + "\"\nsecret = \"s\"\n"),
              "tenants.acme.channels.webhook.url: expected an http:// or https:// URL")
        << url;
  }
}

TEST(ConfigErrors, EmailChannel) {
  const std::string head = "[tenants.acme.channels.email]\n";
  EXPECT_EQ(error_of(head + "from = \"a@b\"\n"), "tenants.acme.channels.email.smtp: required");
  EXPECT_EQ(error_of(head + "smtp = \"smtp://h:25\"\n"),
            "tenants.acme.channels.email.from: required");
  EXPECT_EQ(error_of(head + "smtp = \"http://user:hunter2@h\"\nfrom = \"a@b\"\n"),
            "tenants.acme.channels.email.smtp: expected an smtp:// or smtps:// URL");
  EXPECT_EQ(error_of(head + "provider = \"ses\"\nfrom = \"a@b\"\n"),
            "tenants.acme.channels.email.region: required");
  EXPECT_EQ(
      error_of(head + "provider = \"ses\"\nregion = \"r\"\nsmtp = \"smtp://h\"\nfrom = \"a\"\n"),
      "tenants.acme.channels.email.smtp: not used with provider \"ses\"");
  EXPECT_EQ(error_of(head + "smtp = \"smtp://h\"\nregion = \"r\"\nfrom = \"a\"\n"),
            "tenants.acme.channels.email.region: only used with provider \"ses\"");
  EXPECT_EQ(error_of(head + "provider = \"mailgun\"\nfrom = \"a\"\n"),
            "tenants.acme.channels.email.provider: must be \"smtp\" or \"ses\" (got \"mailgun\")");
}

TEST(ConfigErrors, SmsChannel) {
  const std::string head = "[tenants.acme.channels.sms]\n";
  EXPECT_THAT(error_of(head + "region = \"r\"\n"),
              StartsWith("tenants.acme.channels.sms.provider: required"));
  EXPECT_EQ(error_of(head + "provider = \"nexmo\"\n"),
            "tenants.acme.channels.sms.provider: must be \"twilio\" or \"sns\" (got \"nexmo\")");
  EXPECT_EQ(error_of(head + "provider = \"twilio\"\nauth_token = \"t\"\nfrom = \"+1\"\n"),
            "tenants.acme.channels.sms.account_sid: required");
  EXPECT_EQ(error_of(head + "provider = \"twilio\"\naccount_sid = \"a\"\nfrom = \"+1\"\n"),
            "tenants.acme.channels.sms.auth_token: required");
  EXPECT_EQ(error_of(head + "provider = \"twilio\"\naccount_sid = \"a\"\nauth_token = \"t\"\n"),
            "tenants.acme.channels.sms.from: required");
  EXPECT_EQ(
      error_of(head +
               "provider = \"twilio\"\naccount_sid = \"a\"\nauth_token = \"t\"\nfrom = \"+1\"\n"
               "base_url = \"api.twilio.com\"\n"),
      "tenants.acme.channels.sms.base_url: expected an http:// or https:// URL");
  EXPECT_EQ(error_of(head + "provider = \"sns\"\n"), "tenants.acme.channels.sms.region: required");
  EXPECT_EQ(error_of(head + "provider = \"sns\"\nregion = \"r\"\nauth_token = \"t\"\n"),
            "tenants.acme.channels.sms.auth_token: not used with provider \"sns\"");
}

TEST(ConfigErrors, Templates) {
  const std::string head = "[tenants.acme.templates.de]\n";
  EXPECT_EQ(error_of(head + "sms = \"Ihr Code\"\n"),
            "tenants.acme.templates.de.sms: must contain {{code}}");
  EXPECT_THAT(error_of(head + "sms = \"{{cod}} ist Ihr Code\"\n"),
              StartsWith("tenants.acme.templates.de.sms: unknown placeholder \"{{cod}}\""));
  EXPECT_THAT(error_of(head + "email_subject = \"{{ app_name }}\"\n"),
              StartsWith("tenants.acme.templates.de.email_subject: unknown placeholder"));
  EXPECT_THAT(error_of(head + "email_text = \"Hallo\"\nemail_html = \"<p>Hallo</p>\"\n"),
              StartsWith("tenants.acme.templates.de.email_text: must contain {{code}}"));
  EXPECT_THAT(error_of(head + "email_html = \"<p>Hallo</p>\"\n"),
              StartsWith("tenants.acme.templates.de.email_html: must contain {{code}}"));
  EXPECT_EQ(error_of(head + "sms = 1\n"), "tenants.acme.templates.de.sms: expected a string");
  EXPECT_THAT(error_of("[tenants.acme.templates.\"de_DE\"]\n"),
              StartsWith("tenants.acme.templates.de_DE: expected a locale"));
  EXPECT_THAT(error_of("[tenants.acme.templates.d]\n"),
              StartsWith("tenants.acme.templates.d: expected a locale"));
  // The subject alone may carry the code, and a subject-only template keeps the built-in body.
  EXPECT_NO_THROW(parse_config(head + "email_subject = \"{{app_name}} code\"\n", {}));
  EXPECT_NO_THROW(
      parse_config(head + "email_subject = \"{{code}}\"\nemail_text = \"See subject\"\n", {}));
}

TEST(ConfigErrors, TopLevelValues) {
  EXPECT_THAT(error_of("store = \"mysql://h/db\""),
              StartsWith("store: the mysql:// store is not available in this build (this build "
                         "supports: sqlite://PATH"));
  EXPECT_THAT(error_of("store = \"sqlite://\""), StartsWith("store: "));
  // A store URL may hold a password: never echoed.
  EXPECT_THAT(error_of("store = \"postgres://u:hunter2@h\""), Not(HasSubstr("hunter2")));
  EXPECT_EQ(error_of("secrets = [\"0123456789abcdef\", \"short\"]"),
            "secrets[1]: must be at least 16 characters");
  EXPECT_EQ(error_of("secrets = [\"\"]"), "secrets[0]: must be at least 16 characters");
  EXPECT_EQ(error_of("secrets = [1]"), "secrets[0]: expected a string");
  EXPECT_EQ(error_of("data_dir = \"\""), "data_dir: must not be empty");
  EXPECT_THAT(error_of("listen = \"localhost\""), StartsWith("listen: expected \"host:port\""));
  EXPECT_THAT(error_of("admin_listen = \"127.0.0.1:99999\""),
              StartsWith("admin_listen: port must be between 0 and 65535"));
  EXPECT_EQ(error_of("admin_listen = \"127.0.0.1:8080\""),
            "admin_listen: must differ from listen (\"127.0.0.1:8080\")");
  EXPECT_NO_THROW(parse_config("admin_listen = \"\"", {}));
}

TEST(ConfigErrors, Compat) {
  EXPECT_EQ(error_of("[compat]\nenabled = true\n"),
            "compat.tenant: required when compat.enabled = true");
  EXPECT_EQ(error_of("[compat]\nenabled = true\ntenant = \"nobody\"\n"),
            "compat.tenant: no tenant \"nobody\" is configured");
  EXPECT_THAT(error_of("[tenants.a]\n[compat]\nenabled = true\ntenant = \"a\"\n"),
              StartsWith("compat.tenant: tenant \"a\" has neither an email channel"));
  EXPECT_EQ(error_of("[compat]\npath = \"otp\"\n"),
            "compat.path: must start with \"/\" (got \"otp\")");
  EXPECT_THAT(error_of("[compat]\npath = \"/otp?x=1\"\n"), StartsWith("compat.path: "));
  EXPECT_EQ(error_of("[compat]\npath = \"/v1/otp/send\"\n"),
            "compat.path: conflicts with otpd's own routes");
  EXPECT_EQ(error_of("[compat]\npath = \"/healthz\"\n"),
            "compat.path: conflicts with otpd's own routes");
}

}  // namespace
}  // namespace otpd::config
