// The production RandomSource: OpenSSL's CSPRNG, which otpd trusts with every code and id.
#include "core/random.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>

namespace otpd::core {

void OpenSslRandom::fill(std::span<std::uint8_t> out) {
  // RAND_bytes takes an int length, so very large requests go in slices.
  while (!out.empty()) {
    const std::size_t n = std::min<std::size_t>(out.size(), INT_MAX);
    if (RAND_bytes(out.data(), static_cast<int>(n)) != 1) {
      std::fputs("otpd: the OpenSSL CSPRNG failed; stopping rather than issue guessable codes\n",
                 stderr);
      std::abort();
    }
    out = out.subspan(n);
  }
}

std::string random_bytes(RandomSource& rng, std::size_t bytes) {
  std::string out(bytes, '\0');
  rng.fill(std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(out.data()), out.size()));
  return out;
}

}  // namespace otpd::core
