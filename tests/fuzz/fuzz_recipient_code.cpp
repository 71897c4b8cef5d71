// libFuzzer target: core's input parsers on arbitrary bytes. parse_recipient: a recipient it
// accepts is normalised (parsing it again gives itself), within the documented shape, and its
// masked form hides something. normalize_code: a code it returns has the requested length and
// only alphabet symbols, normalises to itself, and passes plausible_code (else the API would
// refuse with 400 a code that verify would accept). generate_code's output normalises to
// itself. mask_recipient and country_calling_code never crash, whatever they are given.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/code.hpp"
#include "core/country_code.hpp"
#include "core/random.hpp"
#include "core/recipient.hpp"

namespace {

using otpd::core::Alphabet;
using otpd::core::RecipientKind;

[[noreturn]] void violation(const char* what, const std::string& input) {
  std::fprintf(stderr, "\n*** invariant violated: %s\n  input (%zu bytes): ", what, input.size());
  for (unsigned char c : input) std::fprintf(stderr, c >= 0x20 && c < 0x7f ? "%c" : "\\x%02x", c);
  std::fprintf(stderr, "\n");
  std::abort();
}

// Bytes from the input itself: generate_code's output is then the fuzzer's choice too.
class InputRandom final : public otpd::core::RandomSource {
 public:
  explicit InputRandom(FuzzedDataProvider& in) : in_(in) {}
  void fill(std::span<std::uint8_t> out) override {
    for (auto& b : out)
      b = in_.remaining_bytes() > 0 ? in_.ConsumeIntegral<std::uint8_t>() : counter_++;
  }

 private:
  FuzzedDataProvider& in_;
  std::uint8_t counter_ = 0;
};

void check_recipient(const std::string& input) {
  std::string why;
  auto r = otpd::core::parse_recipient(input, &why);
  if (!r) {
    if (why.empty()) violation("a refusal without a reason", input);
    // A Recipient that never went through the parser must not crash the masking either.
    (void)otpd::core::mask_recipient({RecipientKind::kEmail, input, input, input});
    (void)otpd::core::mask_recipient({RecipientKind::kPhone, input, input, input});
    return;
  }
  const std::string& n = r->normalized;
  auto again = otpd::core::parse_recipient(n);
  if (!again || again->kind != r->kind || again->normalized != n) {
    violation("a normalised recipient does not parse to itself", input);
  }
  // The identity limits count against is a fixed point: canonicalising it again changes
  // nothing (when it is an address at all: "a.+tag@x.com" counts as "a.@x.com").
  if (auto canonical = otpd::core::parse_recipient(r->canonical);
      canonical && canonical->canonical != r->canonical) {
    violation("a canonical recipient that is not its own canonical form", input);
  }
  if (r->canonical.empty()) violation("an empty canonical recipient", input);
  const std::string masked = otpd::core::mask_recipient(*r);
  if (masked.find('*') == std::string::npos) violation("a masked recipient without stars", input);
  if (r->kind == RecipientKind::kEmail) {
    if (n.size() > 254 || n.find('@') == std::string::npos || n.find('@') != n.rfind('@')) {
      violation("an accepted email of the wrong shape", input);
    }
    for (char c : n) {
      if ((c >= 'A' && c <= 'Z') || static_cast<unsigned char>(c) <= ' ') {
        violation("a normalised email with upper case or space", input);
      }
    }
    if (!masked.ends_with(n.substr(n.find('@')))) violation("masking changed the domain", input);
  } else {
    if (n.size() < 9 || n.size() > 16 || n[0] != '+' || n[1] == '0') {
      violation("an accepted phone number of the wrong shape", input);
    }
    for (std::size_t i = 1; i < n.size(); ++i) {
      if (n[i] < '0' || n[i] > '9') violation("a phone number with a non-digit", input);
    }
    if (masked.size() != n.size() || masked.substr(0, 4) != n.substr(0, 4)) {
      violation("a masked phone number of the wrong shape", input);
    }
    const std::string cc = otpd::core::country_calling_code(n);
    if (cc.size() < 2 || cc.size() > 4 || !n.starts_with(cc)) {
      violation("a country calling code that is not a prefix of 1 to 3 digits", input);
    }
  }
}

void check_code(const std::string& typed, Alphabet alphabet, int length) {
  const auto code = otpd::core::normalize_code(typed, alphabet, length);
  if (!code) return;
  const std::string_view chars = otpd::core::alphabet_chars(alphabet);
  if (code->size() != static_cast<std::size_t>(length)) violation("normalised code length", typed);
  for (char c : *code) {
    if (chars.find(c) == std::string_view::npos) violation("normalised code symbol", typed);
  }
  if (otpd::core::normalize_code(*code, alphabet, length) != code) {
    violation("normalize_code is not idempotent", typed);
  }
  if (length >= otpd::core::kMinCodeLength && length <= otpd::core::kMaxCodeLength &&
      !otpd::core::plausible_code(typed)) {
    violation("a code normalize_code accepts is not plausible_code", typed);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  const Alphabet alphabet = in.ConsumeBool() ? Alphabet::kAlnum : Alphabet::kDigits;
  const int length = in.ConsumeIntegralInRange(-1, 12);
  const std::string text = in.ConsumeRandomLengthString(512);

  check_recipient(text);
  (void)otpd::core::plausible_code(text);
  check_code(text, alphabet, length);
  for (int n = otpd::core::kMinCodeLength; n <= otpd::core::kMaxCodeLength; ++n) {
    check_code(text, Alphabet::kDigits, n);
    check_code(text, Alphabet::kAlnum, n);
  }
  // Any E.164-looking digits, valid or not, through the country-code table.
  if (!text.empty() && text.front() == '+') (void)otpd::core::country_calling_code(text);

  InputRandom rng(in);
  const int gen_length =
      otpd::core::kMinCodeLength +
      (length < 0 ? 0 : length) % (otpd::core::kMaxCodeLength - otpd::core::kMinCodeLength + 1);
  const std::string generated = otpd::core::generate_code(rng, alphabet, gen_length);
  if (otpd::core::normalize_code(generated, alphabet, gen_length) != generated ||
      !otpd::core::plausible_code(generated)) {
    violation("a generated code that does not normalise to itself", generated);
  }
  return 0;
}
