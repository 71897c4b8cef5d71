// Request parsing: Beast's grammar, and the framing decisions Beast 1.81 leaves open.
#include "http/request_parser.hpp"

#include <algorithm>
#include <limits>

#include "api/request_id.hpp"

namespace otpd::http {
namespace {

namespace bhttp = boost::beast::http;

class FramingCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "otpd.http.framing"; }
  std::string message(int value) const override {
    switch (static_cast<FramingErrc>(value)) {
      case FramingErrc::kBadTransferEncoding:
        return "Transfer-Encoding does not end in chunked, or comes with Content-Length";
      case FramingErrc::kUnsupportedTransferCoding:
        return "a transfer coding other than chunked";
      case FramingErrc::kChunkLineTooLong:
        return "chunk-size line or trailer section too long";
    }
    return "unknown framing error";
  }
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 9112 6.1 and 6.3 over every Transfer-Encoding field, in order. Only a bare "chunked",
// once and last, is a length Beast and this server agree on; a parameter on it ("chunked;x")
// would make Beast miss it, so it is refused too.
boost::system::error_code check_codings(const api::HeaderList& headers) {
  std::size_t chunked = 0;
  bool other = false;
  bool last_is_chunked = false;
  for (const auto& [name, value] : headers) {
    if (!api::iequals(name, "Transfer-Encoding")) continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      const std::size_t comma = rest.find(',');
      const std::string_view coding = trim(rest.substr(0, comma));
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      if (coding.empty()) continue;
      last_is_chunked = api::iequals(coding, "chunked");
      if (last_is_chunked) {
        ++chunked;
      } else {
        other = true;
      }
    }
  }
  if (!last_is_chunked || chunked != 1) return FramingErrc::kBadTransferEncoding;
  if (other) return FramingErrc::kUnsupportedTransferCoding;
  return {};
}

}  // namespace

const boost::system::error_category& framing_category() {
  static const FramingCategory category;
  return category;
}

boost::system::error_code make_error_code(FramingErrc e) {
  return {static_cast<int>(e), framing_category()};
}

RequestParser::RequestParser(std::size_t header_limit, std::size_t body_limit,
                             std::string remote_address)
    : max_body_(body_limit) {
  this->header_limit(static_cast<std::uint32_t>(
      std::min<std::size_t>(header_limit, std::numeric_limits<std::uint32_t>::max())));
  this->body_limit(body_limit);
  request_.remote_address = std::move(remote_address);
}

std::string RequestParser::answer_request_id() const {
  if (request_id_index_) return std::string(request_id());
  return api::new_request_id();
}

void RequestParser::on_request_impl(bhttp::verb method, View method_str, View target, int version,
                                    boost::system::error_code&) {
  request_.method.assign(method_str.data(), method_str.size());
  request_.target.assign(target.data(), target.size());
  version_ = version;
  // METHOD SP target SP HTTP/x.y CRLF: Beast accepts no other spacing.
  request_line_size_ = method_str.size() + 1 + target.size() + 1 + 8 + 2;
  head_ = method == bhttp::verb::head;
}

void RequestParser::on_field_impl(bhttp::field name, View name_string, View value,
                                  boost::system::error_code&) {
  // After the header, fields are trailers: bounded by the connection, then dropped, so a
  // trailer can never pose as a header the handler trusts (Authorization...).
  if (header_done_) return;
  // Most requests carry fewer fields than this: one allocation for the list.
  if (request_.headers.empty()) request_.headers.reserve(12);
  if (name == bhttp::field::content_length) has_content_length_ = true;
  if (name == bhttp::field::transfer_encoding) ++transfer_encodings_;
  if (name == bhttp::field::expect && api::iequals(value, "100-continue")) {
    expects_continue_ = true;
  }
  // The handler sees exactly one X-Request-Id, the one the response will carry, so its log
  // lines and the client's agree even when the server had to make one up.
  if (api::iequals(name_string, api::kRequestIdHeader)) {
    if (request_id_index_) return;
    request_id_index_ = request_.headers.size();
    request_.headers.emplace_back(std::string(name_string), api::request_id_for(value));
    return;
  }
  request_.headers.emplace_back(std::string(name_string), std::string(value));
}

void RequestParser::on_header_impl(boost::system::error_code& ec) {
  if (transfer_encodings_ > 0) {
    if (has_content_length_ || version_ < 11) {
      ec = FramingErrc::kBadTransferEncoding;
      return;
    }
    ec = check_codings(request_.headers);
    if (!ec && !chunked()) ec = FramingErrc::kBadTransferEncoding;
    if (ec) return;
  }
  expects_continue_ = expects_continue_ && version_ >= 11;
  if (!request_id_index_) {
    request_id_index_ = request_.headers.size();
    request_.headers.emplace_back(std::string(api::kRequestIdHeader), api::new_request_id());
  }
  header_done_ = true;
}

void RequestParser::on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                                      boost::system::error_code&) {
  if (content_length) {
    request_.body.reserve(
        static_cast<std::size_t>(std::min<std::uint64_t>(*content_length, max_body_)));
  }
}

std::size_t RequestParser::on_body_impl(View body, boost::system::error_code&) {
  request_.body.append(body.data(), body.size());
  return body.size();
}

void RequestParser::on_chunk_header_impl(std::uint64_t, View, boost::system::error_code&) {}

std::size_t RequestParser::on_chunk_body_impl(std::uint64_t, View body,
                                              boost::system::error_code&) {
  request_.body.append(body.data(), body.size());
  return body.size();
}

void RequestParser::on_finish_impl(boost::system::error_code&) {}

}  // namespace otpd::http
