// The delivery queue's plaintext payload as compact JSON, and the aad that binds its sealed
// form to one verification.
#include "delivery/payload.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace otpd::delivery {

std::string encode_payload(const Payload& payload) {
  boost::json::object o;
  o["to"] = payload.to;
  o["code"] = payload.code;
  o["locale"] = payload.locale;
  return boost::json::serialize(o);
}

std::optional<Payload> decode_payload(const std::string& json) {
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(json, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.get_object();
  const auto* to = o.if_contains("to");
  const auto* code = o.if_contains("code");
  const auto* locale = o.if_contains("locale");
  // Without a recipient and a code there is nothing to deliver; the locale only picks the
  // wording, so a payload without one still goes out in the default language.
  if (to == nullptr || !to->is_string() || code == nullptr || !code->is_string()) {
    return std::nullopt;
  }
  if (locale != nullptr && !locale->is_string()) return std::nullopt;
  Payload p;
  p.to = std::string(to->get_string());
  p.code = std::string(code->get_string());
  if (locale != nullptr) p.locale = std::string(locale->get_string());
  return p;
}

std::string payload_aad(const std::string& tenant, const std::string& id) {
  // NUL separators: neither a tenant name nor an id can contain one, so no two
  // (tenant, id) pairs share an aad.
  std::string aad = "otpd delivery v1";
  aad.push_back('\0');
  aad += tenant;
  aad.push_back('\0');
  aad += id;
  return aad;
}

}  // namespace otpd::delivery
