// Readable renderings of otpd's JSON answers for the otp client.
#include "cli/render.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace otpd::cli {
namespace {

namespace json = boost::json;

std::optional<json::object> object_of(const std::string& body) {
  boost::system::error_code ec;
  auto value = json::parse(body, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return std::move(value.as_object());
}

std::string text_of(const json::object& o, const char* name, const char* fallback = "-") {
  const auto* v = o.if_contains(name);
  if (v == nullptr) return fallback;
  if (v->is_string()) return std::string(v->as_string());
  return json::serialize(*v);
}

std::string delivery_of(const json::object& o) {
  const auto* d = o.if_contains("delivery");
  if (d == nullptr || !d->is_object()) return "-";
  return text_of(d->as_object(), "status");
}

std::string header_of(const net::HttpResponse& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key.size() == name.size() &&
        std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return value;
    }
  }
  return "";
}

void print_send(const json::object& o, std::ostream& out) {
  out << "Sent a code to " << text_of(o, "to") << " by " << text_of(o, "channel") << ".\n"
      << "  id:          " << text_of(o, "id") << "\n"
      << "  expires at:  " << text_of(o, "expires_at") << "\n"
      << "  resend at:   " << text_of(o, "resend_at") << "\n"
      << "  delivery:    " << delivery_of(o) << "\n";
}

void print_verify(const json::object& o, std::ostream& out) {
  out << "Approved: " << text_of(o, "id") << " at " << text_of(o, "approved_at") << ".\n";
}

void print_status(const json::object& o, std::ostream& out) {
  out << text_of(o, "id") << ": " << text_of(o, "status") << "\n"
      << "  to:                 " << text_of(o, "to") << "\n"
      << "  channel:            " << text_of(o, "channel") << "\n"
      << "  attempts remaining: " << text_of(o, "attempts_remaining") << "\n"
      << "  created at:         " << text_of(o, "created_at") << "\n"
      << "  expires at:         " << text_of(o, "expires_at") << "\n"
      << "  delivery:           " << delivery_of(o) << "\n";
  if (o.contains("approved_at")) {
    out << "  approved at:        " << text_of(o, "approved_at") << "\n";
  }
  if (const auto* m = o.if_contains("metadata"); m != nullptr && !m->is_null()) {
    out << "  metadata:           " << json::serialize(*m) << "\n";
  }
}

}  // namespace

std::optional<std::string> string_member(const std::string& body, const char* name) {
  auto o = object_of(body);
  if (!o) return std::nullopt;
  const auto* v = o->if_contains(name);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string(v->as_string());
}

std::optional<long long> integer_member(const std::string& body, const char* name) {
  auto o = object_of(body);
  if (!o) return std::nullopt;
  const auto* v = o->if_contains(name);
  if (v == nullptr || !v->is_int64()) return std::nullopt;
  return v->as_int64();
}

void print_network_error(const net::HttpResponse& response, const std::string& url,
                         std::ostream& err) {
  err << "otp: cannot reach otpd at " << url << ": " << response.error
      << " (set --url or OTPD_URL)\n";
}

void print_problem(const net::HttpResponse& response, std::ostream& err) {
  const auto o = object_of(response.body);
  if (!o) {
    err << "otp: otpd answered HTTP " << response.status;
    if (!response.body.empty()) err << ": " << response.body;
    err << (response.body.ends_with('\n') ? "" : "\n");
    return;
  }
  const auto detail = text_of(*o, "detail", "");
  err << "otp: " << (detail.empty() ? text_of(*o, "title") : detail) << " ("
      << text_of(*o, "code", "error") << ", HTTP " << response.status << ")\n";
  if (o->contains("attempts_remaining")) {
    err << "  attempts remaining: " << text_of(*o, "attempts_remaining") << "\n";
  }
  if (const auto retry = header_of(response, "Retry-After"); !retry.empty()) {
    err << "  retry after:        " << retry << " s\n";
  }
  if (const auto* errors = o->if_contains("errors"); errors != nullptr && errors->is_array()) {
    for (const auto& e : errors->as_array()) {
      if (!e.is_object()) continue;
      const auto line = text_of(e.as_object(), "field") + ": " + text_of(e.as_object(), "message");
      if (line != detail) err << "  " << line << "\n";
    }
  }
}

int print_response(Command command, const net::HttpResponse& response, bool json,
                   const std::string& url, std::ostream& out, std::ostream& err) {
  if (!response.error.empty()) {
    print_network_error(response, url, err);
    return kExitUsage;
  }
  const bool ok = response.status >= 200 && response.status < 300;
  if (json) {
    out << response.body << (response.body.ends_with('\n') ? "" : "\n");
    return ok ? kExitOk : kExitRefused;
  }
  if (!ok) {
    print_problem(response, err);
    return kExitRefused;
  }
  const auto o = object_of(response.body);
  if (!o) {
    out << response.body << (response.body.ends_with('\n') ? "" : "\n");
    return kExitOk;
  }
  switch (command) {
    case Command::kSend:
      print_send(*o, out);
      break;
    case Command::kVerify:
      print_verify(*o, out);
      break;
    case Command::kStatus:
      print_status(*o, out);
      break;
  }
  return kExitOk;
}

}  // namespace otpd::cli
