// Placement: one byte a verification's id carries about where its recipient's data lives.
//
// A store that spreads recipients over partitions (the Redis store's slot groups) keeps a
// verification with its recipient, so a check by `to` goes straight to one partition. A
// check by id would first have to look the id up somewhere else, one round trip more on a
// Cluster. So a new id carries the placement byte of its recipient: a store can go to the
// right partition from the id alone. The byte is a hash of tenant and recipient hash (itself
// an HMAC), so it tells nothing about the recipient; the id's random bits stay at 128 or more
// besides it.
#pragma once

#include <cstdint>
#include <string_view>

#include "core/types.hpp"

namespace otpd::core {

// FNV-1a, 64 bits. Stable across versions and platforms: stored data is placed by it.
std::uint64_t fnv1a(std::string_view bytes);

// The placement byte of a recipient: the low byte of FNV-1a over tenant, a zero byte and the
// recipient hash.
std::uint8_t placement_of(const TenantId& tenant, const RecipientHash& recipient);

// Which ids carry the byte, and where: placement_in (verification.hpp), next to the id format.

}  // namespace otpd::core
