// Parsing valid configs: the README's Configuration reference example, defaults, protected mode,
// files.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "config_test_util.hpp"

namespace otpd::config {
namespace {

using testing::error_of;
using testing::kKeyHash;
using testing::parse;

// the README's Configuration reference, with real values where the document has placeholders.
const std::string kProductExample = std::string(R"toml(
listen = "127.0.0.1:8080"
store = "sqlite://./data/otpd.db"   # redis://h:p/db · redis-cluster://h1:p1,h2:p2 · dynamodb://TABLE?region=R&endpoint=URL
data_dir = "./data"                 # server secret and SQLite file live here
secrets = []                        # optional; first signs, all verify (rotation); else generated into data_dir

[tenants.acme]
api_keys = ["sha256:)toml") + kKeyHash +
                                    R"toml("]   # `otpd key new` prints a key and its hash
code_length = 6
ttl_seconds = 300
max_attempts = 5
resend_cooldown_seconds = 30
max_sends_per_window = 5
send_window_seconds = 600
default_channel = "webhook"
app_name = "Acme"
alphabet = "digits"                 # or "alnum"
retention_seconds = 3600
failures_per_recipient_per_hour = 15
send_rate_per_second = 0            # tenant token bucket; 0 = off
daily_send_cap = { sms = 0, email = 0 }   # spending cap per channel; 0 = off
requests_per_second_per_key = 0     # 0 = off
sms_allow_prefixes = []             # E.164 prefixes like "+1", "+44"; empty = all
sms_deny_prefixes = []
sms_sends_per_prefix_per_minute = 0 # velocity limit per country prefix; 0 = off
webotp_origin = "acme.example"      # adds "@acme.example #123456" to SMS bodies

[tenants.acme.templates.de]         # per locale; built-in wording when absent
sms = "{{app_name}}: Ihr Code lautet {{code}} (gültig {{ttl_minutes}} Min.)"
email_subject = "Ihr Code für {{app_name}}"
email_text = "Ihr Code: {{code}}"
email_html = "<p>Ihr Code: <b>{{code}}</b></p>"

[tenants.acme.channels.webhook]
url = "http://127.0.0.1:9000/hook"
secret = "whsec_test_0123456789"

[tenants.acme.channels.email]
smtp = "smtp://user:pass@127.0.0.1:2525?tls=starttls"   # or provider = "ses", region = "eu-west-1"
from = "Acme <no-reply@acme.test>"

[tenants.acme.channels.sms]
provider = "twilio"                 # or "sns" (region = …)
account_sid = "AC0123"
auth_token = "secret"
from = "+15005550006"
base_url = "https://api.twilio.com" # any Twilio-compatible endpoint
#AWS credentials(SES, SNS, DynamoDB) come from the standard AWS_* env vars,
#the container / instance role, or the Lambda environment.

[compat]            # the original service's routes, for one tenant, no key
enabled = true
tenant = "acme"
path = "/otp"
)toml";

TEST(ConfigParse, ProductExample) {
  const auto c = parse(kProductExample);
  EXPECT_EQ(c.listen, "127.0.0.1:8080");
  EXPECT_EQ(c.store, "sqlite://./data/otpd.db");
  EXPECT_EQ(c.data_dir, "./data");
  EXPECT_TRUE(c.secrets.empty());
  EXPECT_FALSE(c.protected_mode());
  ASSERT_EQ(c.tenants.size(), 1u);  // keys configured: no "default" tenant added

  const auto& t = c.tenants.at("acme");
  EXPECT_EQ(t.name, "acme");
  EXPECT_EQ(t.api_key_hashes, std::vector<std::string>{kKeyHash});
  const auto& p = t.policy;
  EXPECT_EQ(p.code_length, 6);
  EXPECT_EQ(p.ttl_seconds, 300);
  EXPECT_EQ(p.max_attempts, 5);
  EXPECT_EQ(p.resend_cooldown_seconds, 30);
  EXPECT_EQ(p.max_sends_per_window, 5);
  EXPECT_EQ(p.send_window_seconds, 600);
  EXPECT_EQ(p.default_channel, core::ChannelKind::kWebhook);
  EXPECT_EQ(p.app_name, "Acme");
  EXPECT_EQ(p.alphabet, core::Alphabet::kDigits);
  EXPECT_EQ(p.retention_seconds, 3600);
  EXPECT_EQ(p.failures_per_recipient_per_hour, 15);
  EXPECT_EQ(p.send_rate_per_second, 0);
  EXPECT_EQ(p.daily_send_cap, (std::map<core::ChannelKind, long long>{
                                  {core::ChannelKind::kSms, 0}, {core::ChannelKind::kEmail, 0}}));
  EXPECT_EQ(p.requests_per_second_per_key, 0);
  EXPECT_TRUE(p.sms_allow_prefixes.empty());
  EXPECT_TRUE(p.sms_deny_prefixes.empty());
  EXPECT_EQ(p.sms_sends_per_prefix_per_minute, 0);
  EXPECT_EQ(p.webotp_origin, "acme.example");

  ASSERT_EQ(t.templates.size(), 1u);
  const auto& de = t.templates.at("de");
  EXPECT_EQ(de.sms, "{{app_name}}: Ihr Code lautet {{code}} (gültig {{ttl_minutes}} Min.)");
  EXPECT_EQ(de.email_subject, "Ihr Code für {{app_name}}");
  EXPECT_EQ(de.email_text, "Ihr Code: {{code}}");
  EXPECT_EQ(de.email_html, "<p>Ihr Code: <b>{{code}}</b></p>");

  EXPECT_FALSE(t.console_channel);
  ASSERT_TRUE(t.webhook);
  EXPECT_EQ(t.webhook->url, "http://127.0.0.1:9000/hook");
  EXPECT_EQ(t.webhook->secret, "whsec_test_0123456789");
  ASSERT_TRUE(t.email);
  EXPECT_EQ(t.email->smtp, "smtp://user:pass@127.0.0.1:2525?tls=starttls");
  EXPECT_EQ(t.email->provider, "");
  EXPECT_EQ(t.email->from, "Acme <no-reply@acme.test>");
  ASSERT_TRUE(t.sms);
  EXPECT_EQ(t.sms->provider, "twilio");
  EXPECT_EQ(t.sms->account_sid, "AC0123");
  EXPECT_EQ(t.sms->auth_token, "secret");
  EXPECT_EQ(t.sms->from, "+15005550006");
  EXPECT_EQ(t.sms->base_url, "https://api.twilio.com");

  EXPECT_TRUE(c.compat.enabled);
  EXPECT_EQ(c.compat.tenant, "acme");
  EXPECT_EQ(c.compat.path, "/otp");
}

TEST(ConfigParse, EmptyFileGivesDefaultsAndProtectedMode) {
  const auto c = parse("");
  EXPECT_EQ(c.listen, "127.0.0.1:8080");
  EXPECT_EQ(c.admin_listen, "");
  EXPECT_EQ(c.store, "sqlite://./data/otpd.db");
  EXPECT_EQ(c.data_dir, "./data");
  EXPECT_TRUE(c.secrets.empty());
  EXPECT_EQ(c.max_connections, 4096u);
  EXPECT_EQ(c.threads, 0);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_FALSE(c.compat.enabled);
  EXPECT_EQ(c.compat.path, "/otp");

  EXPECT_TRUE(c.protected_mode());
  ASSERT_EQ(c.tenants.size(), 1u);
  const auto& t = c.tenants.at("default");
  EXPECT_EQ(t.name, "default");
  EXPECT_TRUE(t.api_key_hashes.empty());
  EXPECT_TRUE(t.console_channel);
  EXPECT_EQ(t.policy.default_channel, core::ChannelKind::kConsole);
  EXPECT_FALSE(t.webhook || t.email || t.sms);
}

TEST(ConfigParse, AbsentTenantKeysKeepPolicyDefaults) {
  const auto c = parse("[tenants.acme]\napi_keys = [\"sha256:" + std::string(kKeyHash) + "\"]\n");
  const auto& t = c.tenants.at("acme");
  const core::Policy defaults;
  const auto& p = t.policy;
  EXPECT_EQ(p.code_length, defaults.code_length);
  EXPECT_EQ(p.alphabet, defaults.alphabet);
  EXPECT_EQ(p.ttl_seconds, defaults.ttl_seconds);
  EXPECT_EQ(p.max_attempts, defaults.max_attempts);
  EXPECT_EQ(p.resend_cooldown_seconds, defaults.resend_cooldown_seconds);
  EXPECT_EQ(p.max_sends_per_window, defaults.max_sends_per_window);
  EXPECT_EQ(p.send_window_seconds, defaults.send_window_seconds);
  EXPECT_EQ(p.retention_seconds, defaults.retention_seconds);
  EXPECT_EQ(p.failures_per_recipient_per_hour, defaults.failures_per_recipient_per_hour);
  EXPECT_EQ(p.send_rate_per_second, defaults.send_rate_per_second);
  EXPECT_TRUE(p.daily_send_cap.empty());
  EXPECT_EQ(p.requests_per_second_per_key, defaults.requests_per_second_per_key);
  EXPECT_EQ(p.sms_sends_per_prefix_per_minute, defaults.sms_sends_per_prefix_per_minute);
  EXPECT_FALSE(p.default_channel);
  EXPECT_EQ(p.app_name, "otpd");
  EXPECT_EQ(p.webotp_origin, "");
  EXPECT_TRUE(t.templates.empty());
  EXPECT_FALSE(t.console_channel || t.webhook || t.email || t.sms);
  EXPECT_FALSE(c.protected_mode());
  EXPECT_FALSE(c.tenants.contains("default"));
}

TEST(ConfigParse, TopLevelKeys) {
  const auto c = parse(R"(
listen = "[::1]:0"
admin_listen = "127.0.0.1:9090"
store = "sqlite:///var/lib/otpd/other.db"
data_dir = "/var/lib/otpd"
secrets = ["0123456789abcdef", "fedcba9876543210-old"]
max_connections = 10
threads = 4
log_level = "debug"
)");
  EXPECT_EQ(c.listen, "[::1]:0");
  EXPECT_EQ(c.admin_listen, "127.0.0.1:9090");
  EXPECT_EQ(c.store, "sqlite:///var/lib/otpd/other.db");
  EXPECT_EQ(c.data_dir, "/var/lib/otpd");
  EXPECT_EQ(c.secrets, (std::vector<std::string>{"0123456789abcdef", "fedcba9876543210-old"}));
  EXPECT_EQ(c.max_connections, 10u);
  EXPECT_EQ(c.threads, 4);
  EXPECT_EQ(c.log_level, "debug");
}

TEST(ConfigParse, EverySupportedStoreIsAccepted) {
  ASSERT_FALSE(supported_stores().empty());
  EXPECT_EQ(supported_stores().front().scheme, "sqlite://");
  for (const auto& store : supported_stores()) {
    const std::string url = std::string(store.scheme) + "x";
    // A remote store also needs the instances' shared secrets.
    const std::string secrets =
        url.starts_with("sqlite://") ? "" : "secrets = [\"0123456789abcdef\"]\n";
    EXPECT_EQ(parse(secrets + "store = \"" + url + "\"").store, url);
  }
}

TEST(ConfigParse, DefaultStoreFollowsDataDir) {
  EXPECT_EQ(parse("data_dir = \"/var/lib/otpd/\"").store, "sqlite:///var/lib/otpd/otpd.db");
  EXPECT_EQ(parse("data_dir = \"/\"").store, "sqlite:///otpd.db");
  // An explicit store wins wherever data_dir points.
  EXPECT_EQ(parse("data_dir = \"/srv\"\nstore = \"sqlite:///db/o.db\"").store, "sqlite:///db/o.db");
}

TEST(ConfigParse, ProtectedModeKeepsExistingDefaultTenant) {
  const auto c = parse(R"(
[tenants.default]
app_name = "Mine"
[tenants.default.channels.webhook]
url = "https://hooks.example/otp"
secret = "whsec_0123456789abcdef"
)");
  EXPECT_TRUE(c.protected_mode());
  ASSERT_EQ(c.tenants.size(), 1u);
  EXPECT_EQ(c.tenants.at("default").policy.app_name, "Mine");
  EXPECT_FALSE(c.tenants.at("default").console_channel);
}

TEST(ConfigParse, ProtectedModeAddsDefaultBesideKeylessTenants) {
  const auto c = parse("[tenants.acme]\n[tenants.acme.channels.console]\n");
  EXPECT_TRUE(c.protected_mode());
  EXPECT_TRUE(c.tenants.contains("acme"));
  ASSERT_TRUE(c.tenants.contains("default"));
  EXPECT_TRUE(c.tenants.at("default").console_channel);
}

TEST(ConfigParse, KeylessTenantBesideKeyedOneIsAllowed) {
  const auto c =
      parse("[tenants.a]\napi_keys = [\"sha256:" + std::string(kKeyHash) + "\"]\n[tenants.b]\n");
  EXPECT_FALSE(c.protected_mode());
  EXPECT_EQ(c.tenants.size(), 2u);
}

TEST(ConfigParse, ApiKeyHashIsStoredLowerCaseWithoutPrefix) {
  const auto c = parse(
      "[tenants.acme]\napi_keys = [\"sha256:"
      "EBFBFD0414BB0CB52B149C7596A65B6892C759178BDC540E50A3C9B3575775E3\", \"sha256:" +
      std::string(64, 'a') + "\"]\n");
  EXPECT_EQ(c.tenants.at("acme").api_key_hashes,
            (std::vector<std::string>{kKeyHash, std::string(64, 'a')}));
}

TEST(ConfigParse, PolicyValues) {
  const auto c = parse(R"(
[tenants.t-1_x]
code_length = 10
ttl_seconds = 30
max_attempts = 20
resend_cooldown_seconds = 0
max_sends_per_window = 1000
send_window_seconds = 86400
alphabet = "alnum"
retention_seconds = 2592000
failures_per_recipient_per_hour = 0
send_rate_per_second = 2.5
daily_send_cap = { sms = 100, email = 5000, webhook = 0, console = 7 }
requests_per_second_per_key = 10
sms_allow_prefixes = ["+1", "+4420", "+123456"]
sms_deny_prefixes = ["+7"]
sms_sends_per_prefix_per_minute = 30
default_channel = "sms"
[tenants.t-1_x.channels.sms]
provider = "sns"
region = "eu-west-1"
)");
  const auto& p = c.tenants.at("t-1_x").policy;
  EXPECT_EQ(p.code_length, 10);
  EXPECT_EQ(p.ttl_seconds, 30);
  EXPECT_EQ(p.max_attempts, 20);
  EXPECT_EQ(p.resend_cooldown_seconds, 0);
  EXPECT_EQ(p.max_sends_per_window, 1000);
  EXPECT_EQ(p.send_window_seconds, 86400);
  EXPECT_EQ(p.alphabet, core::Alphabet::kAlnum);
  EXPECT_EQ(p.retention_seconds, 2592000);
  EXPECT_EQ(p.failures_per_recipient_per_hour, 0);
  EXPECT_DOUBLE_EQ(p.send_rate_per_second, 2.5);
  EXPECT_EQ(p.daily_send_cap,
            (std::map<core::ChannelKind, long long>{{core::ChannelKind::kSms, 100},
                                                    {core::ChannelKind::kEmail, 5000},
                                                    {core::ChannelKind::kWebhook, 0},
                                                    {core::ChannelKind::kConsole, 7}}));
  EXPECT_DOUBLE_EQ(p.requests_per_second_per_key, 10);
  EXPECT_EQ(p.sms_allow_prefixes, (std::vector<std::string>{"+1", "+4420", "+123456"}));
  EXPECT_EQ(p.sms_deny_prefixes, std::vector<std::string>{"+7"});
  EXPECT_EQ(p.sms_sends_per_prefix_per_minute, 30);
  EXPECT_EQ(p.default_channel, core::ChannelKind::kSms);
  const auto& sms = *c.tenants.at("t-1_x").sms;
  EXPECT_EQ(sms.provider, "sns");
  EXPECT_EQ(sms.region, "eu-west-1");
}

TEST(ConfigParse, DailySendCapAsStandardTable) {
  const auto c = parse("[tenants.a.daily_send_cap]\nsms = 3\n");
  EXPECT_EQ(c.tenants.at("a").policy.daily_send_cap,
            (std::map<core::ChannelKind, long long>{{core::ChannelKind::kSms, 3}}));
}

TEST(ConfigParse, ChannelVariants) {
  const auto c = parse(R"(
[tenants.a.channels.console]
[tenants.a.channels.email]
provider = "ses"
region = "eu-west-1"
from = "no-reply@a.test"
[tenants.a.channels.sms]
provider = "twilio"
account_sid = "AC1"
auth_token = "tok"
from = "+15005550006"
[tenants.b.channels.email]
smtp = "smtps://u:p@mail.example:465"
from = "b@b.test"
)");
  const auto& a = c.tenants.at("a");
  EXPECT_TRUE(a.console_channel);
  EXPECT_EQ(a.email->provider, "ses");
  EXPECT_EQ(a.email->region, "eu-west-1");
  EXPECT_EQ(a.email->smtp, "");
  EXPECT_EQ(a.sms->base_url, "https://api.twilio.com");  // the default
  EXPECT_EQ(c.tenants.at("b").email->smtp, "smtps://u:p@mail.example:465");
  EXPECT_EQ(c.tenants.at("b").email->provider, "");
}

TEST(ConfigParse, TemplatesPerLocale) {
  const auto c = parse(R"(
[tenants.a.templates.en]
sms = "{{code}} is your {{app_name}} code"
[tenants.a.templates.pt-BR]
email_subject = "Seu código {{code}}"
email_text = "Veja o assunto."
)");
  const auto& templates = c.tenants.at("a").templates;
  ASSERT_EQ(templates.size(), 2u);
  EXPECT_EQ(templates.at("en").sms, "{{code}} is your {{app_name}} code");
  EXPECT_EQ(templates.at("en").email_text, "");
  EXPECT_EQ(templates.at("pt-BR").email_text, "Veja o assunto.");
}

TEST(ConfigParse, CompatForTheProtectedModeDefaultTenant) {
  const auto c = parse("[compat]\nenabled = true\ntenant = \"default\"\npath = \"/legacy/otp\"\n");
  EXPECT_TRUE(c.compat.enabled);
  EXPECT_EQ(c.compat.path, "/legacy/otp");
}

TEST(ConfigParse, DisabledCompatNeedsNoTenant) {
  const auto c = parse("[compat]\nenabled = false\ntenant = \"nobody\"\n");
  EXPECT_FALSE(c.compat.enabled);
}

TEST(ConfigParse, FloatRatesAcceptIntegers) {
  const auto c =
      parse("[tenants.a]\nsend_rate_per_second = 3\nrequests_per_second_per_key = 0.5\n");
  EXPECT_DOUBLE_EQ(c.tenants.at("a").policy.send_rate_per_second, 3);
  EXPECT_DOUBLE_EQ(c.tenants.at("a").policy.requests_per_second_per_key, 0.5);
}

class ConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char name[] = "/tmp/otpd-config-test-XXXXXX";
    const int fd = mkstemp(name);
    ASSERT_GE(fd, 0);
    close(fd);
    path_ = name;
  }
  void TearDown() override { std::remove(path_.c_str()); }
  void write(const std::string& text) { std::ofstream(path_) << text; }
  std::string path_;
};

