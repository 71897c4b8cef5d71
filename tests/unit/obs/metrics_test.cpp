// The metrics registry: series keyed by name and labels, the text exposition format, and
// counts that stay exact under concurrent updates.
#include "obs/metrics.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
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

// Reads one sample's value from the exposition text; -1 when the line is missing.
long long sample(const std::string& text, const std::string& series) {
  const std::string prefix = series + " ";
  std::size_t at = text.find("\n" + prefix);
  if (at == std::string::npos) {
    if (text.rfind(prefix, 0) != 0) return -1;
    at = 0;
  } else {
    at += 1;
  }
  return std::stoll(text.substr(at + prefix.size()));
}

TEST(MetricsShards, AddsFromManyThreadsOnManySeriesSumExactly) {
  Metrics m;
  constexpr int kThreads = 8;
  constexpr int kEach = 20000;
  const std::vector<std::string> routes = {"/a", "/b", "/c"};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&m, &routes, t] {
      for (int i = 0; i < kEach; ++i) {
        m.add("otpd_c_total", {{"route", routes[static_cast<std::size_t>(i) % routes.size()]}});
        m.add("otpd_by_total", {{"thread", t % 2 == 0 ? "even" : "odd"}}, 3);
      }
    });
  }
  for (auto& t : threads) t.join();
  const std::string text = m.render();
  long long routed = 0;
  for (const auto& route : routes) {
    routed += sample(text, "otpd_c_total{route=\"" + route + "\"}");
  }
  EXPECT_EQ(routed, kThreads * kEach) << text;
  EXPECT_EQ(sample(text, "otpd_by_total{thread=\"even\"}"), 3LL * kEach * kThreads / 2) << text;
  EXPECT_EQ(sample(text, "otpd_by_total{thread=\"odd\"}"), 3LL * kEach * kThreads / 2) << text;
}

TEST(MetricsShards, RenderWhileThreadsAddSeesEveryAddInTheEnd) {
  Metrics m;
  constexpr int kThreads = 4;
  constexpr int kEach = 20000;
  std::atomic<bool> done{false};
  std::thread scraper([&] {
    long long last = -1;  // no series before the first add
    while (!done.load()) {
      const long long now = sample(m.render(), "otpd_c_total");
      // A counter never goes back, whatever the interleaving with the adds.
      EXPECT_GE(now, last);
      last = now;
    }
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&m] {
      for (int i = 0; i < kEach; ++i) {
        m.add("otpd_c_total", {});
        m.observe("otpd_h_seconds", {{"op", "x"}}, 0.0002);
      }
    });
  }
  for (auto& t : threads) t.join();
  done.store(true);
  scraper.join();
  const std::string text = m.render();
  EXPECT_EQ(sample(text, "otpd_c_total"), kThreads * kEach) << text;
  EXPECT_EQ(sample(text, "otpd_h_seconds_count{op=\"x\"}"), kThreads * kEach) << text;
  EXPECT_EQ(sample(text, "otpd_h_seconds_bucket{op=\"x\",le=\"0.0001\"}"), 0) << text;
  EXPECT_EQ(sample(text, "otpd_h_seconds_bucket{op=\"x\",le=\"0.00025\"}"), kThreads * kEach)
      << text;
}

TEST(MetricsShards, CountsOutliveTheThreadsThatMadeThem) {
  Metrics m;
  for (int round = 0; round < 3; ++round) {
    std::thread([&m] { m.add("otpd_c_total", {{"k", "v"}}, 5); }).join();
  }
  EXPECT_EQ(sample(m.render(), "otpd_c_total{k=\"v\"}"), 15);
}

TEST(MetricsShards, RegistriesOnOneThreadStayApart) {
  // More registries than a thread keeps shards of, used in turn, then one made after others
  // were destroyed (it may reuse their address): each counts only its own adds.
  std::vector<std::unique_ptr<Metrics>> registries;
  for (int i = 0; i < 20; ++i) registries.push_back(std::make_unique<Metrics>());
  for (int round = 0; round < 3; ++round) {
    for (std::size_t i = 0; i < registries.size(); ++i) {
      registries[i]->add("otpd_c_total", {}, i + 1);
    }
  }
  for (std::size_t i = 0; i < registries.size(); ++i) {
    EXPECT_EQ(sample(registries[i]->render(), "otpd_c_total"), static_cast<long long>(3 * (i + 1)));
  }
  registries.clear();
  Metrics fresh;
  fresh.add("otpd_c_total", {});
  EXPECT_EQ(sample(fresh.render(), "otpd_c_total"), 1);
}

TEST(MetricsShards, DescribedTypeAndHelpAreKeptAcrossShards) {
  Metrics m;
  m.describe("otpd_d_seconds", "histogram", "Durations");
  std::thread([&m] { m.observe("otpd_d_seconds", {{"op", "get"}}, 2.0); }).join();
  m.observe("otpd_d_seconds", {{"op", "get"}}, 0.003);
  const std::string text = m.render();
  EXPECT_NE(text.find("# HELP otpd_d_seconds Durations\n# TYPE otpd_d_seconds histogram\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(sample(text, "otpd_d_seconds_bucket{op=\"get\",le=\"0.005\"}"), 1) << text;
  EXPECT_EQ(sample(text, "otpd_d_seconds_bucket{op=\"get\",le=\"+Inf\"}"), 2) << text;
  EXPECT_EQ(sample(text, "otpd_d_seconds_count{op=\"get\"}"), 2) << text;
  EXPECT_NE(text.find("otpd_d_seconds_sum{op=\"get\"} 2.003\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace otpd::obs
