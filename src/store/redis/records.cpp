// The Redis store's values <-> bytes.
#include "store/redis/records.hpp"

#include <algorithm>
#include <cassert>

#include "store/redis/bytes.hpp"

namespace otpd::store::redis {
namespace {

using core::TimePoint;
using core::Verification;

// The first byte after the expiry: which layout follows, so a later version can read (or
// at least recognise) what an earlier one wrote.
constexpr std::uint8_t kRecordFormat = 1;
constexpr std::uint8_t kJobFormat = 1;
constexpr std::uint8_t kIdempotencyFormat = 1;
constexpr std::uint8_t kBucketFormat = 1;

// Enums are stored as their values: these pin them, so reordering one in core fails the
// build instead of misreading stored data.
static_assert(static_cast<int>(core::Status::kPending) == 0 &&
              static_cast<int>(core::Status::kApproved) == 1 &&
              static_cast<int>(core::Status::kCanceled) == 2 &&
              static_cast<int>(core::Status::kExpired) == 3 &&
              static_cast<int>(core::Status::kMaxAttemptsReached) == 4);
static_assert(static_cast<int>(core::DeliveryStatus::kQueued) == 0 &&
              static_cast<int>(core::DeliveryStatus::kSent) == 1 &&
              static_cast<int>(core::DeliveryStatus::kFailed) == 2);
static_assert(static_cast<int>(core::Alphabet::kDigits) == 0 &&
              static_cast<int>(core::Alphabet::kAlnum) == 1);
static_assert(static_cast<int>(core::ChannelKind::kConsole) == 0 &&
              static_cast<int>(core::ChannelKind::kEmail) == 1 &&
              static_cast<int>(core::ChannelKind::kSms) == 2 &&
              static_cast<int>(core::ChannelKind::kWebhook) == 3);

constexpr std::uint8_t kHasApprovedAt = 1;

boost::system::error_code corrupt() { return make_error(StoreErrc::kCorrupt); }

long long ms(TimePoint t) { return core::to_unix_ms(t); }
TimePoint at(long long unix_ms) { return core::from_unix_ms(unix_ms); }

// A packed hash or id (bytes.hpp): its tag says whether a fixed size or a length follows.
void write_packed(ByteWriter& w, const std::string& packed) {
  // A non-zero tag is a packed form, whose size the tag and the field tell (see bytes.hpp);
  // 0 is the text as given, written with its length.
  if (!packed.empty() && packed[0] != 0) {
    w.raw(packed);
  } else {
    w.byte(0);
    w.bytes(std::string_view(packed).substr(packed.empty() ? 0 : 1));
  }
}

// `packed_size(tag)`: the bytes after a packed form's tag, 0 for a tag the field never has.
template <typename SizeOfTag>
std::string read_packed(ByteReader& r, SizeOfTag packed_size) {
  const std::uint8_t tag = r.byte();
  if (tag == 0) return std::string(1, '\0') + r.bytes();
  const std::size_t size = packed_size(tag);
  if (size == 0) {
    r.fail();
    return {};
  }
  std::string out(1, static_cast<char>(tag));
  for (std::size_t i = 0; i < size; ++i) out += static_cast<char>(r.byte());
  return out;
}

void write_verification(ByteWriter& w, const Verification& v) {
  w.byte(static_cast<std::uint8_t>(static_cast<int>(v.status) | static_cast<int>(v.delivery) << 3 |
                                   static_cast<int>(v.alphabet) << 5 |
                                   static_cast<int>(v.channel) << 6));
  w.byte(v.approved_at ? kHasApprovedAt : 0);
  write_packed(w, pack_id(v.id.str()));
  w.bytes(v.masked_to);
  w.varint(static_cast<std::uint64_t>(std::max(0, v.code_length)));
  write_packed(w, pack_hex(v.code_hash));
  w.varint(static_cast<std::uint64_t>(std::max(0, v.attempts)));
  w.varint(static_cast<std::uint64_t>(std::max(0, v.max_attempts)));
  const long long created = ms(v.created_at);
  w.signed_varint(created);
  w.signed_varint(ms(v.expires_at) - created);
  w.signed_varint(ms(v.resend_at) - created);
  if (v.approved_at) w.signed_varint(ms(*v.approved_at) - created);
  w.signed_varint(ms(v.delete_after) - ms(v.expires_at));
  w.bytes(v.locale);
  w.bytes(v.metadata_json);
}

bool read_verification(ByteReader& r, Verification& v) {
  const std::uint8_t kinds = r.byte();
  const int status = kinds & 0x7;
  if (status > static_cast<int>(core::Status::kMaxAttemptsReached)) return false;
  const int delivery = (kinds >> 3) & 0x3;
  if (delivery > static_cast<int>(core::DeliveryStatus::kFailed)) return false;
  v.status = static_cast<core::Status>(status);
  v.delivery = static_cast<core::DeliveryStatus>(delivery);
  v.alphabet = static_cast<core::Alphabet>((kinds >> 5) & 0x1);
  v.channel = static_cast<core::ChannelKind>((kinds >> 6) & 0x3);
  const std::uint8_t flags = r.byte();
  v.id = core::VerificationId(unpack_id(read_packed(r, packed_id_size)));
  v.masked_to = r.bytes();
  v.code_length = static_cast<int>(r.varint());
  v.code_hash = unpack_hex(read_packed(r, packed_hex_size));
  v.attempts = static_cast<int>(r.varint());
  v.max_attempts = static_cast<int>(r.varint());
  const long long created = r.signed_varint();
  v.created_at = at(created);
  v.expires_at = at(created + r.signed_varint());
  v.resend_at = at(created + r.signed_varint());
  v.approved_at.reset();
  if (flags & kHasApprovedAt) v.approved_at = at(created + r.signed_varint());
  v.delete_after = at(ms(v.expires_at) + r.signed_varint());
  v.locale = r.bytes();
  v.metadata_json = r.bytes();
  return !r.failed();
}

}  // namespace

// ---- recipient records ---------------------------------------------------------------

TimePoint RecipientRecord::expires_at() const {
  TimePoint out{};
  for (const auto& v : verifications) out = std::max(out, v.delete_after);
  for (TimePoint f : failures) out = std::max(out, f + core::kFailureBudgetWindow);
  return out;
}

void RecipientRecord::prune(TimePoint now) {
  std::erase_if(verifications, [&](const Verification& v) { return v.delete_after <= now; });
  std::erase_if(failures, [&](TimePoint f) { return f + core::kFailureBudgetWindow <= now; });
}

Verification* RecipientRecord::find(const core::VerificationId& id) {
  for (auto& v : verifications) {
    if (v.id == id) return &v;
  }
  return nullptr;
}

const Verification* RecipientRecord::newest() const {
  // Of two started in the same millisecond, the one started later (appended later) wins.
  const Verification* best = nullptr;
  for (const auto& v : verifications) {
    if (best == nullptr || v.created_at >= best->created_at) best = &v;
  }
  return best;
}

core::WindowCount RecipientRecord::sends_in(TimePoint from, TimePoint to) const {
  core::WindowCount out;
  for (const auto& v : verifications) {
    if (v.created_at > from && v.created_at <= to) out.merge({1, v.created_at});
  }
  return out;
}

core::WindowCount RecipientRecord::failures_in(TimePoint now) const {
  core::WindowCount out;
  for (TimePoint f : failures) {
    if (f > now - core::kFailureBudgetWindow && f <= now) out.merge({1, f});
  }
  return out;
}

std::string encode_record(const RecipientRecord& record) {
  ByteWriter w;
  w.expiry(ms(record.expires_at()));
  w.byte(kRecordFormat);
  w.varint(record.verifications.size());
  for (const auto& v : record.verifications) write_verification(w, v);
  w.varint(record.failures.size());
  long long previous = 0;
  for (TimePoint f : record.failures) {
    w.signed_varint(ms(f) - previous);
    previous = ms(f);
  }
  return std::move(w).take();
}

store::Result<RecipientRecord> decode_record(std::string_view value, const core::TenantId& tenant,
                                             const core::RecipientHash& recipient) {
  ByteReader r(value);
  r.expiry();
  if (r.byte() != kRecordFormat) return corrupt();
  RecipientRecord record;
  const std::uint64_t n = r.varint();
  if (n > value.size()) return corrupt();
  record.verifications.resize(static_cast<std::size_t>(n));
  for (auto& v : record.verifications) {
    if (!read_verification(r, v)) return corrupt();
    v.tenant = tenant;
    v.recipient = recipient;
  }
  const std::uint64_t failures = r.varint();
  if (failures > value.size()) return corrupt();
  long long previous = 0;
  for (std::uint64_t i = 0; i < failures; ++i) {
    previous += r.signed_varint();
    record.failures.push_back(at(previous));
  }
  if (r.failed() || !r.at_end()) return corrupt();
  return record;
}

// ---- delivery jobs -------------------------------------------------------------------

std::string encode_job(const JobRecord& job) {
  ByteWriter w;
  w.expiry(ms(job.expires_at));
  w.byte(kJobFormat);
  w.byte(static_cast<std::uint8_t>(job.channel));
  w.varint(static_cast<std::uint64_t>(std::max(0, job.attempts)));
  w.signed_varint(ms(job.expires_at));  // the prefix is clamped; this is exact
  write_packed(w, pack_hex(job.recipient.str()));
  w.raw(job.sealed);
  return std::move(w).take();
}

store::Result<JobRecord> decode_job(std::string_view value) {
  ByteReader r(value);
  r.expiry();
  if (r.byte() != kJobFormat) return corrupt();
  JobRecord job;
  const std::uint8_t channel = r.byte();
  if (channel > static_cast<int>(core::ChannelKind::kWebhook)) return corrupt();
  job.channel = static_cast<core::ChannelKind>(channel);
  job.attempts = static_cast<int>(r.varint());
  job.expires_at = at(r.signed_varint());
  job.recipient = core::RecipientHash(unpack_hex(read_packed(r, packed_hex_size)));
  if (r.failed()) return corrupt();
  job.sealed = std::string(r.rest());
  return job;
}

// ---- the id index --------------------------------------------------------------------

std::string_view key_head(std::string_view key) {
  const auto close = key.find('}');
  return close == std::string_view::npos ? key : key.substr(0, close + 1);
}

std::string encode_index(std::string_view record_key, const core::RecipientHash& recipient,
                         TimePoint delete_after) {
  const std::string_view tail = record_key.substr(key_head(record_key).size());
  assert(tail.size() <= 255);  // "r4095", "g255r4095" at most
  ByteWriter w;
  w.expiry(ms(delete_after));
  w.byte(kIndexFormat);
  w.byte(static_cast<std::uint8_t>(tail.size()));
  w.raw(tail);
  w.raw(pack_hex(recipient.str()));
  return std::move(w).take();
}

store::Result<IndexEntry> decode_index(std::string_view value) {
  ByteReader r(value);
  r.expiry();
  if (r.byte() != kIndexFormat) return corrupt();
  const std::size_t tail_size = r.byte();
  if (r.failed()) return corrupt();
  const std::string_view rest = r.rest();
  if (rest.size() <= tail_size) return corrupt();
  IndexEntry entry;
  entry.key_tail = std::string(rest.substr(0, tail_size));
  entry.recipient = core::RecipientHash(unpack_hex(rest.substr(tail_size)));
  // The packed form must be exactly what packing gives back: nothing cut, nothing added.
  if (pack_hex(entry.recipient.str()) != rest.substr(tail_size)) return corrupt();
  return entry;
}

// ---- idempotency ---------------------------------------------------------------------

std::string encode_idempotency(const IdempotencyEntry& entry, TimePoint expires_at) {
  ByteWriter w;
  w.expiry(ms(expires_at));
  w.byte(kIdempotencyFormat);
  w.byte(entry.pending ? 1 : 0);
  w.bytes(entry.record.request_hash);
  w.signed_varint(ms(entry.record.keep_until));
  write_packed(w, pack_hex(entry.record.first.recipient.str()));
  write_verification(w, entry.record.first);
  return std::move(w).take();
}

store::Result<IdempotencyEntry> decode_idempotency(std::string_view value,
                                                   const core::TenantId& tenant) {
  ByteReader r(value);
  r.expiry();
  if (r.byte() != kIdempotencyFormat) return corrupt();
  IdempotencyEntry entry;
  entry.pending = r.byte() != 0;
  entry.record.request_hash = r.bytes();
  entry.record.keep_until = at(r.signed_varint());
  core::RecipientHash recipient(unpack_hex(read_packed(r, packed_hex_size)));
  if (!read_verification(r, entry.record.first) || !r.at_end()) return corrupt();
  entry.record.first.tenant = tenant;
  entry.record.first.recipient = std::move(recipient);
  return entry;
}

// ---- token buckets -------------------------------------------------------------------

std::string encode_bucket(const core::TakeDecision& taken) {
  ByteWriter w;
  w.expiry(ms(taken.full_at));
  w.byte(kBucketFormat);
  w.float64(taken.next.tokens);
  w.signed_varint(ms(taken.next.updated_at));
  return std::move(w).take();
}

store::Result<core::BucketState> decode_bucket(std::string_view value) {
  ByteReader r(value);
  r.expiry();
  if (r.byte() != kBucketFormat) return corrupt();
  core::BucketState state;
  state.tokens = r.float64();
  state.updated_at = at(r.signed_varint());
  if (r.failed() || !r.at_end()) return corrupt();
  return state;
}

}  // namespace otpd::store::redis
