// Redis Cluster key slots: CRC16 (XMODEM) of the key, or of its hash tag, modulo 16384,
// exactly as Redis' keyHashSlot computes it.
#pragma once

#include <cstdint>
#include <string_view>

namespace otpd::store::redis {

inline constexpr std::uint16_t kSlotCount = 16384;

// CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0), the checksum Cluster uses.
std::uint16_t crc16(std::string_view bytes);

// The hash tag rule: if the key has a '{' and a '}' after it with at least one byte in
// between, only the bytes between the first '{' and the first '}' after it are hashed
// ("{user1}.a" and "{user1}.b" share a slot; "{}x" and "x{}" hash whole).
std::string_view hash_tag(std::string_view key);

std::uint16_t key_slot(std::string_view key);

}  // namespace otpd::store::redis
