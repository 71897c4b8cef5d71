// The one- and two-digit country calling codes of ITU-T E.164; all others have three.
#include "core/country_code.hpp"

#include <algorithm>
#include <array>

namespace otpd::core {

namespace {
constexpr std::array<int, 44> kTwoDigitCodes = {
    20, 27, 30, 31, 32, 33, 34, 36, 39, 40, 41, 43, 44, 45, 46, 47, 48, 49, 51, 52, 53, 54,
    55, 56, 57, 58, 60, 61, 62, 63, 64, 65, 66, 81, 82, 84, 86, 90, 91, 92, 93, 94, 95, 98};
}  // namespace

std::string country_calling_code(std::string_view e164) {
  std::string_view digits = e164;
  if (digits.starts_with('+')) digits.remove_prefix(1);
  if (digits.empty()) return "+";
  std::size_t length = 3;
  if (digits[0] == '1' || digits[0] == '7') {
    length = 1;
  } else if (digits.size() >= 2) {
    const int two = (digits[0] - '0') * 10 + (digits[1] - '0');
    if (std::find(kTwoDigitCodes.begin(), kTwoDigitCodes.end(), two) != kTwoDigitCodes.end()) {
      length = 2;
    }
  }
  return "+" + std::string(digits.substr(0, std::min(length, digits.size())));
}

}  // namespace otpd::core
