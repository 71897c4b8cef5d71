// Prometheus metrics: counters and histograms keyed by name and label set, rendered in the
// text exposition format. Label values come from small fixed sets (routes, statuses,
// channels, outcomes), never from request data, so cardinality stays bounded.
//
// Updates are sharded per thread: each thread that updates a registry gets its own shard,
// with its own copy of every series it touches, written only by that thread. An update of a
// series the thread has seen before takes no lock, no read-modify-write instruction and
// allocates nothing (its key is built in a per-thread buffer); render() adds the shards up.
// Shards belong to the registry, so counts survive the thread that made them.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace otpd::obs {

// Views, so the hot path (a series that already exists) allocates nothing: call sites pass
// literals and strings they already hold.
using Label = std::pair<std::string_view, std::string_view>;
using Labels = std::initializer_list<Label>;

// One histogram series that any thread may update (atomic adds).
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
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Safe from any thread. Every thread that calls these gets a shard of this registry.
  void add(std::string_view name, Labels labels, unsigned long long by = 1);
  void observe(std::string_view name, Labels labels, double seconds);
  // A gauge read at scrape time (e.g. the delivery queue depth from the store).
  void gauge(const std::string& name, std::string help, std::function<double()> read);
  void describe(const std::string& name, std::string type, std::string help);

  std::string render() const;

 private:
  struct Shard;  // one thread's cells and its lookup of them
  struct HistogramCell;
  struct Series;
  struct Family;
  Shard& this_thread_shard();
  // The slow path: the first update of a series by this thread, under the registry lock.
  // `key` is the shard's key for the series: name, a NUL, then the labels text.
  std::atomic<unsigned long long>& new_counter(Shard& shard, std::string_view name,
                                               const std::string& key);
  HistogramCell& new_histogram(Shard& shard, std::string_view name, const std::string& key);
  Family& family(std::string_view name, const char* type);

  // Never reused, so a thread's cached shard of a destroyed registry can never be taken for
  // one of a later registry at the same address.
  const std::uint64_t id_;
  mutable std::mutex mutex_;
  std::map<std::string, Family, std::less<>> families_;  // guarded by mutex_
  std::vector<std::unique_ptr<Shard>> shards_;           // guarded by mutex_
};

// {a="x",b="y"} with Prometheus escaping.
std::string format_labels(Labels labels);
// The same, appended to `out` (a reused buffer).
void append_labels(Labels labels, std::string& out);

}  // namespace otpd::obs
