// Small value types for the domain's identifiers, so a swapped argument is a compile error.
#pragma once

#include <chrono>
#include <compare>
#include <string>
#include <utility>

namespace otpd::core {

// A string wrapped in a distinct type; Tag only tells the types apart.
template <typename Tag>
class StrongString {
 public:
  StrongString() = default;
  explicit StrongString(std::string value) : value_(std::move(value)) {}
  const std::string& str() const { return value_; }
  bool empty() const { return value_.empty(); }
  auto operator<=>(const StrongString&) const = default;

 private:
  std::string value_;
};

using TenantId = StrongString<struct TenantIdTag>;
using VerificationId = StrongString<struct VerificationIdTag>;
// Keyed hash (hex) of a normalised recipient: the only recipient identity a store sees.
using RecipientHash = StrongString<struct RecipientHashTag>;

using Clock = std::chrono::system_clock;
using TimePoint = std::chrono::time_point<Clock, std::chrono::milliseconds>;
using Seconds = std::chrono::seconds;
using Millis = std::chrono::milliseconds;

// Milliseconds since the Unix epoch: how stores persist a TimePoint.
inline long long to_unix_ms(TimePoint t) { return t.time_since_epoch().count(); }
inline TimePoint from_unix_ms(long long ms) { return TimePoint(Millis(ms)); }

enum class ChannelKind { kConsole, kEmail, kSms, kWebhook };
const char* to_string(ChannelKind kind);
bool parse_channel(std::string_view text, ChannelKind& out);

enum class Alphabet { kDigits, kAlnum };
const char* to_string(Alphabet alphabet);
bool parse_alphabet(std::string_view text, Alphabet& out);

}  // namespace otpd::core
