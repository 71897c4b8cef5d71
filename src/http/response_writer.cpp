// Response heads, written by hand rather than through Beast's serializer: one append per part
// into a reused buffer instead of a fields container built and allocated per response.
#include "http/response_writer.hpp"

#include <algorithm>
#include <boost/beast/http/status.hpp>
#include <charconv>
#include <string_view>

#include "api/problem.hpp"
#include "api/request_id.hpp"

namespace otpd::http {
namespace {

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

bool is_framing_field(std::string_view name) {
  return api::iequals(name, "Content-Length") || api::iequals(name, "Transfer-Encoding") ||
         api::iequals(name, "Connection") || api::iequals(name, "Keep-Alive");
}

std::string_view reason(int status) {
  namespace bhttp = boost::beast::http;
  const std::string_view phrase =
      bhttp::obsolete_reason(bhttp::int_to_status(static_cast<unsigned>(status)));
  return phrase.empty() || phrase.front() == '<' ? api::reason_phrase(status) : phrase;
}

void append_number(std::size_t value, std::string& out) {
  char digits[24];
  const auto end = std::to_chars(digits, digits + sizeof digits, value).ptr;
  out.append(digits, end);
}

}  // namespace

void write_head(api::Response& response, int version, bool keep_alive, std::string& out) {
  if (response.status < 200 || response.status > 599) {
    auto replacement = api::problem_response(Errc::kInternal, "the request could not be processed");
    if (auto id = response.header(api::kRequestIdHeader)) {
      replacement.set_header(std::string(api::kRequestIdHeader), std::string(*id));
    }
    response = std::move(replacement);
  }
  const bool bodiless = response.status == 204 || response.status == 304;
  if (bodiless) response.body.clear();

  out.clear();
  out += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  append_number(static_cast<std::size_t>(response.status), out);
  out += ' ';
  out += reason(response.status);
  out += "\r\n";
  for (const auto& [name, value] : response.headers) {
    if (!is_token(name) || !is_field_value(value) || is_framing_field(name)) continue;
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  if (!bodiless) {
    out += "Content-Length: ";
    append_number(response.body.size(), out);
    out += "\r\n";
  }
  if (!keep_alive) {
    out += "Connection: close\r\n";
  } else if (version == 10) {
    out += "Connection: keep-alive\r\n";
  }
  out += "\r\n";
}

}  // namespace otpd::http
