// ByteWriter, ByteReader and the packed identifier forms.
#include "store/redis/bytes.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <utility>

#include "core/crypto.hpp"

namespace otpd::store::redis {
namespace {

constexpr std::uint8_t kAsGiven = 0;
constexpr std::uint8_t kPacked = 1;
constexpr std::uint8_t kPackedTwilio = 2;  // "VE" and 32 lower-case hex digits, as 16 bytes
constexpr std::uint8_t kPackedTimed = 3;   // "v_" and 24 sortable base64url digits, as 18 bytes
constexpr std::size_t kTimedIdBytes = 18;
constexpr std::uint8_t kPackedPlaced = 4;  // "v_" and 32 sortable base64url digits, as 24 bytes
constexpr std::size_t kPlacedIdBytes = 24;
constexpr long long kMaxExpiry = (1LL << 48) - 1;

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr char kBase64Url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper case is not what otpd writes: kept as given, so it round-trips
}

int base64url_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

std::string as_given(std::string_view text) {
  std::string out(1, static_cast<char>(kAsGiven));
  out.append(text);
  return out;
}

std::string base64url_16(const unsigned char* bytes) {
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (int i = 0; i < 16; ++i) {
    acc = (acc << 8) | bytes[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += kBase64Url[(acc >> bits) & 0x3f];
    }
  }
  out += kBase64Url[(acc << (6 - bits)) & 0x3f];  // 128 = 21 * 6 + 2: two bits left over
  return out;
}

}  // namespace

void ByteWriter::expiry(long long unix_ms) {
  const auto v = static_cast<std::uint64_t>(std::clamp(unix_ms, 0LL, kMaxExpiry));
  for (int shift = 40; shift >= 0; shift -= 8) byte(static_cast<std::uint8_t>(v >> shift));
}

void ByteWriter::varint(std::uint64_t v) {
  while (v >= 0x80) {
    byte(static_cast<std::uint8_t>(v | 0x80));
    v >>= 7;
  }
  byte(static_cast<std::uint8_t>(v));
}

void ByteWriter::signed_varint(long long v) {
  const auto u = static_cast<std::uint64_t>(v);
  varint((u << 1) ^ static_cast<std::uint64_t>(v >> 63));
}

void ByteWriter::bytes(std::string_view b) {
  varint(b.size());
  out_.append(b);
}

void ByteWriter::float64(double v) {
  const auto bits = std::bit_cast<std::uint64_t>(v);
  for (int shift = 56; shift >= 0; shift -= 8) byte(static_cast<std::uint8_t>(bits >> shift));
}

std::string_view ByteReader::take(std::size_t n) {
  if (failed_ || in_.size() - pos_ < n) {
    failed_ = true;
    return {};
  }
  auto out = in_.substr(pos_, n);
  pos_ += n;
  return out;
}

long long ByteReader::expiry() {
  long long v = 0;
  for (char c : take(kExpiryBytes)) v = (v << 8) | static_cast<unsigned char>(c);
  return v;
}

std::uint8_t ByteReader::byte() {
  auto b = take(1);
  return b.empty() ? 0 : static_cast<std::uint8_t>(b[0]);
}

std::uint64_t ByteReader::varint() {
  std::uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    auto b = take(1);
    if (b.empty()) return 0;
    const auto c = static_cast<unsigned char>(b[0]);
    v |= static_cast<std::uint64_t>(c & 0x7f) << shift;
    if ((c & 0x80) == 0) return v;
  }
  failed_ = true;
  return 0;
}

long long ByteReader::signed_varint() {
  const std::uint64_t u = varint();
  return static_cast<long long>((u >> 1) ^ (~(u & 1) + 1));
}

std::string ByteReader::bytes() {
  const std::uint64_t n = varint();
  if (n > in_.size()) {
    failed_ = true;
    return {};
  }
  return std::string(take(static_cast<std::size_t>(n)));
}

std::string_view ByteReader::rest() { return take(in_.size() - std::min(pos_, in_.size())); }

double ByteReader::float64() {
  std::uint64_t bits = 0;
  for (char c : take(8)) bits = (bits << 8) | static_cast<unsigned char>(c);
  return std::bit_cast<double>(bits);
}

