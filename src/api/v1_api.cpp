// The v1 presenter: JSON in, commands to the service, JSON or problem+json out.
#include "api/v1_api.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "api/json_input.hpp"
#include "core/crypto.hpp"
#include "core/time_format.hpp"

namespace otpd::api {

namespace json = boost::json;

namespace {

Response json_response(int status, const json::object& body) {
  Response r;
  r.status = status;
  r.set_header("Content-Type", "application/json");
  r.body = json::serialize(body);
  return r;
}

void add_metadata(json::object& o, const core::Verification& v) {
  if (v.metadata_json.empty()) return;
  boost::system::error_code ec;
  auto metadata = json::parse(v.metadata_json, ec, o.storage());
  if (!ec) o["metadata"] = std::move(metadata);
}

// Where a verification's view is built: a block on the stack (of view_response or
// approved_response) that the object, its members and their strings are carved from, all
// released at once.
// Built on the heap, the view cost about 22 allocations per status request. A larger
// view (big metadata) goes on in heap blocks, still released at once.
class ViewArena {
 public:
  json::storage_ptr storage() { return &resource_; }

 private:
  unsigned char block_[2048];
  json::monotonic_resource resource_{block_, sizeof block_};
};

// A verification as GET /v1/otp/{id} and a send answer show it: never the code.
json::object view(const core::Verification& v, core::TimePoint now, ViewArena& arena) {
  json::object o(arena.storage());
  o.reserve(12);
  o["id"] = v.id.str();
  o["to"] = v.masked_to;
  o["channel"] = core::to_string(v.channel);
  o["status"] = core::to_string(v.effective_status(now));
  o["created_at"] = core::Rfc3339(v.created_at).view();
  o["expires_at"] = core::Rfc3339(v.expires_at).view();
  o["resend_at"] = core::Rfc3339(v.resend_at).view();
  if (v.approved_at) o["approved_at"] = core::Rfc3339(*v.approved_at).view();
  o["attempts_remaining"] = v.attempts_remaining();
  json::object delivery(o.storage());
  delivery["status"] = core::to_string(v.delivery);
  o["delivery"] = std::move(delivery);
  if (!v.locale.empty()) o["locale"] = v.locale;
  add_metadata(o, v);
  return o;
}

// The arena lives on this function's stack, not in a coroutine's frame: Asio reuses a
// frame only up to about 1 KiB, so a frame holding the arena would be allocated afresh on
// every request.
Response view_response(int status, const core::Verification& v, core::TimePoint now) {
  ViewArena arena;
  return json_response(status, view(v, now, arena));
}

Response approved_response(const core::Verification& v, core::TimePoint now) {
  ViewArena arena;
  json::object o(arena.storage());
  o.reserve(4);
  o["id"] = v.id.str();
  o["status"] = "approved";
  o["approved_at"] = core::Rfc3339(v.approved_at.value_or(now)).view();
  add_metadata(o, v);
  return json_response(200, o);
}

}  // namespace

Task<Response> V1Api::send(const Tenant& tenant, const Request& request) {
  auto body = read_json_object(request);
  if (!body.ok()) co_return problem_response(body.problem());

  SendCommand command;
  bool have_to = false;
  for (const auto& [key, value] : body.value()) {
    if (key == "to") {
      have_to = true;
      if (value.is_string()) {
        command.to = value.as_string();
      } else {
        command.errors.add("to", "must be a string");
      }
    } else if (key == "channel") {
      core::ChannelKind kind;
      if (value.is_string() && core::parse_channel(value.as_string(), kind)) {
        command.channel = kind;
      } else {
        command.errors.add("channel", "must be one of email, sms, webhook, console");
      }
    } else if (key == "locale") {
      if (value.is_string() && !value.as_string().empty()) {
        command.locale = value.as_string();
      } else {
        command.errors.add("locale", "must be a language tag such as \"de\" or \"pt-BR\"");
      }
    } else if (key == "code_length") {
      command.code_length = as_int(value);
      if (!command.code_length)
        command.errors.add("code_length", "must be an integer from 4 to 10");
    } else if (key == "ttl_seconds") {
      command.ttl_seconds = as_int(value);
      if (!command.ttl_seconds)
        command.errors.add("ttl_seconds", "must be an integer from 30 to 3600");
    } else if (key == "metadata") {
      if (value.is_object()) {
        command.metadata_json = json::serialize(value);
      } else {
        command.errors.add("metadata", "must be a JSON object");
      }
    } else {
      command.errors.add(std::string(key), "unknown field");
    }
  }
  if (!have_to) command.errors.add("to", "is required");
  if (auto key = request.header("Idempotency-Key")) {
    command.idempotency_key = std::string(*key);
    command.request_hash = core::hex_encode(core::sha256(canonical_json(body.value())));
  }

  auto outcome = co_await service_.send(tenant, std::move(command));
  if (!outcome.ok()) co_return problem_response(outcome.problem());
  const Started& started = outcome.value();
  const core::Verification& v = started.verification;
  // A replay answers exactly as the first request was answered.
  Response r = view_response(201, v, started.replayed ? v.created_at : clock_.now());
  r.set_header("Location", "/v1/otp/" + v.id.str());
  if (started.replayed) r.set_header("Idempotent-Replayed", "true");
  co_return r;
}

Task<Response> V1Api::verify(const Tenant& tenant, const Request& request) {
  auto body = read_json_object(request);
  if (!body.ok()) co_return problem_response(body.problem());

  VerifyCommand command;
  bool have_code = false;
  for (const auto& [key, value] : body.value()) {
    std::optional<std::string>* slot = key == "id"   ? &command.id
                                       : key == "to" ? &command.to
                                                     : nullptr;
    if (key != "id" && key != "to" && key != "code") {
      command.errors.add(std::string(key), "unknown field");
    } else if (!value.is_string()) {
      command.errors.add(std::string(key), "must be a string");
      if (slot) *slot = "";
      if (key == "code") {
        have_code = true;
        command.code = "";
      }
    } else if (key == "code") {
      have_code = true;
      command.code = value.as_string();
    } else {
      *slot = std::string(value.as_string());
    }
  }
  if (!have_code) command.errors.add("code", "is required");

  auto outcome = co_await service_.verify(tenant, std::move(command));
  if (!outcome.ok()) co_return problem_response(outcome.problem());
  co_return approved_response(outcome.value(), clock_.now());
}

Task<Response> V1Api::status(const Tenant& tenant, std::string id) {
  auto outcome = co_await service_.status(tenant, std::move(id));
  if (!outcome.ok()) co_return problem_response(outcome.problem());
  co_return view_response(200, outcome.value(), clock_.now());
}

Task<Response> V1Api::cancel(const Tenant& tenant, std::string id) {
  auto outcome = co_await service_.cancel(tenant, std::move(id));
  if (!outcome.ok()) co_return problem_response(outcome.problem());
  json::object o;
  o["id"] = outcome.value().id.str();
  o["status"] = "canceled";
  co_return json_response(200, o);
}

}  // namespace otpd::api
