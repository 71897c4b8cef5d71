// Country calling codes of one, two and three digits.
#include "core/country_code.hpp"

#include <gtest/gtest.h>

namespace otpd::core {
namespace {

TEST(CountryCallingCode, OneDigitCodes) {
  EXPECT_EQ(country_calling_code("+14155550100"), "+1");
  EXPECT_EQ(country_calling_code("+74951234567"), "+7");
}

TEST(CountryCallingCode, TwoDigitCodes) {
  EXPECT_EQ(country_calling_code("+447700900123"), "+44");
  EXPECT_EQ(country_calling_code("+4915112345678"), "+49");
  EXPECT_EQ(country_calling_code("+919876543210"), "+91");
  EXPECT_EQ(country_calling_code("+201001234567"), "+20");
}

TEST(CountryCallingCode, ThreeDigitCodes) {
  EXPECT_EQ(country_calling_code("+3725123456"), "+372");
  EXPECT_EQ(country_calling_code("+2348012345678"), "+234");
  EXPECT_EQ(country_calling_code("+88212345678"), "+882");  // international networks
  EXPECT_EQ(country_calling_code("+35312345678"), "+353");
}

}  // namespace
}  // namespace otpd::core