std::optional<long long> expiry_of(std::string_view value) {
  if (value.size() < kExpiryBytes) return std::nullopt;
  ByteReader reader(value);
  return reader.expiry();
}

std::string pack_hex(std::string_view text) {
  if (text.size() != 64) return as_given(text);
  std::string out(1, static_cast<char>(kPacked));
  for (std::size_t i = 0; i < 64; i += 2) {
    const int hi = hex_value(text[i]);
    const int lo = hex_value(text[i + 1]);
    if (hi < 0 || lo < 0) return as_given(text);
    out += static_cast<char>(hi << 4 | lo);
  }
  return out;
}

std::string unpack_hex(std::string_view packed) {
  if (packed.empty()) return {};
  const auto tag = static_cast<std::uint8_t>(packed[0]);
  packed.remove_prefix(1);
  if (tag != kPacked) return std::string(packed);
  std::string out;
  out.reserve(packed.size() * 2);
  for (char c : packed) {
    out += kHexDigits[static_cast<unsigned char>(c) >> 4];
    out += kHexDigits[static_cast<unsigned char>(c) & 0xf];
  }
  return out;
}

std::string pack_id(std::string_view id) {
  if (id.size() == 34 && id.starts_with("VE")) {
    std::string out(1, static_cast<char>(kPackedTwilio));
    for (std::size_t i = 2; i < id.size(); i += 2) {
      const int hi = hex_value(id[i]);
      const int lo = hex_value(id[i + 1]);
      if (hi < 0 || lo < 0) return as_given(id);
      out += static_cast<char>(hi << 4 | lo);
    }
    return out;
  }
  for (const auto& [tag, size] :
       {std::pair{kPackedPlaced, kPlacedIdBytes}, std::pair{kPackedTimed, kTimedIdBytes}}) {
    if (id.size() != 2 + size / 3 * 4 || !id.starts_with("v_")) continue;
    // Whole groups of 3 bytes are exactly 4 digits each: every spelling is canonical.
    const auto bytes = core::sortable_base64url_decode(id.substr(2));
    if (!bytes) return as_given(id);
    return static_cast<char>(tag) + *bytes;
  }
  if (id.size() != 24 || !id.starts_with("v_")) return as_given(id);
  std::array<unsigned char, 16> bytes{};
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t n = 0;
  for (char c : id.substr(2)) {
    const int v = base64url_value(c);
    if (v < 0) return as_given(id);
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8 && n < bytes.size()) {
      bits -= 8;
      bytes[n++] = static_cast<unsigned char>(acc >> bits);
    }
  }
  // Only the canonical spelling is packed (the last character's four spare bits zero), so
  // unpacking gives back exactly the id that was stored.
  if (base64url_16(bytes.data()) != id.substr(2)) return as_given(id);
  std::string out(1, static_cast<char>(kPacked));
  out.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  return out;
}

std::string unpack_id(std::string_view packed) {
  if (packed.empty()) return {};
  const auto tag = static_cast<std::uint8_t>(packed[0]);
  packed.remove_prefix(1);
  if (tag == kPackedTwilio && packed.size() == 16) {
    std::string out = "VE";
    for (char c : packed) {
      out += kHexDigits[static_cast<unsigned char>(c) >> 4];
      out += kHexDigits[static_cast<unsigned char>(c) & 0xf];
    }
    return out;
  }
  if ((tag == kPackedTimed && packed.size() == kTimedIdBytes) ||
      (tag == kPackedPlaced && packed.size() == kPlacedIdBytes)) {
    return "v_" + core::sortable_base64url_encode(packed);
  }
  if (tag != kPacked || packed.size() != 16) return std::string(packed);
  return "v_" + base64url_16(reinterpret_cast<const unsigned char*>(packed.data()));
}

std::size_t packed_hex_size(std::uint8_t tag) { return tag == kPacked ? 32 : 0; }

std::size_t packed_id_size(std::uint8_t tag) {
  switch (tag) {
    case kPacked:
    case kPackedTwilio:
      return 16;
    case kPackedTimed:
      return kTimedIdBytes;
    case kPackedPlaced:
      return kPlacedIdBytes;
    default:
      return 0;
  }
}

}  // namespace otpd::store::redis
