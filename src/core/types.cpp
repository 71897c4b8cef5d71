// Names of the channel and alphabet enums as config files and the API spell them.
#include "core/types.hpp"

#include <array>
#include <string_view>
#include <utility>

namespace otpd::core {
namespace {

constexpr std::array<std::pair<ChannelKind, std::string_view>, 4> kChannelNames{{
    {ChannelKind::kConsole, "console"},
    {ChannelKind::kEmail, "email"},
    {ChannelKind::kSms, "sms"},
    {ChannelKind::kWebhook, "webhook"},
}};

constexpr std::array<std::pair<Alphabet, std::string_view>, 2> kAlphabetNames{{
    {Alphabet::kDigits, "digits"},
    {Alphabet::kAlnum, "alnum"},
}};

}  // namespace

const char* to_string(ChannelKind kind) {
  for (const auto& [k, name] : kChannelNames) {
    if (k == kind) return name.data();
  }
  return "unknown";
}

bool parse_channel(std::string_view text, ChannelKind& out) {
  for (const auto& [k, name] : kChannelNames) {
    if (name == text) {
      out = k;
      return true;
    }
  }
  return false;
}

const char* to_string(Alphabet alphabet) {
  for (const auto& [a, name] : kAlphabetNames) {
    if (a == alphabet) return name.data();
  }
  return "unknown";
}

bool parse_alphabet(std::string_view text, Alphabet& out) {
  for (const auto& [a, name] : kAlphabetNames) {
    if (name == text) {
      out = a;
      return true;
    }
  }
  return false;
}

}  // namespace otpd::core
