// Message wording: picks the tenant's template for the locale (or the built-in English) and
// fills in its placeholders, adding the WebOTP origin line to SMS bodies.
#include "delivery/templates.hpp"

#include <algorithm>
#include <cctype>
#include <string_view>

namespace otpd::delivery {
namespace {

constexpr std::string_view kBuiltinSms =
    "{{app_name}}: your code is {{code}}. It expires in {{ttl}}.";
constexpr std::string_view kBuiltinEmailSubject = "Your {{app_name}} code";
constexpr std::string_view kBuiltinEmailText =
    "Your {{app_name}} code is {{code}}.\n"
    "It expires in {{ttl}}.\n"
    "If you did not ask for it, ignore this message.";
constexpr std::string_view kBuiltinEmailHtml =
    "<p>Your {{app_name}} code is <strong>{{code}}</strong>.</p>\n"
    "<p>It expires in {{ttl}}.</p>\n"
    "<p>If you did not ask for it, ignore this message.</p>";

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

const config::Template* find_template(const config::TenantConfig& tenant, std::string_view locale) {
  if (locale.empty()) return nullptr;
  // Locale tags are case-insensitive (BCP 47), and config keys are written by hand.
  for (const auto& [key, tmpl] : tenant.templates) {
    if (iequals(key, locale)) return &tmpl;
  }
  return nullptr;
}

// The locale itself, then its language ("de-AT" -> "de"), then the tenant's own English
// (a tenant that rewrote the English wording wants it for every locale it has not
// translated), else none: the built-in English.
const config::Template* choose_template(const config::TenantConfig& tenant,
                                        std::string_view locale) {
  if (const auto* t = find_template(tenant, locale)) return t;
  const auto dash = locale.find_first_of("-_");
  if (dash != std::string_view::npos) {
    if (const auto* t = find_template(tenant, locale.substr(0, dash))) return t;
  }
  return find_template(tenant, "en");
}

std::string html_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

// A template may set only some fields (say, just `sms`); the others keep the built-in
// wording rather than going out empty.
std::string_view pick(const config::Template* tmpl, std::string config::Template::*field,
                      std::string_view builtin) {
  if (tmpl != nullptr && !(tmpl->*field).empty()) return tmpl->*field;
  return builtin;
}

// WebOTP wants the bare host ("@example.com #123456"); accept an origin written as a URL.
std::string webotp_host(std::string_view origin) {
  origin = trim(origin);
  if (origin.starts_with("https://")) origin.remove_prefix(8);
  while (origin.ends_with('/')) origin.remove_suffix(1);
  return std::string(origin);
}

}  // namespace

std::string ttl_words(int ttl_seconds) {
  const int minutes = std::max(0, ttl_seconds) / 60;
  if (minutes == 0) return "less than a minute";
  return minutes == 1 ? "1 minute" : std::to_string(minutes) + " minutes";
}

std::string fill_template(const std::string& text, const std::string& code, int ttl_seconds,
                          const std::string& app_name) {
  std::string out;
  out.reserve(text.size() + code.size() + app_name.size());
  std::size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 2, "{{") == 0) {
      const auto close = text.find("}}", i + 2);
      if (close != std::string::npos) {
        const auto name = trim(std::string_view(text).substr(i + 2, close - i - 2));
        const std::string* value = nullptr;
        std::string minutes;
        if (name == "code") {
          value = &code;
        } else if (name == "app_name") {
          value = &app_name;
        } else if (name == "ttl_minutes") {
          // Whole minutes left, rounded down: a person told "2 minutes" for 90 s would wait
          // too long.
          minutes = std::to_string(std::max(0, ttl_seconds) / 60);
          value = &minutes;
        } else if (name == "ttl") {
          minutes = ttl_words(ttl_seconds);
          value = &minutes;
        }
        if (value != nullptr) {
          out += *value;
          i = close + 2;
          continue;
        }
      }
    }
    // Not a known placeholder: copy one character, so "{{{code}}}" still finds the inner
    // "{{code}}" and values put in are never scanned again.
    out.push_back(text[i]);
    ++i;
  }
  return out;
}

void render_message(const config::TenantConfig& tenant, int ttl_seconds, Message& message) {
  const std::string& app = tenant.policy.app_name;
  const auto* tmpl = choose_template(tenant, message.locale);
  const auto fill = [&](std::string_view t, const std::string& app_name) {
    return fill_template(std::string(t), message.code, ttl_seconds, app_name);
  };

  message.subject.clear();
  message.html.clear();
  switch (message.channel) {
    case core::ChannelKind::kEmail:
      message.subject =
          fill(pick(tmpl, &config::Template::email_subject, kBuiltinEmailSubject), app);
      message.text = fill(pick(tmpl, &config::Template::email_text, kBuiltinEmailText), app);
      message.html =
          fill(pick(tmpl, &config::Template::email_html, kBuiltinEmailHtml), html_escape(app));
      break;
    case core::ChannelKind::kSms: {
      message.text = fill(pick(tmpl, &config::Template::sms, kBuiltinSms), app);
      const auto host = webotp_host(tenant.policy.webotp_origin);
      if (!host.empty()) {
        // The WebOTP spec reads the origin line only as the very last line, after a blank one.
        while (!message.text.empty() &&
               std::isspace(static_cast<unsigned char>(message.text.back()))) {
          message.text.pop_back();
        }
        message.text += "\n\n@" + host + " #" + message.code;
      }
      break;
    }
    case core::ChannelKind::kWebhook:
    case core::ChannelKind::kConsole:
      // The receiver of a webhook may forward the text by any means, so it gets the short
      // SMS wording, without the WebOTP line that only an SMS body should carry.
      message.text = fill(pick(tmpl, &config::Template::sms, kBuiltinSms), app);
      break;
  }
}

}  // namespace otpd::delivery
