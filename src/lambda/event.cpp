// The two API Gateway proxy payload formats, in both directions.
#include "lambda/event.hpp"

#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <stdexcept>
#include <utility>

#include "api/problem.hpp"
#include "api/request_id.hpp"
#include "core/crypto.hpp"
#include "lambda/encoding.hpp"
#include "net/url_text.hpp"

namespace otpd::lambda {

namespace json = boost::json;

namespace {

using Result = boost::system::result<DecodedEvent, EventError>;
// EventError is constructible from a string, so a string result is built in place.
using TextResult = boost::system::result<std::string, EventError>;
TextResult text(std::string value) { return {boost::system::in_place_value, std::move(value)}; }

bool is_token(std::string_view name) {
  constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return !name.empty() && std::all_of(name.begin(), name.end(), [&](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           kSymbols.find(c) != std::string_view::npos;
  });
}

bool is_field_value(std::string_view value) {
  return value.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// Framing belongs to API Gateway: a response cannot set these.
bool is_framing_field(std::string_view name) {
  return api::iequals(name, "Content-Length") || api::iequals(name, "Transfer-Encoding") ||
         api::iequals(name, "Connection") || api::iequals(name, "Keep-Alive");
}

// Field access that treats JSON null as absent, as API Gateway sends null for empty maps.
class Fields {
 public:
  Fields(const json::object& object, std::string prefix)
      : object_(object), prefix_(std::move(prefix)) {}

  const json::value* find(std::string_view key) const {
    const json::value* v = object_.if_contains(key);
    return v && !v->is_null() ? v : nullptr;
  }
  std::string name(std::string_view key) const { return prefix_ + std::string(key); }
  EventError error(std::string_view key, std::string_view problem) const {
    return EventError{name(key) + ": " + std::string(problem)};
  }

  // nullptr when absent; an error when present with another type.
  boost::system::result<const json::string*, EventError> string(std::string_view key) const {
    const json::value* v = find(key);
    if (!v) return static_cast<const json::string*>(nullptr);
    if (!v->is_string()) return error(key, "expected a string");
    return &v->get_string();
  }
  boost::system::result<const json::object*, EventError> object(std::string_view key) const {
    const json::value* v = find(key);
    if (!v) return static_cast<const json::object*>(nullptr);
    if (!v->is_object()) return error(key, "expected an object");
    return &v->get_object();
  }
  boost::system::result<bool, EventError> boolean(std::string_view key) const {
    const json::value* v = find(key);
    if (!v) return false;
    if (!v->is_bool()) return error(key, "expected true or false");
    return v->get_bool();
  }

 private:
  const json::object& object_;
  std::string prefix_;
};

std::string_view view(const json::string& s) { return {s.data(), s.size()}; }

TextResult required_string(const Fields& fields, std::string_view key) {
  auto s = fields.string(key);
  if (!s) return s.error();
  if (!*s) return fields.error(key, "missing");
  return text(std::string(view(**s)));
}

boost::system::result<void, EventError> add_header(api::Request& request, const Fields& where,
                                                   std::string_view name, std::string_view value) {
  if (!is_token(name)) return where.error(name, "not a valid header name");
  if (!is_field_value(value)) return where.error(name, "header value holds CR, LF or NUL");
  request.headers.emplace_back(std::string(name), std::string(value));
  return {};
}

// `headers`: one string per name (format 2.0 joins repeated headers with commas).
boost::system::result<void, EventError> single_value_headers(api::Request& request,
                                                             const json::object& headers,
                                                             const Fields& where) {
  for (const auto& [name, value] : headers) {
    if (!value.is_string()) return where.error(name, "expected a string");
    if (auto r = add_header(request, where, name, view(value.get_string())); !r) return r;
  }
  return {};
}

// `multiValueHeaders`: every value of a repeated header, in order.
boost::system::result<void, EventError> multi_value_headers(api::Request& request,
                                                            const json::object& headers,
                                                            const Fields& where) {
  for (const auto& [name, values] : headers) {
    if (!values.is_array()) return where.error(name, "expected an array of strings");
    for (const auto& value : values.get_array()) {
      if (!value.is_string()) return where.error(name, "expected an array of strings");
      if (auto r = add_header(request, where, name, view(value.get_string())); !r) return r;
    }
  }
  return {};
}

// Format 1.0 gives the query already decoded ('+' kept as it was sent): encoded again
// byte for byte, so the router decodes exactly what the client meant.
TextResult rebuild_query(const Fields& event) {
  std::string query;
  auto append = [&query](std::string_view key, std::string_view value) {
    if (!query.empty()) query.push_back('&');
    query += net::percent_encode(key);
    query.push_back('=');
    query += net::percent_encode(value);
  };
  auto multi = event.object("multiValueQueryStringParameters");
  if (!multi) return multi.error();
  if (*multi) {
    const Fields where(**multi, event.name("multiValueQueryStringParameters."));
    for (const auto& [key, values] : **multi) {
      if (!values.is_array()) return where.error(key, "expected an array of strings");
      for (const auto& value : values.get_array()) {
        if (!value.is_string()) return where.error(key, "expected an array of strings");
        append(key, view(value.get_string()));
      }
    }
    return text(std::move(query));
  }
  auto single = event.object("queryStringParameters");
  if (!single) return single.error();
  if (*single) {
    const Fields where(**single, event.name("queryStringParameters."));
    for (const auto& [key, value] : **single) {
      if (!value.is_string()) return where.error(key, "expected a string");
      append(key, view(value.get_string()));
    }
  }
  return text(std::move(query));
}

TextResult body_of(const Fields& event) {
  auto body = event.string("body");
  if (!body) return body.error();
  auto encoded = event.boolean("isBase64Encoded");
  if (!encoded) return encoded.error();
  if (!*body) return text("");
  if (!*encoded) return text(std::string(view(**body)));
  auto decoded = base64_decode(view(**body));
  if (!decoded) return event.error("body", "isBase64Encoded is true but the body is not base64");
  return text(std::move(*decoded));
}

// A named stage of an HTTP API prefixes rawPath with "/<stage>"; the $default stage does not.
std::string without_stage(std::string path, std::string_view stage) {
  if (stage.empty() || stage == "$default") return path;
  const std::string prefix = "/" + std::string(stage);
  if (path == prefix) return "/";
  if (path.starts_with(prefix + "/")) return path.substr(prefix.size());
  return path;
}

TextResult method_of(const Fields& fields, std::string_view key) {
  auto method = required_string(fields, key);
  if (!method) return method;
  if (!is_token(*method)) return fields.error(key, "not an HTTP method");
  return method;
}

Result decode_v2(const json::object& root, DecodedEvent event) {
  const Fields fields(root, "");
  auto context = fields.object("requestContext");
  if (!context) return context.error();
  if (!*context) return fields.error("requestContext", "missing");
  const Fields context_fields(**context, "requestContext.");
  auto http = context_fields.object("http");
  if (!http) return http.error();
  if (!*http) return context_fields.error("http", "missing");
  const Fields http_fields(**http, "requestContext.http.");

  auto method = method_of(http_fields, "method");
  if (!method) return method.error();
  auto raw_path = required_string(fields, "rawPath");
  if (!raw_path) return raw_path.error();
  auto stage = context_fields.string("stage");
  if (!stage) return stage.error();
  auto query = fields.string("rawQueryString");
  if (!query) return query.error();
  std::string target =
      path_as_target(without_stage(std::move(*raw_path), *stage ? view(**stage) : ""));
  if (*query && !(*query)->empty()) {
    const std::string_view raw = view(**query);
    // The query reaches the router as sent; only bytes no query may hold are escaped.
    if (raw.find_first_of(std::string_view("#\r\n\0 ", 5)) != std::string_view::npos) {
      return fields.error("rawQueryString", "holds a byte no query string can");
    }
    target += "?";
    target += raw;
  }
  event.request.method = std::move(*method);
  event.request.target = std::move(target);

  auto headers = fields.object("headers");
  if (!headers) return headers.error();
  auto cookies = fields.find("cookies");
  if (*headers) {
    const Fields where(**headers, "headers.");
    for (const auto& [name, value] : **headers) {
      // The cookies array replaces a cookie header: both would send every cookie twice.
      if (cookies && api::iequals(name, "cookie")) continue;
      if (!value.is_string()) return where.error(name, "expected a string");
      if (auto r = add_header(event.request, where, name, view(value.get_string())); !r) {
        return r.error();
      }
    }
  }
  if (cookies) {
    if (!cookies->is_array()) return fields.error("cookies", "expected an array of strings");
    std::string joined;
    for (const auto& cookie : cookies->get_array()) {
      if (!cookie.is_string()) return fields.error("cookies", "expected an array of strings");
      if (!joined.empty()) joined += "; ";
      joined += view(cookie.get_string());
    }
    if (!joined.empty()) {
      if (auto r = add_header(event.request, fields, "cookie", joined); !r) return r.error();
    }
  }
  auto source_ip = http_fields.string("sourceIp");
  if (!source_ip) return source_ip.error();
  if (*source_ip) event.request.remote_address = std::string(view(**source_ip));

  auto body = body_of(fields);
  if (!body) return body.error();
  event.request.body = std::move(*body);
  return event;
}

Result decode_v1(const json::object& root, DecodedEvent event) {
  const Fields fields(root, "");
  auto method = method_of(fields, "httpMethod");
  if (!method) return method.error();
  auto path = required_string(fields, "path");
  if (!path) return path.error();
  auto query = rebuild_query(fields);
  if (!query) return query.error();
  event.request.method = std::move(*method);
  event.request.target = path_as_target(*path);
  if (!query->empty()) event.request.target += "?" + *query;

  auto multi = fields.object("multiValueHeaders");
  if (!multi) return multi.error();
  if (*multi) {
    if (auto r = multi_value_headers(event.request, **multi, Fields(**multi, "multiValueHeaders."));
        !r) {
      return r.error();
    }
  } else {
    auto single = fields.object("headers");
    if (!single) return single.error();
    if (*single) {
      if (auto r = single_value_headers(event.request, **single, Fields(**single, "headers."));
          !r) {
        return r.error();
      }
    }
  }

  auto context = fields.object("requestContext");
  if (!context) return context.error();
  if (*context) {
    const Fields context_fields(**context, "requestContext.");
    auto identity = context_fields.object("identity");
    if (!identity) return identity.error();
    if (*identity) {
      auto source_ip = Fields(**identity, "requestContext.identity.").string("sourceIp");
      if (!source_ip) return source_ip.error();
      if (*source_ip) event.request.remote_address = std::string(view(**source_ip));
    }
  }

  auto body = body_of(fields);
  if (!body) return body.error();
  event.request.body = std::move(*body);
  return event;
}

// The size the request's header section would have on the wire, as the HTTP listener
// counts it against its limit.
std::size_t header_section_size(const api::Request& request) {
  std::size_t size = request.method.size() + 1 + request.target.size() + 1 + 8 + 2;
  for (const auto& [name, value] : request.headers) size += name.size() + 2 + value.size() + 2;
  return size + 2;
}

// Exactly one X-Request-Id, chosen by the rule every transport shares.
void settle_request_id(api::Request& request) {
  const std::string id = api::request_id_for(request.header(api::kRequestIdHeader));
  std::erase_if(request.headers,
                [](const auto& field) { return api::iequals(field.first, api::kRequestIdHeader); });
  request.headers.emplace_back(std::string(api::kRequestIdHeader), id);
}

void apply_limits(DecodedEvent& event, const EventLimits& limits) {
  std::optional<api::Response> refusal;
  if (header_section_size(event.request) > limits.header_limit) {
    refusal = api::problem_response(
        Errc::kHeadersTooLarge,
        "request headers exceed " + std::to_string(limits.header_limit) + " bytes");
  } else if (event.request.body.size() > limits.body_limit) {
    refusal = api::problem_response(
        Errc::kPayloadTooLarge,
        "request body exceeds " + std::to_string(limits.body_limit) + " bytes");
  }
  if (refusal) {
    refusal->set_header(std::string(api::kRequestIdHeader),
                        std::string(*event.request.header(api::kRequestIdHeader)));
    event.refusal = std::move(refusal);
  }
}

}  // namespace

void throw_exception_from_error(const EventError& error, const boost::source_location&) {
  throw std::invalid_argument(error.message);
}

boost::system::result<DecodedEvent, EventError> decode_event(std::string_view text,
                                                             const EventLimits& limits) {
  boost::system::error_code ec;
  const json::value root = json::parse(text, ec);
  if (ec) return EventError{"the event is not JSON: " + ec.message()};
  if (!root.is_object()) return EventError{"the event is not a JSON object"};
  const json::object& object = root.get_object();
  const Fields fields(object, "");

  DecodedEvent event;
  auto version = fields.string("version");
  if (!version) return version.error();
  Result decoded = EventError{};
  if (*version && **version == "2.0") {
    event.format = PayloadFormat::kHttpV2;
    decoded = decode_v2(object, std::move(event));
  } else if ((*version && **version == "1.0") || (!*version && fields.find("httpMethod"))) {
    event.format = PayloadFormat::kRestV1;
    decoded = decode_v1(object, std::move(event));
  } else if (*version) {
    return fields.error("version", "not an API Gateway payload format (1.0 or 2.0)");
  } else {
    return EventError{"not an API Gateway proxy event: no version and no httpMethod"};
  }
  if (!decoded) return decoded;
  settle_request_id(decoded->request);
  apply_limits(*decoded, limits);
  return decoded;
}

std::string encode_response(PayloadFormat format, api::Response response) {
  if (response.status < 200 || response.status > 599) {
    auto replacement = api::problem_response(Errc::kInternal, "the request could not be processed");
    if (auto id = response.header(api::kRequestIdHeader)) {
      replacement.set_header(std::string(api::kRequestIdHeader), std::string(*id));
    }
    response = std::move(replacement);
  }
  if (response.status == 204 || response.status == 304) response.body.clear();

  json::object out;
  out["statusCode"] = response.status;
  json::object headers;
  json::object multi;
  json::array cookies;
  for (const auto& [name, value] : response.headers) {
    if (!is_token(name) || !is_field_value(value) || is_framing_field(name)) continue;
    if (format == PayloadFormat::kHttpV2 && api::iequals(name, "Set-Cookie")) {
      cookies.emplace_back(value);
      continue;
    }
    if (format == PayloadFormat::kRestV1) {
      auto& values = multi[name];
      if (!values.is_array()) values.emplace_array();
      values.get_array().emplace_back(value);
      continue;
    }
    // Format 2.0 has one string per name: repeated fields are joined, as HTTP allows.
    if (auto* existing = headers.if_contains(name)) {
      std::string joined(view(existing->get_string()));
      joined += ", ";
      joined += value;
      *existing = joined;
    } else {
      headers[name] = value;
    }
  }
  if (format == PayloadFormat::kRestV1) {
    // In 1.0 `headers` holds the fields sent once; multiValueHeaders holds them all, and
    // API Gateway keeps only the multiValueHeaders copy of a field found in both.
    for (const auto& [name, values] : multi) {
      if (values.get_array().size() == 1) headers[name] = values.get_array().front();
    }
  }
  out["headers"] = std::move(headers);
  if (format == PayloadFormat::kRestV1) out["multiValueHeaders"] = std::move(multi);
  if (!cookies.empty()) out["cookies"] = std::move(cookies);
  const bool utf8 = is_utf8(response.body);
  out["body"] = utf8 ? response.body : core::base64_encode(response.body);
  out["isBase64Encoded"] = !utf8;
  return json::serialize(out);
}

}  // namespace otpd::lambda
