// Message wording: the tenant's per-locale templates, or built-in English, with
// {{code}}, {{ttl_minutes}}, {{ttl}} and {{app_name}} filled in.
#pragma once

#include <string>

#include "config/config.hpp"
#include "delivery/channel.hpp"

namespace otpd::delivery {

// Fills subject/text/html of `message` (to, code, channel, locale, expires_at already set)
// from the tenant's templates for message.locale (falling back to the language part,
// "de-AT" -> "de", then to built-in English). `ttl_seconds` is the code's lifetime. SMS
// text ends with "\n\n@<origin> #<code>" when the tenant has a webotp_origin.
void render_message(const config::TenantConfig& tenant, int ttl_seconds, Message& message);

// Replaces each {{name}} in `text`; unknown names are left as they are. A code's lifetime
// is never rounded up: {{ttl_minutes}} is the whole minutes left (0 in the last minute) and
// {{ttl}} the same in English words ("1 minute", "4 minutes", "less than a minute").
std::string fill_template(const std::string& text, const std::string& code, int ttl_seconds,
                          const std::string& app_name);

}  // namespace otpd::delivery
