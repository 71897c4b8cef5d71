// Message wording: built-in English, tenant templates by locale, placeholders, WebOTP line.
#include "delivery/templates.hpp"

#include <gtest/gtest.h>

namespace otpd::delivery {
namespace {

config::TenantConfig tenant_named(std::string app) {
  config::TenantConfig t;
  t.name = "acme";
  t.policy.app_name = std::move(app);
  return t;
}

Message message_for(core::ChannelKind channel, std::string locale = "") {
  Message m;
  m.tenant = core::TenantId("acme");
  m.id = core::VerificationId("v1");
  m.channel = channel;
  m.to = "+14155550100";
  m.code = "123456";
  m.locale = std::move(locale);
  return m;
}

TEST(Templates, BuiltinSms) {
  auto m = message_for(core::ChannelKind::kSms);
  render_message(tenant_named("Acme"), 300, m);
  EXPECT_EQ(m.text, "Acme: your code is 123456. It expires in 5 minutes.");
  EXPECT_EQ(m.subject, "");
  EXPECT_EQ(m.html, "");
}

TEST(Templates, BuiltinEmail) {
  auto m = message_for(core::ChannelKind::kEmail);
  render_message(tenant_named("Acme"), 300, m);
  EXPECT_EQ(m.subject, "Your Acme code");
  EXPECT_EQ(m.text,
            "Your Acme code is 123456.\nIt expires in 5 minutes.\n"
            "If you did not ask for it, ignore this message.");
  EXPECT_NE(m.html.find("<strong>123456</strong>"), std::string::npos);
  EXPECT_NE(m.html.find("It expires in 5 minutes."), std::string::npos);
}

TEST(Templates, HtmlEscapesAppNameButTextDoesNot) {
  auto m = message_for(core::ChannelKind::kEmail);
  render_message(tenant_named("A&B <Co>"), 300, m);
  EXPECT_NE(m.html.find("Your A&amp;B &lt;Co&gt; code"), std::string::npos) << m.html;
  EXPECT_EQ(m.html.find("<Co>"), std::string::npos);
  EXPECT_EQ(m.subject, "Your A&B <Co> code");
}

TEST(Templates, WebhookAndConsoleUseSmsWordingWithoutWebOtpLine) {
  auto t = tenant_named("Acme");
  t.policy.webotp_origin = "acme.example";
  for (auto kind : {core::ChannelKind::kWebhook, core::ChannelKind::kConsole}) {
    auto m = message_for(kind);
    render_message(t, 300, m);
    EXPECT_EQ(m.text, "Acme: your code is 123456. It expires in 5 minutes.");
  }
}

// A person told "2 minutes" for 90 s would wait too long: lifetimes are rounded down, and
// the built-in wording says "1 minute", never "1 minutes".
TEST(Templates, TheLifetimeIsNeverRoundedUp) {
  auto t = tenant_named("Acme");
  for (auto [ttl, words] : std::vector<std::pair<int, std::string>>{{30, "less than a minute"},
                                                                    {60, "1 minute"},
                                                                    {90, "1 minute"},
                                                                    {119, "1 minute"},
                                                                    {299, "4 minutes"},
                                                                    {300, "5 minutes"},
                                                                    {3600, "60 minutes"},
                                                                    {0, "less than a minute"}}) {
    auto m = message_for(core::ChannelKind::kSms);
    render_message(t, ttl, m);
    EXPECT_NE(m.text.find("expires in " + words + "."), std::string::npos) << ttl << ": " << m.text;
  }
  for (auto [ttl, minutes] : std::vector<std::pair<int, std::string>>{
           {30, "0"}, {60, "1"}, {90, "1"}, {299, "4"}, {300, "5"}, {3600, "60"}}) {
    EXPECT_EQ(fill_template("{{ttl_minutes}}", "1", ttl, "X"), minutes) << ttl;
  }
}

TEST(Templates, WebOtpLineEndsSms) {
  auto t = tenant_named("Acme");
  t.policy.webotp_origin = "acme.example";
  auto m = message_for(core::ChannelKind::kSms);
  render_message(t, 300, m);
  EXPECT_EQ(m.text, "Acme: your code is 123456. It expires in 5 minutes.\n\n@acme.example #123456");
}

TEST(Templates, WebOtpLineAfterTemplateWithTrailingNewline) {
  auto t = tenant_named("Acme");
  t.policy.webotp_origin = "https://acme.example/";
  t.templates["en"].sms = "Code {{code}}\n";
  auto m = message_for(core::ChannelKind::kSms);
  render_message(t, 300, m);
  EXPECT_EQ(m.text, "Code 123456\n\n@acme.example #123456");
}

config::TenantConfig german_tenant() {
  auto t = tenant_named("Acme");
  t.templates["de"].sms = "{{app_name}}: Ihr Code lautet {{code}} (gültig {{ttl_minutes}} Min.)";
  t.templates["de"].email_subject = "Ihr Code für {{app_name}}";
  return t;
}

TEST(Templates, TenantLocale) {
  auto m = message_for(core::ChannelKind::kSms, "de");
  render_message(german_tenant(), 600, m);
  EXPECT_EQ(m.text, "Acme: Ihr Code lautet 123456 (gültig 10 Min.)");
}

TEST(Templates, RegionFallsBackToLanguage) {
  for (const char* locale : {"de-AT", "de_CH", "DE-at"}) {
    auto m = message_for(core::ChannelKind::kSms, locale);
    render_message(german_tenant(), 600, m);
    EXPECT_EQ(m.text, "Acme: Ihr Code lautet 123456 (gültig 10 Min.)") << locale;
  }
}

TEST(Templates, UnknownLocaleGetsBuiltinEnglish) {
  auto m = message_for(core::ChannelKind::kSms, "fr");
  render_message(german_tenant(), 300, m);
  EXPECT_EQ(m.text, "Acme: your code is 123456. It expires in 5 minutes.");
}

TEST(Templates, TenantEnglishOverridesBuiltinForUntranslatedLocales) {
  auto t = german_tenant();
  t.templates["en"].sms = "{{code}} is your Acme code";
  for (const char* locale : {"", "en", "en-GB", "fr"}) {
    auto m = message_for(core::ChannelKind::kSms, locale);
    render_message(t, 300, m);
    EXPECT_EQ(m.text, "123456 is your Acme code") << locale;
  }
}

TEST(Templates, MissingFieldsOfATemplateKeepBuiltinWording) {
  auto m = message_for(core::ChannelKind::kEmail, "de");
  render_message(german_tenant(), 300, m);
  EXPECT_EQ(m.subject, "Ihr Code für Acme");
  EXPECT_EQ(m.text.rfind("Your Acme code is 123456.", 0), 0u) << m.text;
}

TEST(Templates, FillTemplate) {
  EXPECT_EQ(fill_template("{{app_name}} {{code}} {{ttl_minutes}}", "42", 180, "X"), "X 42 3");
  EXPECT_EQ(fill_template("{{ code }}", "42", 3, "X"), "42");
  EXPECT_EQ(fill_template("{{code}}{{code}}", "42", 3, "X"), "4242");
  EXPECT_EQ(fill_template("no placeholders", "42", 3, "X"), "no placeholders");
}

TEST(Templates, UnknownPlaceholderLeftAlone) {
  EXPECT_EQ(fill_template("{{name}} got {{code}}", "42", 3, "X"), "{{name}} got 42");
  EXPECT_EQ(fill_template("{{code", "42", 3, "X"), "{{code");
  EXPECT_EQ(fill_template("{{{code}}}", "42", 3, "X"), "{42}");
  EXPECT_EQ(fill_template("}}{{", "42", 3, "X"), "}}{{");
}

TEST(Templates, ValuesAreNotExpandedAgain) {
  EXPECT_EQ(fill_template("{{app_name}} {{code}}", "42", 3, "{{code}}"), "{{code}} 42");
}

}  // namespace
}  // namespace otpd::delivery
