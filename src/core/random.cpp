// The production RandomSource: OpenSSL's CSPRNG, which otpd trusts with every code and id.
#include "core/random.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace otpd::core {
namespace {

void openssl_fill(std::span<std::uint8_t> out) {
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

// OpenSSL's output fetched ahead, one block per thread. A call to RAND_bytes costs about
// 2 µs on a small draw (OpenSSL 3 finds the thread's generator and takes its lock every
// time) and a send draws three times (its code, its id, the nonce that seals the code for
// delivery), so small draws come out of this block instead. The bytes are the same
// generator's output, only drawn earlier; each is wiped from the block as it is handed
// out, so the block never holds a byte that was already used. otpd never forks, so no
// two processes can share a block.
class AheadBlock {
 public:
  static constexpr std::size_t kSize = 512;
  static constexpr std::size_t kLargestDraw = 64;

  ~AheadBlock() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

  void take(std::span<std::uint8_t> out) {
    if (kSize - used_ < out.size()) {
      openssl_fill(bytes_);
      used_ = 0;
    }
    std::uint8_t* from = bytes_.data() + used_;
    std::memcpy(out.data(), from, out.size());
    OPENSSL_cleanse(from, out.size());
    used_ += out.size();
  }

 private:
  std::array<std::uint8_t, kSize> bytes_{};
  std::size_t used_ = kSize;  // empty until the first draw
};

}  // namespace

void OpenSslRandom::fill(std::span<std::uint8_t> out) {
  if (out.size() > AheadBlock::kLargestDraw) {
    openssl_fill(out);
    return;
  }
  thread_local AheadBlock block;
  block.take(out);
}

std::string random_bytes(RandomSource& rng, std::size_t bytes) {
  std::string out(bytes, '\0');
  rng.fill(std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(out.data()), out.size()));
  return out;
}

}  // namespace otpd::core
