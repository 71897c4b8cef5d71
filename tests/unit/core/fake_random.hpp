// RandomSource doubles for core tests: a scripted byte sequence and a seeded deterministic stream.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/crypto.hpp"
#include "core/random.hpp"

namespace otpd::core::testing {

// Plays back `script` in order, cycling when it runs out, and counts what was drawn.
class ScriptedRandom final : public RandomSource {
 public:
  explicit ScriptedRandom(std::vector<std::uint8_t> script) : script_(std::move(script)) {}
  void fill(std::span<std::uint8_t> out) override {
    for (auto& b : out) {
      b = script_[next_ % script_.size()];
      ++next_;
    }
  }
  std::size_t drawn() const { return next_; }

 private:
  std::vector<std::uint8_t> script_;
  std::size_t next_ = 0;
};

// SHA-256 in counter mode over a seed: reproducible, and as uniform as SHA-256 is, so a
// statistical test run on it never flakes.
class SeededRandom final : public RandomSource {
 public:
  explicit SeededRandom(std::string seed) : seed_(std::move(seed)) {}
  void fill(std::span<std::uint8_t> out) override {
    for (auto& b : out) {
      if (used_ == block_.size()) {
        block_ = sha256(seed_ + std::to_string(counter_++));
        used_ = 0;
      }
      b = static_cast<std::uint8_t>(block_[used_++]);
    }
  }

 private:
  std::string seed_;
  std::string block_;
  std::size_t used_ = 0;
  std::uint64_t counter_ = 0;
};

}  // namespace otpd::core::testing
