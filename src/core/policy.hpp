// A tenant's policy: every limit and default of the README's Limits, with its defaults.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/types.hpp"

namespace otpd::core {

struct Policy {
  int code_length = 6;
  Alphabet alphabet = Alphabet::kDigits;
  int ttl_seconds = 300;
  int max_attempts = 5;
  int resend_cooldown_seconds = 30;  // doubles with each further send inside the window
  int max_sends_per_window = 5;
  int send_window_seconds = 600;
  int retention_seconds = 3600;
  int failures_per_recipient_per_hour = 15;         // 0 = off
  double send_rate_per_second = 0;                  // tenant token bucket; 0 = off
  std::map<ChannelKind, long long> daily_send_cap;  // absent or 0 = off
  double requests_per_second_per_key = 0;           // 0 = off
  std::vector<std::string> sms_allow_prefixes;      // empty = all
  std::vector<std::string> sms_deny_prefixes;
  int sms_sends_per_prefix_per_minute = 0;  // 0 = off
  std::optional<ChannelKind> default_channel;
  std::string app_name = "otpd";
  std::string webotp_origin;
};

}  // namespace otpd::core
