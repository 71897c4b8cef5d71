// Code generation by rejection sampling, and normalisation of typed codes.
#include "core/code.hpp"

#include <openssl/crypto.h>

#include <cstdint>
#include <stdexcept>
#include <vector>

namespace otpd::core {
namespace {

// Typed input longer than this cannot be a code even after stripping separators;
// bounding the scan keeps hostile input cheap.
constexpr std::size_t kMaxTypedLength = 64;

bool is_separator(char c) { return c == ' ' || c == '-'; }

bool is_ascii_alnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

}  // namespace

std::string_view alphabet_chars(Alphabet alphabet) {
  return alphabet == Alphabet::kAlnum ? kCrockfordAlphabet : kDigitsAlphabet;
}

std::string generate_code(RandomSource& rng, Alphabet alphabet, int length) {
  if (length < kMinCodeLength || length > kMaxCodeLength) {
    throw std::invalid_argument("otpd: code length must be 4 to 10");
  }
  const std::string_view chars = alphabet_chars(alphabet);
  const unsigned n = static_cast<unsigned>(chars.size());
  // Bytes at or above the largest multiple of n would favour the low symbols.
  const unsigned limit = 256 - 256 % n;

  std::string code;
  code.reserve(static_cast<std::size_t>(length));
  // A batch of twice the need finishes in one draw nearly always (digits reject 6/256).
  std::vector<std::uint8_t> batch(static_cast<std::size_t>(length) * 2);
  while (code.size() < static_cast<std::size_t>(length)) {
    rng.fill(batch);
    for (const std::uint8_t b : batch) {
      if (b >= limit) continue;
      code.push_back(chars[b % n]);
      if (code.size() == static_cast<std::size_t>(length)) break;
    }
  }
  // The leftover bytes say something about the code; leave none of it in freed memory.
  OPENSSL_cleanse(batch.data(), batch.size());
  return code;
}

std::optional<std::string> read_code(std::string_view typed, Alphabet alphabet) {
  if (typed.size() > kMaxTypedLength) return std::nullopt;
  const std::string_view chars = alphabet_chars(alphabet);
  std::string out;
  out.reserve(static_cast<std::size_t>(kMaxCodeLength));
  for (char c : typed) {
    if (is_separator(c)) continue;
    if (alphabet == Alphabet::kAlnum) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      // Crockford's substitutions: the glyphs people confuse with 1 and 0.
      if (c == 'I' || c == 'L') c = '1';
      if (c == 'O') c = '0';
    }
    if (chars.find(c) == std::string_view::npos) return std::nullopt;
    out.push_back(c);
    if (out.size() > static_cast<std::size_t>(kMaxCodeLength)) return std::nullopt;
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::optional<std::string> normalize_code(std::string_view typed, Alphabet alphabet, int length) {
  if (length <= 0) return std::nullopt;
  auto out = read_code(typed, alphabet);
  if (!out || out->size() != static_cast<std::size_t>(length)) return std::nullopt;
  return out;
}

bool plausible_code(std::string_view typed) {
  if (typed.size() > kMaxTypedLength) return false;
  int symbols = 0;
  for (const char c : typed) {
    if (is_separator(c)) continue;
    if (!is_ascii_alnum(c)) return false;
    ++symbols;
  }
  return symbols >= kMinCodeLength && symbols <= kMaxCodeLength;
}

}  // namespace otpd::core
