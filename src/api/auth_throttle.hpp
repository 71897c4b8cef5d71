// Slows down guessing API keys: failed authentications per client address draw from a
// token bucket kept in this process; an address that runs dry is answered 429 until it
// refills. A valid key is never held back, whatever its address did.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/types.hpp"

namespace otpd::api {

class AuthThrottle {
 public:
  static constexpr double kRatePerSecond = 5;  // failures refilled per second per address
  static constexpr double kBurst = 20;
  static constexpr std::size_t kMaxAddresses = 10000;  // bound: the table never grows past it

  // Records a failed authentication from `address`; false when that address has failed
  // too often and should be told to slow down, with `retry_after` set. Thread-safe.
  bool allow_failure(const std::string& address, std::chrono::steady_clock::time_point now,
                     core::Seconds& retry_after);

 private:
  struct Bucket {
    double tokens = kBurst;
    std::chrono::steady_clock::time_point updated;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // GUARDED_BY(mu_)
};

}  // namespace otpd::api
