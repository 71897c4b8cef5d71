// The v1 presenter: JSON in, commands to the service, JSON or problem+json out.
#include "api/v1_api.hpp"

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
  auto metadata = json::parse(v.metadata_json, ec);
  if (!ec) o["metadata"] = std::move(metadata);
}

// A verification as GET /v1/otp/{id} and a send answer show it: never the code.
json::object view(const core::Verification& v, core::TimePoint now) {
  json::object o;
  o["id"] = v.id.str();
  o["to"] = v.masked_to;
  o["channel"] = core::to_string(v.channel);
  o["status"] = core::to_string(v.effective_status(now));
  o["created_at"] = core::format_rfc3339(v.created_at);
  o["expires_at"] = core::format_rfc3339(v.expires_at);
  o["resend_at"] = core::format_rfc3339(v.resend_at);
  if (v.approved_at) o["approved_at"] = core::format_rfc3339(*v.approved_at);
  o["attempts_remaining"] = v.attempts_remaining();
  json::object delivery;
  delivery["status"] = core::to_string(v.delivery);
  o["delivery"] = std::move(delivery);
  if (!v.locale.empty()) o["locale"] = v.locale;
  add_metadata(o, v);
  return o;
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
  Response r = json_response(201, view(v, started.replayed ? v.created_at : clock_.now()));
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
  const core::Verification& v = outcome.value();
  json::object o;
  o["id"] = v.id.str();
  o["status"] = "approved";
  o["approved_at"] = core::format_rfc3339(v.approved_at.value_or(clock_.now()));
  add_metadata(o, v);
  co_return json_response(200, o);
}

Task<Response> V1Api::status(const Tenant& tenant, std::string id) {
  auto outcome = co_await service_.status(tenant, std::move(id));
  if (!outcome.ok()) co_return problem_response(outcome.problem());
  co_return json_response(200, view(outcome.value(), clock_.now()));
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
