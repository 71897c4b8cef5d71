// One-time codes: generation without modulo bias, and normalisation of what a person typed.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/random.hpp"
#include "core/types.hpp"

namespace otpd::core {

inline constexpr std::string_view kDigitsAlphabet = "0123456789";
// Crockford's base32: no I, L, O, U, so a code never reads as a word or an ambiguous glyph.
inline constexpr std::string_view kCrockfordAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
inline constexpr int kMinCodeLength = 4;
inline constexpr int kMaxCodeLength = 10;

std::string_view alphabet_chars(Alphabet alphabet);

// A code of `length` symbols, each uniform over the alphabet: random bytes are drawn and
// those at or above the largest multiple of the alphabet size are rejected. A length outside
// kMinCodeLength..kMaxCodeLength is a programming error: std::invalid_argument.
std::string generate_code(RandomSource& rng, Alphabet alphabet, int length);

// Strips spaces and hyphens and, for alnum, upper-cases and applies Crockford's
// substitutions (I, L -> 1; O -> 0). nullopt when the result is not `length` symbols of
// the alphabet.
std::optional<std::string> normalize_code(std::string_view typed, Alphabet alphabet, int length);
// The same reading of `typed` in `alphabet`, whatever its length (1 to kMaxCodeLength
// symbols): what a check can hash before it knows the verification's length.
std::optional<std::string> read_code(std::string_view typed, Alphabet alphabet);

// True when `typed` could be a code of some alphabet and allowed length; used to reject
// garbage before touching the store.
bool plausible_code(std::string_view typed);

}  // namespace otpd::core
