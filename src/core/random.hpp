// Randomness as an injected dependency; production uses OpenSSL's CSPRNG.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace otpd::core {

class RandomSource {
 public:
  virtual ~RandomSource() = default;
  // Fills out with random bytes. Aborts the process if the CSPRNG fails: continuing
  // with predictable codes would be worse than stopping.
  virtual void fill(std::span<std::uint8_t> out) = 0;
};

class OpenSslRandom final : public RandomSource {
 public:
  void fill(std::span<std::uint8_t> out) override;
};

// `bytes` random bytes, as a string.
std::string random_bytes(RandomSource& rng, std::size_t bytes);

}  // namespace otpd::core
