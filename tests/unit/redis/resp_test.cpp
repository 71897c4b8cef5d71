// RESP2 encoding and the reply reader: every type, nesting, byte-by-byte input, broken
// input and the size bound.
#include "store/redis/resp.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "store/redis/node_router.hpp"
#include "store/redis/script.hpp"

namespace otpd::store::redis {
namespace {

std::vector<Reply> parse_all(const std::string& bytes, std::size_t chunk) {
  ReplyReader reader(1 << 20);
  std::vector<Reply> replies;
  for (std::size_t i = 0; i < bytes.size(); i += chunk) {
    EXPECT_TRUE(reader.feed(bytes.data() + i, std::min(chunk, bytes.size() - i)));
    for (;;) {
      auto next = reader.next();
      EXPECT_TRUE(next);
      if (!next || !*next) break;
      replies.push_back(std::move(**next));
    }
  }
  return replies;
}

TEST(Resp, EncodesCommandsAsArraysOfBulkStrings) {
  std::string out;
  append_command(out, {"SET", "k", std::string_view("a\0b", 3)});
  EXPECT_EQ(out, std::string("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\na\0b\r\n", 29));
  out.clear();
  std::vector<std::string> args{"GET", ""};
  append_command(out, args);
  EXPECT_EQ(out, "*2\r\n$3\r\nGET\r\n$0\r\n\r\n");
}

TEST(Resp, ParsesEveryReplyTypeWhateverTheChunking) {
  const std::string bytes =
      "+OK\r\n-ERR bad thing\r\n:-42\r\n$5\r\nhe\r\no\r\n$0\r\n\r\n$-1\r\n*-1\r\n*0\r\n"
      "*3\r\n:1\r\n*2\r\n$1\r\na\r\n*1\r\n$-1\r\n+FINE\r\n";
  const std::vector<std::string> expected = {"status \"OK\"",
                                             "error \"ERR bad thing\"",
                                             "int -42",
                                             "bulk \"he\r\no\"",
                                             "bulk \"\"",
                                             "nil",
                                             "nil",
                                             "[]",
                                             "[int 1, [bulk \"a\", [nil]], status \"FINE\"]"};
  for (std::size_t chunk : {std::size_t{1}, std::size_t{3}, std::size_t{7}, bytes.size()}) {
    const auto replies = parse_all(bytes, chunk);
    ASSERT_EQ(replies.size(), expected.size()) << "chunk " << chunk;
    for (std::size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(replies[i].debug_string(), expected[i]) << "chunk " << chunk;
    }
  }
}

TEST(Resp, BrokenInputIsAProtocolErrorAndStaysOne) {
  ReplyReader reader(1024);
  ASSERT_TRUE(reader.feed("?what\r\n", 7));
  auto next = reader.next();
  ASSERT_FALSE(next);
  EXPECT_EQ(next.error().code, Errc::kProtocol);
  EXPECT_FALSE(reader.feed("+OK\r\n", 5));
}

TEST(Resp, AReplyLargerThanTheBoundIsAProtocolError) {
  ReplyReader reader(64);
  const std::string head = "$1000\r\n" + std::string(100, 'x');
  ASSERT_TRUE(reader.feed(head.data(), head.size()));
  auto next = reader.next();
  ASSERT_FALSE(next);
  EXPECT_EQ(next.error().code, Errc::kProtocol);
  EXPECT_NE(next.error().message.find("larger than 64"), std::string::npos);
}

TEST(Resp, AHugeArrayCountIsRefusedRatherThanAllocated) {
  ReplyReader reader(1024);
  ASSERT_TRUE(reader.feed("*2000000000\r\n", 13));
  EXPECT_FALSE(reader.next());
}

TEST(Resp, ErrorRepliesMapToTheErrorModel) {
  EXPECT_TRUE(reply_to_result(Reply::integer(1)));
  for (const char* not_run :
       {"TRYAGAIN Multiple keys", "CLUSTERDOWN The cluster is down", "LOADING Redis is loading",
        "MASTERDOWN Link down", "READONLY You can't write against a read only replica."}) {
    auto r = reply_to_result(Reply::error(not_run));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, Errc::kUnavailable) << not_run;
    EXPECT_TRUE(r.error().is_unavailable());
    EXPECT_EQ(r.error().message, not_run);
  }
  auto busy = reply_to_result(Reply::error("BUSY Redis is busy running a script."));
  ASSERT_FALSE(busy);
  EXPECT_EQ(busy.error().code, Errc::kServerError);
  EXPECT_EQ(busy.error().server_error_prefix(), "BUSY");
  EXPECT_TRUE(busy.error().is_server_error("BUSY"));
  EXPECT_FALSE(busy.error().is_server_error("BUS"));
  EXPECT_FALSE(busy.error().is_unavailable());
  EXPECT_EQ(busy.error().to_error_code(), Errc::kServerError);
  EXPECT_THROW(busy.value(), boost::system::system_error);
}

TEST(Script, Sha1IsWhatRedisComputes) {
  // redis-cli SCRIPT LOAD "return 1"
  EXPECT_EQ(Script("return 1").sha1(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
  EXPECT_EQ(Script("").sha1(), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
}

}  // namespace
}  // namespace otpd::store::redis
