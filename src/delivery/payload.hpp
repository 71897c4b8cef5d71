// What the delivery queue carries for one verification, before sealing: the only place
// the plaintext recipient and code exist after the send request has been answered.
#pragma once

#include <optional>
#include <string>

namespace otpd::delivery {

struct Payload {
  std::string to;    // normalised recipient
  std::string code;  // as generated
  std::string locale;
};

std::string encode_payload(const Payload& payload);  // compact JSON
std::optional<Payload> decode_payload(const std::string& json);

// The additional authenticated data that binds a sealed payload to its verification.
std::string payload_aad(const std::string& tenant, const std::string& id);

}  // namespace otpd::delivery