TEST_F(ConfigFile, LoadsFile) {
  write("listen = \"127.0.0.1:9999\"\n");
  EXPECT_EQ(load_config(path_, {}).listen, "127.0.0.1:9999");
}

TEST_F(ConfigFile, EmptyPathMeansDefaultsPlusEnv) {
  const auto c = load_config("", {{"OTPD_THREADS", "2"}});
  EXPECT_EQ(c.threads, 2);
  EXPECT_EQ(c.listen, "127.0.0.1:8080");
}

TEST_F(ConfigFile, UnreadableFile) {
  try {
    load_config("/nonexistent/otpd.toml", {});
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "config: cannot read /nonexistent/otpd.toml: No such file or directory");
  }
  try {
    load_config("/tmp", {});
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "config: cannot read /tmp: Is a directory");
  }
}

TEST_F(ConfigFile, SyntaxErrorNamesPathLineAndColumn) {
  write("listen = \"127.0.0.1:8080\"\n\nthreads = = 3\n");
  try {
    load_config(path_, {});
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind("config: " + path_ + ":3:", 0), 0u) << message;
  }
}

TEST_F(ConfigFile, ValidationErrorsFromFilesNameTheKey) {
  write("[tenants.acme]\ncode_length = 99\n");
  try {
    load_config(path_, {});
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "tenants.acme.code_length: must be between 4 and 10 (got 99)");
  }
}

TEST(ConfigParse, SyntaxErrorWithoutPath) {
  EXPECT_EQ(error_of("a = \n").rfind("config: 1:", 0), 0u);
}

}  // namespace
}  // namespace otpd::config
