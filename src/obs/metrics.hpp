// Prometheus metrics: counters and histograms keyed by name and label set, rendered in the
// text exposition format. Label values come from small fixed sets (routes, statuses,
// channels, outcomes), never from request data, so cardinality stays bounded.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <utility>

namespace otpd::obs {

// Views, so the hot path (a series that already exists) allocates nothing: call sites pass
// literals and strings they already hold.
using Label = std::pair<std::string_view, std::string_view>;
using Labels = std::initializer_list<Label>;

class Histogram {
 public:
  static constexpr std::array<double, 12> kBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                     0.01,   0.025,   0.05,   0.1,   0.5,    1.0};
  void observe(double seconds);
  void render(const std::string& name, const std::string& labels, std::string& out) const;

 private:
  std::array<std::atomic<unsigned long long>, kBounds.size() + 1> buckets_{};  // last = +Inf
  std::atomic<unsigned long long> count_{0};
  std::atomic<double> sum_{0};
};

class Metrics {
 public:
  void add(std::string_view name, Labels labels, unsigned long long by = 1);
  void observe(std::string_view name, Labels labels, double seconds);
  // A gauge read at scrape time (e.g. the delivery queue depth from the store).
  void gauge(const std::string& name, std::string help, std::function<double()> read);
  void describe(const std::string& name, std::string type, std::string help);

  std::string render() const;

 private:
  struct Family {
    std::string type = "counter";
    std::string help;
    std::map<std::string, std::unique_ptr<std::atomic<unsigned long long>>, std::less<>> counters;
    std::map<std::string, std::unique_ptr<Histogram>, std::less<>> histograms;
    std::function<double()> gauge;
  };
  Family& family(std::string_view name, const char* type);
  mutable std::shared_mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;
};

// {a="x",b="y"} with Prometheus escaping.
std::string format_labels(Labels labels);
// The same, appended to `out` (a reused buffer).
void append_labels(Labels labels, std::string& out);

}  // namespace otpd::obs
