// Response heads: status line, framing decided by the transport, forged headers dropped.
#include "http/response_writer.hpp"

#include <gtest/gtest.h>

#include <string>

namespace otpd::http {
namespace {

api::Response response(int status, std::string body = "") {
  api::Response r;
  r.status = status;
  r.set_header("Content-Type", "application/json");
  r.set_header("X-Request-Id", "id-1");
  r.body = std::move(body);
  return r;
}

TEST(ResponseWriter, WritesStatusHeadersAndLength) {
  auto r = response(201, "{\"a\":1}");
  std::string out = "left over from the last response";
  write_head(r, 11, /*keep_alive=*/true, out);
  EXPECT_EQ(out,
            "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nX-Request-Id: id-1\r\n"
            "Content-Length: 7\r\n\r\n");
}

TEST(ResponseWriter, ConnectionFieldFollowsVersionAndKeepAlive) {
  auto r = response(200, "ok");
  std::string out;
  write_head(r, 11, /*keep_alive=*/false, out);
  EXPECT_NE(out.find("\r\nConnection: close\r\n"), std::string::npos) << out;
  write_head(r, 10, /*keep_alive=*/true, out);
  EXPECT_EQ(out.rfind("HTTP/1.0 200 OK\r\n", 0), 0u) << out;
  EXPECT_NE(out.find("\r\nConnection: keep-alive\r\n"), std::string::npos) << out;
  write_head(r, 10, /*keep_alive=*/false, out);
  EXPECT_NE(out.find("\r\nConnection: close\r\n"), std::string::npos) << out;
}

TEST(ResponseWriter, HandlerCannotForgeHeadersOrFraming) {
  auto r = response(200, "body");
  r.headers.emplace_back("X-Evil", "a\r\nSet-Cookie: x=1");
  r.headers.emplace_back("Bad Name", "v");
  r.headers.emplace_back("Content-Length", "999");
  r.headers.emplace_back("Transfer-Encoding", "chunked");
  r.headers.emplace_back("Connection", "keep-alive");
  r.headers.emplace_back("X-Fine", "yes");
  std::string out;
  write_head(r, 11, /*keep_alive=*/false, out);
  EXPECT_EQ(out.find("Set-Cookie"), std::string::npos) << out;
  EXPECT_EQ(out.find("Bad Name"), std::string::npos) << out;
  EXPECT_EQ(out.find("999"), std::string::npos) << out;
  EXPECT_EQ(out.find("Transfer-Encoding"), std::string::npos) << out;
  EXPECT_EQ(out.find("keep-alive"), std::string::npos) << out;
  EXPECT_NE(out.find("\r\nX-Fine: yes\r\n"), std::string::npos) << out;
  EXPECT_NE(out.find("\r\nContent-Length: 4\r\n"), std::string::npos) << out;
}

TEST(ResponseWriter, NoContentHasNoBodyAndNoLength) {
  auto r = response(204, "dropped");
  std::string out;
  write_head(r, 11, true, out);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(out.find("Content-Length"), std::string::npos) << out;
  EXPECT_EQ(out.rfind("HTTP/1.1 204 No Content\r\n", 0), 0u) << out;
}

TEST(ResponseWriter, UnprintableStatusBecomes500KeepingTheRequestId) {
  for (int status : {42, 100, 199, 600, -1}) {
    auto r = response(status, "x");
    std::string out;
    write_head(r, 11, true, out);
    EXPECT_EQ(r.status, 500) << status;
    EXPECT_EQ(out.rfind("HTTP/1.1 500 Internal Server Error\r\n", 0), 0u) << out;
    EXPECT_EQ(r.header("X-Request-Id"), "id-1");
    EXPECT_NE(out.find("Content-Length: " + std::to_string(r.body.size())), std::string::npos);
  }
}

TEST(ResponseWriter, StandardReasonPhrases) {
  for (const auto& [status, line] :
       std::initializer_list<std::pair<int, const char*>>{{413, "HTTP/1.1 413 Payload Too Large"},
                                                          {501, "HTTP/1.1 501 Not Implemented"},
                                                          {299, "HTTP/1.1 299 OK"}}) {
    auto r = response(status);
    std::string out;
    write_head(r, 11, true, out);
    EXPECT_EQ(out.rfind(std::string(line) + "\r\n", 0), 0u) << out;
  }
}

}  // namespace
}  // namespace otpd::http
