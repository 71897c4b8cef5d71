// The console channel writes one JSON line per message.
#include "delivery/console_channel.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <cstdio>
#include <thread>
#include <vector>

#include "test_support.hpp"

namespace otpd::delivery {
namespace {

std::string read_all(std::FILE* f) {
  std::rewind(f);
  std::string out;
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  return out;
}

Message sample() {
  Message m;
  m.tenant = core::TenantId("acme");
  m.id = core::VerificationId("v1");
  m.to = "alice@example.com";
  m.code = "123456";
  m.text = "Acme: your code is 123456.\nBye \"now\"";
  return m;
}

TEST(ConsoleChannel, WritesOneJsonLine) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  ConsoleChannel channel(f);
  const auto attempt = testing::run_awaitable(channel.deliver(sample()));
  EXPECT_EQ(attempt.result, AttemptResult::kDelivered);
  const auto text = read_all(f);
  std::fclose(f);
  EXPECT_EQ(text, R"({"channel":"console","tenant":"acme","id":"v1","to":"alice@example.com",)"
                  R"("code":"123456","message":"Acme: your code is 123456.\nBye \"now\""})"
                  "\n");
}

TEST(ConsoleChannel, LinesFromThreadsDoNotInterleave) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  ConsoleChannel channel(f);
  constexpr int kThreads = 4;
  constexpr int kEach = 50;
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < kEach; ++j) testing::run_awaitable(channel.deliver(sample()));
    });
  }
  for (auto& t : threads) t.join();
  const auto text = read_all(f);
  std::fclose(f);
  std::size_t lines = 0;
  std::size_t start = 0;
  for (std::size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    boost::system::error_code ec;
    boost::json::parse(text.substr(start, nl - start), ec);
    EXPECT_FALSE(ec) << text.substr(start, nl - start);
    ++lines;
  }
  EXPECT_EQ(start, text.size());
  EXPECT_EQ(lines, static_cast<std::size_t>(kThreads * kEach));
}

}  // namespace
}  // namespace otpd::delivery
