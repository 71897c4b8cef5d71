// Placement: the recipient's placement byte.
#include "core/placement.hpp"

#include <string>

namespace otpd::core {

std::uint64_t fnv1a(std::string_view bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::uint8_t placement_of(const TenantId& tenant, const RecipientHash& recipient) {
  std::string joined = tenant.str();
  joined += '\0';
  joined += recipient.str();
  return static_cast<std::uint8_t>(fnv1a(joined) & 0xff);
}

}  // namespace otpd::core
