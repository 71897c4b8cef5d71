// KeySchema: key names and slot placement.
#include "store/redis/key_schema.hpp"

#include <cstdio>

#include "core/placement.hpp"
#include "core/verification.hpp"
#include "store/redis/bytes.hpp"

namespace otpd::store::redis {
namespace {

std::string hex32(std::uint64_t h) {
  char out[9];
  std::snprintf(out, sizeof out, "%08x", static_cast<unsigned>(h & 0xffffffffU));
  return out;
}

std::string joined(std::string_view a, std::string_view b) {
  std::string out(a);
  out += '\0';
  out.append(b);
  return out;
}

}  // namespace

KeySchema::KeySchema(std::string prefix, Layout layout)
    : prefix_(std::move(prefix)), layout_(layout) {}

std::string KeySchema::key(std::string_view tag, std::string_view rest) const {
  std::string out = prefix_;
  if (layout_ == Layout::kOneSlot) {
    out += "{o}";
    out += tag;
  } else {
    out += '{';
    out += tag;
    out += '}';
  }
  out.append(rest);
  return out;
}

int KeySchema::group_of(const core::TenantId& tenant, const core::RecipientHash& recipient) const {
  static_assert(kSpreadGroups == 256, "a group is a placement byte");
  return layout_ == Layout::kOneSlot ? 0 : core::placement_of(tenant, recipient);
}

KeySchema::Field KeySchema::record(const core::TenantId& tenant,
                                   const core::RecipientHash& recipient) const {
  // The group is the hash's low byte (placement_of); the bucket within it, the next bits.
  const std::uint64_t h = core::fnv1a(joined(tenant.str(), recipient.str()));
  const auto g = static_cast<std::uint64_t>(groups());
  const std::uint64_t buckets_per_group = kRecordBuckets / g;
  const auto bucket = (h / g) % buckets_per_group;
  return {key("g" + std::to_string(group_of(tenant, recipient)), "r" + std::to_string(bucket)),
          joined(tenant.str(), pack_hex(recipient.str()))};
}

std::string KeySchema::queue(int group) const { return key("g" + std::to_string(group), "q"); }

std::string KeySchema::jobs(int group) const { return key("g" + std::to_string(group), "j"); }

KeySchema::Field KeySchema::job(int group, const core::TenantId& tenant,
                                const core::VerificationId& id) const {
  return {jobs(group), member(tenant, id)};
}

KeySchema::Field KeySchema::index(const core::TenantId& tenant, const core::VerificationId& id,
                                  const core::RecipientHash& recipient) const {
  const auto named = group_named_by(id);
  if (layout_ == Layout::kSpread && named && *named == group_of(tenant, recipient)) {
    return index_in(*named, tenant, id);
  }
  return shared_index(tenant, id);
}

std::optional<int> KeySchema::group_named_by(const core::VerificationId& id) const {
  if (layout_ == Layout::kOneSlot) return 0;
  const auto placement = core::placement_in(id);
  if (!placement) return std::nullopt;
  return static_cast<int>(*placement);
}

std::optional<KeySchema::Field> KeySchema::group_index(const core::TenantId& tenant,
                                                       const core::VerificationId& id) const {
  if (layout_ == Layout::kOneSlot) return std::nullopt;
  const auto group = group_named_by(id);
  if (!group) return std::nullopt;
  return index_in(*group, tenant, id);
}

KeySchema::Field KeySchema::index_in(int group, const core::TenantId& tenant,
                                     const core::VerificationId& id) const {
  std::string field = member(tenant, id);
  const auto bucket = core::fnv1a(field) % (kIndexBuckets / kSpreadGroups);
  return {key("g" + std::to_string(group), "x" + std::to_string(bucket)), std::move(field)};
}

KeySchema::Field KeySchema::shared_index(const core::TenantId& tenant,
                                         const core::VerificationId& id) const {
  std::string field = member(tenant, id);
  const auto bucket = core::fnv1a(field) % kIndexBuckets;
  return {key("x" + std::to_string(bucket), ""), std::move(field)};
}

std::string KeySchema::idempotency(const core::TenantId& tenant, std::string_view key_name) const {
  const std::string rest = joined(tenant.str(), key_name);
  return key("i" + hex32(core::fnv1a(rest)), rest);
}

std::string KeySchema::bucket(std::string_view key_name) const {
  return key("b" + hex32(core::fnv1a(key_name)), key_name);
}

std::string KeySchema::counter(std::string_view key_name, const core::CounterWindow& window) const {
  std::string rest(key_name);
  rest += '\0';
  rest += std::to_string(window.start_ms);
  rest += '\0';
  rest += std::to_string(window.end_ms);
  return key("c" + hex32(core::fnv1a(key_name)), rest);
}

std::string KeySchema::schema() const { return key("o", "schema"); }

std::string KeySchema::member(const core::TenantId& tenant, const core::VerificationId& id) {
  return joined(tenant.str(), pack_id(id.str()));
}

bool KeySchema::parse_member(std::string_view member, core::TenantId& tenant,
                             core::VerificationId& id) {
  const auto zero = member.find('\0');
  if (zero == std::string_view::npos || zero + 1 >= member.size()) return false;
  tenant = core::TenantId(std::string(member.substr(0, zero)));
  id = core::VerificationId(unpack_id(member.substr(zero + 1)));
  return true;
}

}  // namespace otpd::store::redis
