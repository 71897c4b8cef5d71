// Code generation (uniformity, rejection sampling) and normalisation of typed codes.
#include "core/code.hpp"

#include <gtest/gtest.h>

#include <array>
#include <functional>
#include <string>
#include <vector>

#include "fake_random.hpp"

namespace otpd::core {
namespace {

// Pearson's chi-square statistic of `symbols` against a uniform distribution over `alphabet`.
double chi_square(const std::string& symbols, std::string_view alphabet) {
  std::vector<long> counts(alphabet.size(), 0);
  for (const char c : symbols) {
    const auto pos = alphabet.find(c);
    if (pos == std::string_view::npos) return 1e300;  // a foreign symbol fails any threshold
    ++counts[pos];
  }
  const double expected = static_cast<double>(symbols.size()) / alphabet.size();
  double sum = 0;
  for (const long n : counts) sum += (n - expected) * (n - expected) / expected;
  return sum;
}

// 200,000 symbols from codes of the maximum length.
std::string draw_symbols(RandomSource& rng, Alphabet alphabet) {
  std::string all;
  constexpr int kCodes = 20000;
  all.reserve(kCodes * kMaxCodeLength);
  for (int i = 0; i < kCodes; ++i) all += generate_code(rng, alphabet, kMaxCodeLength);
  return all;
}

// Critical values of chi-square at p = 0.001.
constexpr double kChi2Dof9 = 27.877;
constexpr double kChi2Dof31 = 61.098;

// With a real CSPRNG a fair generator still fails one run in a thousand by chance; a biased
// one fails every run. So a failure is confirmed by a second, independent run, which puts the
// false-alarm rate at one in a million while a real bias (like modulo's ~4% on digits,
// chi-square near 70) still fails both.
void expect_uniform(Alphabet alphabet, double threshold) {
  OpenSslRandom rng;
  const std::string_view chars = alphabet_chars(alphabet);
  const double first = chi_square(draw_symbols(rng, alphabet), chars);
  if (first < threshold) return;
  const double second = chi_square(draw_symbols(rng, alphabet), chars);
  EXPECT_LT(second, threshold) << "first run " << first << ", second run " << second;
}

TEST(GenerateCode, DigitsAreUniform) { expect_uniform(Alphabet::kDigits, kChi2Dof9); }

TEST(GenerateCode, AlnumIsUniform) { expect_uniform(Alphabet::kAlnum, kChi2Dof31); }

// The same test on a reproducible stream, so a regression shows up on every run.
TEST(GenerateCode, DigitsAreUniformOnSeededStream) {
  testing::SeededRandom rng("digits");
  EXPECT_LT(chi_square(draw_symbols(rng, Alphabet::kDigits), kDigitsAlphabet), kChi2Dof9);
}

TEST(GenerateCode, AlnumIsUniformOnSeededStream) {
  testing::SeededRandom rng("alnum");
  EXPECT_LT(chi_square(draw_symbols(rng, Alphabet::kAlnum), kCrockfordAlphabet), kChi2Dof31);
}

// Proves the uniformity test has the power to catch modulo bias: the naive `byte % 10` on
// the same kind of stream must fail it.
TEST(GenerateCode, ChiSquareDetectsModuloBias) {
  testing::SeededRandom rng("naive");
  std::string naive(200000, '\0');
  std::vector<std::uint8_t> bytes(naive.size());
  rng.fill(bytes);
  for (std::size_t i = 0; i < naive.size(); ++i) naive[i] = kDigitsAlphabet[bytes[i] % 10];
  EXPECT_GT(chi_square(naive, kDigitsAlphabet), kChi2Dof9);
}

TEST(GenerateCode, RejectsBytesAtOrAbove250ForDigits) {
  testing::ScriptedRandom rng({250, 251, 252, 253, 254, 255, 3, 249, 17, 0, 255, 125});
  // Whatever the batch size, symbols come from the stream in order: 3, 9, 7, 0, 5, then the
  // script repeats and its six rejected bytes are skipped again before the next 3.
  EXPECT_EQ(generate_code(rng, Alphabet::kDigits, 6), "397053");
  EXPECT_GE(rng.drawn(), 19u);
}

TEST(GenerateCode, OnlyRejectedBytesMeansKeepDrawing) {
  // Six rejected bytes, then 7: every symbol comes from the 7s, however the batches fall.
  testing::ScriptedRandom rng({250, 251, 252, 253, 254, 255, 7});
  EXPECT_EQ(generate_code(rng, Alphabet::kDigits, 10), "7777777777");
  EXPECT_GE(rng.drawn(), 70u);
}

TEST(GenerateCode, Byte249IsKeptForDigits) {
  testing::ScriptedRandom rng({249});
  EXPECT_EQ(generate_code(rng, Alphabet::kDigits, 4), "9999");
}

TEST(GenerateCode, AlnumNeedsNoRejection) {
  // 256 is a multiple of 32, so every byte maps: 255 -> 31 ('Z'), 32 -> 0.
  testing::ScriptedRandom rng({255, 0, 31, 32, 10, 42});
  EXPECT_EQ(generate_code(rng, Alphabet::kAlnum, 6), "Z0Z0AA");
}

TEST(GenerateCode, LengthAndAlphabet) {
  OpenSslRandom rng;
  for (int len = kMinCodeLength; len <= kMaxCodeLength; ++len) {
    for (const auto alphabet : {Alphabet::kDigits, Alphabet::kAlnum}) {
      const std::string code = generate_code(rng, alphabet, len);
      EXPECT_EQ(code.size(), static_cast<std::size_t>(len));
      EXPECT_EQ(code.find_first_not_of(alphabet_chars(alphabet)), std::string::npos) << code;
    }
  }
}

TEST(GenerateCode, LengthOutsideRangeThrows) {
  OpenSslRandom rng;
  EXPECT_THROW(generate_code(rng, Alphabet::kDigits, 3), std::invalid_argument);
  EXPECT_THROW(generate_code(rng, Alphabet::kDigits, 11), std::invalid_argument);
  EXPECT_THROW(generate_code(rng, Alphabet::kAlnum, 0), std::invalid_argument);
}

TEST(AlphabetChars, MatchesPolicy) {
  EXPECT_EQ(alphabet_chars(Alphabet::kDigits), "0123456789");
  EXPECT_EQ(alphabet_chars(Alphabet::kAlnum), "0123456789ABCDEFGHJKMNPQRSTVWXYZ");
}

struct NormalizeCase {
  std::string typed;
  Alphabet alphabet;
  int length;
  std::optional<std::string> expected;
};

TEST(NormalizeCode, Table) {
  const std::vector<NormalizeCase> cases = {
      {"123456", Alphabet::kDigits, 6, "123456"},
      {"123 456", Alphabet::kDigits, 6, "123456"},
      {"123-456", Alphabet::kDigits, 6, "123456"},
      {" 1-2 3-4 5-6 ", Alphabet::kDigits, 6, "123456"},
      {"12345", Alphabet::kDigits, 6, std::nullopt},
      {"1234567", Alphabet::kDigits, 6, std::nullopt},
      {"", Alphabet::kDigits, 6, std::nullopt},
      {"   ", Alphabet::kDigits, 6, std::nullopt},
      // Digits codes get no substitutions: a letter is simply wrong.
      {"12345O", Alphabet::kDigits, 6, std::nullopt},
      {"I23456", Alphabet::kDigits, 6, std::nullopt},
      {"12345a", Alphabet::kDigits, 6, std::nullopt},
      {"123\t456", Alphabet::kDigits, 6, std::nullopt},
      {"123_456", Alphabet::kDigits, 6, std::nullopt},
      {"１２３４５６", Alphabet::kDigits, 6, std::nullopt},  // full-width digits
      {"1234", Alphabet::kDigits, 4, "1234"},
      {"1234567890", Alphabet::kDigits, 10, "1234567890"},
      {"ABC123", Alphabet::kAlnum, 6, "ABC123"},
      {"abc123", Alphabet::kAlnum, 6, "ABC123"},
      {"aBc-123", Alphabet::kAlnum, 6, "ABC123"},
      {"IL0O9Z", Alphabet::kAlnum, 6, "11009Z"},
      {"il0o9z", Alphabet::kAlnum, 6, "11009Z"},
      {"XYZ 7890", Alphabet::kAlnum, 7, "XYZ7890"},
      {"ABCU12", Alphabet::kAlnum, 6, std::nullopt},  // U is not in Crockford's alphabet
      {"ABC12", Alphabet::kAlnum, 6, std::nullopt},
      {"ABC1234", Alphabet::kAlnum, 6, std::nullopt},
      {"ABC!23", Alphabet::kAlnum, 6, std::nullopt},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(normalize_code(c.typed, c.alphabet, c.length), c.expected)
        << "'" << c.typed << "' as " << to_string(c.alphabet) << " of length " << c.length;
  }
}

TEST(NormalizeCode, GeneratedCodesNormalizeToThemselves) {
  OpenSslRandom rng;
  for (int i = 0; i < 100; ++i) {
    const auto alphabet = i % 2 ? Alphabet::kAlnum : Alphabet::kDigits;
    const std::string code = generate_code(rng, alphabet, 8);
    EXPECT_EQ(normalize_code(code, alphabet, 8), code);
  }
}

TEST(NormalizeCode, HugeInputIsRejectedCheaply) {
  EXPECT_FALSE(normalize_code(std::string(1 << 20, ' ') + "123456", Alphabet::kDigits, 6));
}

// The reading a check hashes before it knows the verification's length.
TEST(ReadCode, AnyLengthUpToTheLongestCode) {
  EXPECT_EQ(read_code("12 34", Alphabet::kDigits), "1234");
  EXPECT_EQ(read_code("1", Alphabet::kDigits), "1");
  EXPECT_EQ(read_code("io-ab", Alphabet::kAlnum), "10AB");
  EXPECT_EQ(read_code("1234567890", Alphabet::kDigits), "1234567890");
  EXPECT_EQ(read_code("12345678901", Alphabet::kDigits), std::nullopt);  // longer than any code
  EXPECT_EQ(read_code(" - ", Alphabet::kDigits), std::nullopt);          // nothing typed
  EXPECT_EQ(read_code("12A4", Alphabet::kDigits), std::nullopt);
  // normalize_code is this reading at one length.
  EXPECT_EQ(normalize_code("12 34", Alphabet::kDigits, 4), read_code("12 34", Alphabet::kDigits));
  EXPECT_EQ(normalize_code("12 34", Alphabet::kDigits, 5), std::nullopt);
}

TEST(PlausibleCode, Table) {
  EXPECT_TRUE(plausible_code("1234"));
  EXPECT_TRUE(plausible_code("123456"));
  EXPECT_TRUE(plausible_code("1234567890"));
  EXPECT_TRUE(plausible_code("123 456"));
  EXPECT_TRUE(plausible_code("123-456"));
  EXPECT_TRUE(plausible_code("abcDEF"));
  EXPECT_TRUE(plausible_code("U-l-O-i"));  // letters of either case, even outside Crockford
  EXPECT_FALSE(plausible_code(""));
  EXPECT_FALSE(plausible_code("123"));
  EXPECT_FALSE(plausible_code("1 2 3"));
  EXPECT_FALSE(plausible_code("12345678901"));
  EXPECT_FALSE(plausible_code("123_456"));
  EXPECT_FALSE(plausible_code("123\t456"));
  EXPECT_FALSE(plausible_code("12345\xc3\xa9"));
  EXPECT_FALSE(plausible_code(std::string("1234\0", 5)));
  EXPECT_FALSE(plausible_code(std::string(100000, '1')));
}

}  // namespace
}  // namespace otpd::core
