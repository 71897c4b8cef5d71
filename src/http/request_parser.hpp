// One HTTP/1.1 request parsed straight into an api::Request: Beast's parser for the syntax,
// otpd's framing rules (RFC 9112 section 6) and the X-Request-Id rule on top.
#pragma once

#include <boost/beast/http/basic_parser.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/message.hpp"

namespace otpd::http {

// Requests this server refuses although Beast accepts them.
enum class FramingErrc {
  // Transfer-Encoding whose final coding is not chunked, chunked applied twice, or sent
  // together with Content-Length, or in HTTP/1.0: the body's length cannot be trusted, and
  // reading on would let the body run as a second request (RFC 9112 6.3). 400, then close.
  kBadTransferEncoding = 1,
  // A transfer coding other than chunked under a final chunked (e.g. "gzip, chunked"): the
  // framing is sound but nothing here can decode it. 501 (RFC 9112 6.1), then close.
  kUnsupportedTransferCoding,
  // A chunk-size line (with its extensions) or the trailer section longer than
  // kChunkLineLimit: Beast buffers either whole, without a limit. 400, then close.
  kChunkLineTooLong,
};
const boost::system::error_category& framing_category();
boost::system::error_code make_error_code(FramingErrc e);

// A parser for one request: make a new one for each request on a connection (Beast's parser
// cannot be reset). Beast hands over the start line and the fields as views into the bytes
// given to put(), and may consume them before the header is complete, so each is copied into
// the api::Request at once (the copies the request needs anyway). Trailer fields are read
// (and bounded by the connection) but never reach the request.
class RequestParser final : public boost::beast::http::basic_parser<true> {
 public:
  // The longest chunk-size line or trailer section accepted.
  static constexpr std::size_t kChunkLineLimit = 4096;

  RequestParser(std::size_t header_limit, std::size_t body_limit, std::string remote_address);

  // Valid once is_header_done(): the request as the handler will get it, with exactly one
  // X-Request-Id (the client's when acceptable, else a new one). The body grows as it is
  // parsed. Move it out once is_done().
  api::Request& request() { return request_; }
  // The id the answer carries: a view of the request's X-Request-Id header, so valid until
  // the request is moved out.
  std::string_view request_id() const { return request_.headers[*request_id_index_].second; }
  bool header_done() const { return header_done_; }
  // Bytes of the request line with its CRLF, once parsed (else 0). The header limit applies
  // to the fields after it, as Beast applies it when a header arrives in one piece.
  std::size_t request_line_size() const { return request_line_size_; }
  int version() const { return version_; }
  bool head() const { return head_; }
  bool expects_continue() const { return expects_continue_; }

  // The X-Request-Id an answer to this request carries, even one refused before its header
  // was complete: the client's when it was among the fields parsed, else a new one.
  std::string answer_request_id() const;

 private:
  using View = boost::beast::string_view;
  void on_request_impl(boost::beast::http::verb method, View method_str, View target, int version,
                       boost::system::error_code& ec) override;
  void on_response_impl(int, View, int, boost::system::error_code&) override {}
  void on_field_impl(boost::beast::http::field name, View name_string, View value,
                     boost::system::error_code& ec) override;
  void on_header_impl(boost::system::error_code& ec) override;
  void on_body_init_impl(const boost::optional<std::uint64_t>& content_length,
                         boost::system::error_code& ec) override;
  std::size_t on_body_impl(View body, boost::system::error_code& ec) override;
  void on_chunk_header_impl(std::uint64_t size, View extensions,
                            boost::system::error_code& ec) override;
  std::size_t on_chunk_body_impl(std::uint64_t remain, View body,
                                 boost::system::error_code& ec) override;
  void on_finish_impl(boost::system::error_code& ec) override;

  api::Request request_;
  std::size_t max_body_;
  std::optional<std::size_t> request_id_index_;
  int version_ = 11;
  std::size_t request_line_size_ = 0;
  bool head_ = false;
  bool expects_continue_ = false;
  bool header_done_ = false;
  bool has_content_length_ = false;
  std::size_t transfer_encodings_ = 0;  // Transfer-Encoding fields seen
};

}  // namespace otpd::http

namespace boost::system {
template <>
struct is_error_code_enum<otpd::http::FramingErrc> : std::true_type {};
}  // namespace boost::system
