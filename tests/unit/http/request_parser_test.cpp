// The request parser without sockets: requests fed whole and a byte at a time, the framing
// rules of RFC 9112 section 6, the X-Request-Id rule, and trailers kept out of the request.
#include "http/request_parser.hpp"

#include <gtest/gtest.h>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <string>

#include "api/request_id.hpp"

namespace otpd::http {
namespace {

namespace bhttp = boost::beast::http;
using boost::system::error_code;

struct Parsed {
  error_code ec;
  std::optional<RequestParser> parser;
};

// Feeds `wire` in pieces of `step` bytes, keeping unconsumed bytes as a connection does.
Parsed parse(std::string_view wire, std::size_t step = SIZE_MAX, std::size_t header_limit = 8192,
             std::size_t body_limit = 16384) {
  Parsed out;
  RequestParser& parser = out.parser.emplace(header_limit, body_limit, "192.0.2.7");
  parser.eager(true);
  std::string pending;
  for (std::size_t at = 0; at < wire.size();) {
    const std::size_t n = std::min(step, wire.size() - at);
    pending.append(wire.substr(at, n));
    at += n;
    error_code ec;
    const std::size_t used = parser.put(boost::asio::buffer(pending), ec);
    if (ec && ec != bhttp::error::need_more) {
      out.ec = ec;
      return out;
    }
    pending.erase(0, used);
    if (parser.is_done()) return out;
  }
  out.ec = bhttp::error::need_more;
  return out;
}

TEST(RequestParser, BuildsTheApiRequestAlikeWholeOrByteByByte) {
  const std::string wire =
      "POST /v1/otp/send?x=1 HTTP/1.1\r\nHost: example\r\nContent-Type: application/json\r\n"
      "Authorization: Bearer sk_0123456789abcdef\r\nContent-Length: 10\r\n\r\n{\"to\":\"a\"}";
  for (std::size_t step : {SIZE_MAX, std::size_t{1}, std::size_t{7}}) {
    SCOPED_TRACE(step);
    auto parsed = parse(wire, step);
    ASSERT_FALSE(parsed.ec) << parsed.ec.message();
    api::Request& request = parsed.parser->request();
    EXPECT_EQ(request.method, "POST");
    EXPECT_EQ(request.target, "/v1/otp/send?x=1");
    EXPECT_EQ(request.body, "{\"to\":\"a\"}");
    EXPECT_EQ(request.remote_address, "192.0.2.7");
    EXPECT_EQ(request.header("authorization"), "Bearer sk_0123456789abcdef");
    EXPECT_EQ(request.header("host"), "example");
    // The generated id is a field of the request, and the one the answer carries.
    ASSERT_TRUE(request.header(api::kRequestIdHeader));
    EXPECT_EQ(*request.header(api::kRequestIdHeader), parsed.parser->request_id());
    EXPECT_EQ(parsed.parser->request_id().size(), 16u);
  }
}

TEST(RequestParser, KeepsOneRequestIdTheClientsWhenAcceptable) {
  auto echoed = parse("GET / HTTP/1.1\r\nX-Request-Id: abc-1\r\nx-request-id: abc-2\r\n\r\n");
  ASSERT_FALSE(echoed.ec);
  int ids = 0;
  for (const auto& [name, value] : echoed.parser->request().headers) {
    ids += api::iequals(name, api::kRequestIdHeader) ? 1 : 0;
  }
  EXPECT_EQ(ids, 1);
  EXPECT_EQ(echoed.parser->request_id(), "abc-1");

  auto replaced = parse("GET / HTTP/1.1\r\nX-Request-Id: " + std::string(200, 'x') + "\r\n\r\n");
  ASSERT_FALSE(replaced.ec);
  EXPECT_EQ(replaced.parser->request_id().size(), 16u);
}

TEST(RequestParser, AnswerToARequestRefusedEarlyKeepsTheClientsId) {
  auto parsed = parse("POST / HTTP/1.1\r\nX-Request-Id: early-1\r\nContent-Length: 99999\r\n\r\n");
  EXPECT_EQ(parsed.ec, bhttp::error::body_limit);
  EXPECT_EQ(parsed.parser->answer_request_id(), "early-1");
  auto none = parse("GET / HTTP/1.1\r\nBad Line\r\n\r\n");
  EXPECT_TRUE(none.ec);
  EXPECT_EQ(none.parser->answer_request_id().size(), 16u);
}

TEST(RequestParser, ChunkedBodyIsJoinedAndTrailersAreDropped) {
  auto parsed = parse(
      "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nAuthorization: Bearer forged\r\n\r\n",
      3);
  ASSERT_FALSE(parsed.ec) << parsed.ec.message();
  EXPECT_EQ(parsed.parser->request().body, "abcde");
  EXPECT_FALSE(parsed.parser->request().header("Authorization"));
}

TEST(RequestParser, TransferCodingsMustEndInOneBareChunked) {
  const auto with = [](std::string_view codings) {
    return parse(std::string("POST / HTTP/1.1\r\nTransfer-Encoding: ") + std::string(codings) +
                 "\r\n\r\n0\r\n\r\n")
        .ec;
  };
  EXPECT_FALSE(with("chunked"));
  EXPECT_FALSE(with("Chunked"));
  for (const char* bad : {"gzip", "xchunked", "identity", "chunked, gzip", "chunked;x=1",
                          "chunked, chunked", ", chunked, gzip"}) {
    EXPECT_EQ(with(bad), FramingErrc::kBadTransferEncoding) << bad;
  }
  EXPECT_EQ(with("gzip, chunked"), FramingErrc::kUnsupportedTransferCoding);
  // Split over two fields, the codings read in order.
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n"
                  "\r\n0\r\n\r\n")
                .ec.category(),
            bhttp::make_error_code(bhttp::error::bad_transfer_encoding).category());
}

TEST(RequestParser, TransferEncodingWithContentLengthOrInHttp10IsRefused) {
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc").ec,
            FramingErrc::kBadTransferEncoding);
  EXPECT_TRUE(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"
                    "0\r\n\r\n")
                  .ec);
  EXPECT_EQ(parse("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").ec,
            FramingErrc::kBadTransferEncoding);
}

TEST(RequestParser, LimitsAndFlags) {
  EXPECT_EQ(parse("POST / HTTP/1.1\r\nContent-Length: 20\r\n\r\n" + std::string(20, 'x'), SIZE_MAX,
                  8192, 19)
                .ec,
            bhttp::error::body_limit);
  auto head = parse("HEAD /h HTTP/1.1\r\n\r\n");
  ASSERT_FALSE(head.ec);
  EXPECT_TRUE(head.parser->head());
  auto expect = parse("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx");
  ASSERT_FALSE(expect.ec);
  EXPECT_TRUE(expect.parser->expects_continue());
  auto old = parse("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx");
  ASSERT_FALSE(old.ec);
  EXPECT_FALSE(old.parser->expects_continue());
  EXPECT_EQ(old.parser->version(), 10);
}

}  // namespace
}  // namespace otpd::http
