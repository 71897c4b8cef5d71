// The metrics registry: series keyed by name and labels, the text exposition format, and
// counts that stay exact under concurrent updates.
#include "obs/metrics.hpp"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace otpd::obs {
namespace {

TEST(Metrics, CountersAreKeyedByNameAndLabels) {
  Metrics m;
  m.describe("otpd_requests_total", "counter", "Requests");
  const std::string route = "/v1/verifications/{id}";  // longer than any small-string buffer
  m.add("otpd_requests_total", {{"route", route}, {"status", "200"}});
  m.add("otpd_requests_total", {{"route", route}, {"status", "200"}}, 2);
  m.add("otpd_requests_total", {{"route", route}, {"status", "404"}});
  m.add("otpd_other_total", {});
  const std::string text = m.render();
  EXPECT_NE(text.find("# HELP otpd_requests_total Requests\n# TYPE otpd_requests_total counter\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("otpd_requests_total{route=\"/v1/verifications/{id}\",status=\"200\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("otpd_requests_total{route=\"/v1/verifications/{id}\",status=\"404\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE otpd_other_total counter\notpd_other_total 1\n"), std::string::npos)
      << text;
}

TEST(Metrics, HistogramsCountIntoCumulativeBuckets) {
  Metrics m;
  m.observe("otpd_latency_seconds", {{"op", "get"}}, 0.0002);
  m.observe("otpd_latency_seconds", {{"op", "get"}}, 0.003);
  m.observe("otpd_latency_seconds", {{"op", "get"}}, 5.0);
  const std::string text = m.render();
  EXPECT_NE(text.find("# TYPE otpd_latency_seconds histogram\n"), std::string::npos) << text;
  EXPECT_NE(text.find("otpd_latency_seconds_bucket{op=\"get\",le=\"0.0001\"} 0\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("otpd_latency_seconds_bucket{op=\"get\",le=\"0.00025\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("otpd_latency_seconds_bucket{op=\"get\",le=\"0.005\"} 2\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("otpd_latency_seconds_bucket{op=\"get\",le=\"+Inf\"} 3\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("otpd_latency_seconds_count{op=\"get\"} 3\n"), std::string::npos) << text;
}

TEST(Metrics, LabelValuesAreEscaped) {
  EXPECT_EQ(format_labels({{"a", "x\"y\\z\nw"}}), "{a=\"x\\\"y\\\\z\\nw\"}");
  EXPECT_EQ(format_labels({}), "");
  std::string out = "name";
  append_labels({{"a", "1"}, {"b", "2"}}, out);
  EXPECT_EQ(out, "name{a=\"1\",b=\"2\"}");
}

TEST(Metrics, ConcurrentUpdatesAreAllCounted) {
  Metrics m;
  constexpr int kThreads = 4;
  constexpr int kEach = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&m, t] {
      const std::string status = t % 2 == 0 ? "200" : "201";
      for (int i = 0; i < kEach; ++i) {
        m.add("otpd_c_total", {{"status", status}});
        m.observe("otpd_h_seconds", {{"op", "x"}}, 0.001);
      }
    });
  }
  for (auto& t : threads) t.join();
  const std::string text = m.render();
  EXPECT_NE(text.find("otpd_c_total{status=\"200\"} 10000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("otpd_c_total{status=\"201\"} 10000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("otpd_h_seconds_count{op=\"x\"} 20000\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace otpd::obs
