// Verification <-> compact JSON.
#include "store/record_codec.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace otpd::store {

namespace json = boost::json;

std::string encode_verification(const core::Verification& v) {
  json::object o;
  o["t"] = v.tenant.str();
  o["i"] = v.id.str();
  o["r"] = v.recipient.str();
  o["m"] = v.masked_to;
  o["ch"] = core::to_string(v.channel);
  o["al"] = core::to_string(v.alphabet);
  o["cl"] = v.code_length;
  o["h"] = v.code_hash;
  o["s"] = core::to_string(v.status);
  o["a"] = v.attempts;
  o["ma"] = v.max_attempts;
  o["c"] = core::to_unix_ms(v.created_at);
  o["e"] = core::to_unix_ms(v.expires_at);
  o["rs"] = core::to_unix_ms(v.resend_at);
  if (v.approved_at) o["ap"] = core::to_unix_ms(*v.approved_at);
  o["d"] = core::to_unix_ms(v.delete_after);
  o["dl"] = core::to_string(v.delivery);
  o["l"] = v.locale;
  o["md"] = v.metadata_json;
  return json::serialize(o);
}

Result<core::Verification> decode_verification(std::string_view text) {
  boost::system::error_code ec;
  json::value parsed = json::parse(text, ec);
  if (ec || !parsed.is_object()) return make_error(StoreErrc::kCorrupt);
  const json::object& o = parsed.as_object();
  bool ok = true;
  auto str = [&](const char* key) -> std::string {
    const json::value* v = o.if_contains(key);
    if (v == nullptr || !v->is_string()) {
      ok = false;
      return {};
    }
    return std::string(v->as_string());
  };
  auto num = [&](const char* key) -> long long {
    const json::value* v = o.if_contains(key);
    if (v == nullptr || !v->is_int64()) {
      ok = false;
      return 0;
    }
    return v->as_int64();
  };
  core::Verification v;
  v.tenant = core::TenantId(str("t"));
  v.id = core::VerificationId(str("i"));
  v.recipient = core::RecipientHash(str("r"));
  v.masked_to = str("m");
  ok = core::parse_channel(str("ch"), v.channel) && ok;
  ok = core::parse_alphabet(str("al"), v.alphabet) && ok;
  v.code_length = static_cast<int>(num("cl"));
  v.code_hash = str("h");
  ok = core::parse_status(str("s"), v.status) && ok;
  v.attempts = static_cast<int>(num("a"));
  v.max_attempts = static_cast<int>(num("ma"));
  v.created_at = core::from_unix_ms(num("c"));
  v.expires_at = core::from_unix_ms(num("e"));
  v.resend_at = core::from_unix_ms(num("rs"));
  if (o.contains("ap")) v.approved_at = core::from_unix_ms(num("ap"));
  v.delete_after = core::from_unix_ms(num("d"));
  ok = core::parse_delivery_status(str("dl"), v.delivery) && ok;
  v.locale = str("l");
  v.metadata_json = str("md");
  if (!ok) return make_error(StoreErrc::kCorrupt);
  return v;
}

}  // namespace otpd::store
