// Request ids: echo what is safe, otherwise make one up (a per-thread PRNG: ids need only
// be unique, and a CSPRNG call per request would cost more than the rest of a status read).
#include "api/request_id.hpp"

#include <algorithm>
#include <cstdint>
#include <random>

namespace otpd::api {

bool acceptable_request_id(std::string_view id) {
  return !id.empty() && id.size() <= 128 &&
         std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

std::string new_request_id() {
  thread_local std::mt19937_64 engine = [] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }();
  static constexpr char kHex[] = "0123456789abcdef";
  std::uint64_t bits = engine();
  std::string id(16, '0');
  for (char& c : id) {
    c = kHex[bits & 0xF];
    bits >>= 4;
  }
  return id;
}

std::string request_id_for(std::optional<std::string_view> sent) {
  if (sent && acceptable_request_id(*sent)) return std::string(*sent);
  return new_request_id();
}

}  // namespace otpd::api
