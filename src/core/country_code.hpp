// E.164 country calling codes, for limits that count sends per destination country.
#pragma once

#include <string>
#include <string_view>

namespace otpd::core {

// "+14155550100" -> "+1", "+447700900123" -> "+44", "+3725123456" -> "+372". The input
// must be a normalised E.164 number; the code is found from ITU-T's assignment of one-,
// two- and three-digit codes (every code not listed as one or two digits has three).
std::string country_calling_code(std::string_view e164);

}  // namespace otpd::core
