// The compact binary the Redis store keeps its values in: varints, big-endian expiry
// prefixes and packed forms of the identifiers otpd makes (hex hashes, base64url ids), so a
// pending verification costs a few hundred bytes of Redis memory rather than a kilobyte.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace otpd::store::redis {

// Every stored value except counters starts with its expiry: 6 bytes, big-endian Unix
// milliseconds (enough until the year 10889). The Lua scripts read it (expiry_ms in
// scripts.cpp) to drop records of a bucket that have lapsed, so its layout is fixed.
inline constexpr std::size_t kExpiryBytes = 6;

class ByteWriter {
 public:
  void expiry(long long unix_ms);  // the 6-byte prefix; clamped to [0, 2^48)
  void byte(std::uint8_t b) { out_.push_back(static_cast<char>(b)); }
  void varint(std::uint64_t v);
  void signed_varint(long long v);  // zigzag, so small negative deltas stay short
  void bytes(std::string_view b);   // length-prefixed
  void raw(std::string_view b) { out_.append(b); }
  void float64(double v);  // 8 bytes, the exact bits

  std::string take() && { return std::move(out_); }
  const std::string& str() const { return out_; }

 private:
  std::string out_;
};

// Reads what ByteWriter wrote; a read past the end (or a malformed varint) sets failed()
// and returns zeros, so a decoder checks once at the end.
class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}

  long long expiry();
  std::uint8_t byte();
  std::uint64_t varint();
  long long signed_varint();
  std::string bytes();
  std::string_view rest();  // everything left
  double float64();

  bool failed() const { return failed_; }
  bool at_end() const { return pos_ == in_.size(); }
  // For a decoder that meets a value it cannot read: failed() from now on.
  void fail() { failed_ = true; }

 private:
  std::string_view take(std::size_t n);

  std::string_view in_;
  std::size_t pos_ = 0;
  bool failed_ = false;
};

// The expiry prefix of a stored value; nullopt when it is too short to have one.
std::optional<long long> expiry_of(std::string_view value);

// A hash otpd makes (recipient hash, code hash) is 64 lowercase hex digits: 32 bytes when
// packed. Anything else is kept as given. The first byte says which, so the two forms of
// different strings never collide.
std::string pack_hex(std::string_view text);
std::string unpack_hex(std::string_view packed);

// A verification id otpd makes is "v_" and 32 sortable base64url characters (time, placement
// byte and random bits): 24 bytes when packed. So are the earlier "v_" and 24 sortable
// characters (18 bytes), "v_" and 22 base64url characters (16 bytes), and the Twilio form
// "VE" and 32 hex digits (16 bytes); anything else is kept as given, with the same tagging
// as pack_hex.
std::string pack_id(std::string_view id);
std::string unpack_id(std::string_view packed);
// How many bytes follow the tag of a packed form (tag 0, text as given, has a length
// instead): 0 for a tag that form never has.
std::size_t packed_hex_size(std::uint8_t tag);
std::size_t packed_id_size(std::uint8_t tag);

}  // namespace otpd::store::redis
