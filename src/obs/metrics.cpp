// Metrics registry: per-thread shards for the updates, one lock for creating series and for
// rendering, which adds the shards up.
#include "obs/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <deque>
#include <system_error>
#include <unordered_map>

namespace otpd::obs {

void append_labels(Labels labels, std::string& out) {
  if (labels.size() == 0) return;
  out += '{';
  bool first = true;
  for (const auto& [key, value] : labels) {
    if (!first) out += ',';
    first = false;
    out += key;
    out += "=\"";
    for (char c : value) {
      if (c == '\\' || c == '"') out += '\\';
      if (c == '\n') {
        out += "\\n";
        continue;
      }
      out += c;
    }
    out += '"';
  }
  out += '}';
}

std::string format_labels(Labels labels) {
  std::string out;
  append_labels(labels, out);
  return out;
}

namespace {

using Counter = std::atomic<unsigned long long>;
using Buckets = std::array<unsigned long long, Histogram::kBounds.size() + 1>;

// The shortest text that reads back as the same double, without an exponent in the usual
// range: "0.00025", not %.17g's "0.00025000000000000001", which made bucket labels unreadable.
std::string format_number(double v) {
  char buf[64];
  const double magnitude = v < 0 ? -v : v;
  const bool plain = magnitude == 0 || (magnitude >= 1e-6 && magnitude < 1e15);
  const auto [end, ec] = plain ? std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed)
                               : std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::string("NaN");
}

std::string merge_labels(const std::string& labels, const std::string& extra) {
  if (labels.empty()) return "{" + extra + "}";
  return labels.substr(0, labels.size() - 1) + "," + extra + "}";
}

std::size_t bucket_of(double seconds) {
  std::size_t i = 0;
  while (i < Histogram::kBounds.size() && seconds > Histogram::kBounds[i]) ++i;
  return i;
}

void render_histogram(const std::string& name, const std::string& labels, const Buckets& buckets,
                      unsigned long long count, double sum, std::string& out) {
  unsigned long long cumulative = 0;
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    cumulative += buckets[i];
    const std::string le =
        i < Histogram::kBounds.size() ? format_number(Histogram::kBounds[i]) : "+Inf";
    out += name + "_bucket" + merge_labels(labels, "le=\"" + le + "\"") + " " +
           std::to_string(cumulative) + "\n";
  }
  out += name + "_sum" + labels + " " + format_number(sum) + "\n";
  out += name + "_count" + labels + " " + std::to_string(count) + "\n";
}

// A cell has one writer, its shard's thread: a relaxed load and store is an exact add there,
// without the locked instruction of fetch_add. Readers (render) load it atomically.
template <typename T>
void bump(std::atomic<T>& cell, T by) {
  cell.store(cell.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
}

struct KeyHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view key) const noexcept {
    return std::hash<std::string_view>{}(key);
  }
};

std::atomic<std::uint64_t> next_registry_id{1};

// The shard key of a series in a per-thread buffer, so a lookup allocates nothing.
const std::string& shard_key(std::string_view name, Labels labels) {
  thread_local std::string key;
  key.assign(name);
  key += '\0';
  append_labels(labels, key);
  return key;
}

std::string_view labels_of(std::string_view name, const std::string& key) {
  return std::string_view(key).substr(name.size() + 1);
}

}  // namespace

void Histogram::observe(double seconds) {
  buckets_[bucket_of(seconds)].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  double sum = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(sum, sum + seconds, std::memory_order_relaxed)) {
  }
}

void Histogram::render(const std::string& name, const std::string& labels, std::string& out) const {
  Buckets buckets{};
  for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] = buckets_[i].load();
  render_histogram(name, labels, buckets, count_.load(), sum_.load(), out);
}

struct Metrics::HistogramCell {
  std::array<Counter, Histogram::kBounds.size() + 1> buckets{};
  Counter count{0};
  std::atomic<double> sum{0};

  // REQUIRES: on the thread of the shard that owns the cell.
  void observe(double seconds) {
    bump(buckets[bucket_of(seconds)], 1ULL);
    bump(count, 1ULL);
    bump(sum, seconds);
  }
};

struct Metrics::Shard {
  // Only the owning thread reads or writes these maps (new entries under the registry lock).
  std::unordered_map<std::string, Counter*, KeyHash, std::equal_to<>> counters;
  std::unordered_map<std::string, HistogramCell*, KeyHash, std::equal_to<>> histograms;
  // The cells, at stable addresses: written by the owning thread, read by render().
  std::deque<Counter> counter_cells;
  std::deque<HistogramCell> histogram_cells;
};

// A series is the sum of its cells, one in each shard that updated it.
struct Metrics::Series {
  std::vector<const Counter*> counters;
  std::vector<const HistogramCell*> histograms;
};

struct Metrics::Family {
  std::string type = "counter";
  std::string help;
  std::map<std::string, Series, std::less<>> counters;    // by labels text
  std::map<std::string, Series, std::less<>> histograms;  // by labels text
  std::function<double()> gauge;
};

Metrics::Metrics() : id_(next_registry_id.fetch_add(1)) {}

Metrics::~Metrics() = default;

Metrics::Shard& Metrics::this_thread_shard() {
  struct Cached {
    std::uint64_t registry;
    Shard* shard;
  };
  // A thread rarely updates more than one registry (tests make many, one after another):
  // a few entries, the oldest dropped. A dropped one still alive just gets a second shard
  // for this thread; render adds that up like any other.
  constexpr std::size_t kCachedRegistries = 16;
  thread_local std::vector<Cached> cache;
  for (const Cached& entry : cache) {
    if (entry.registry == id_) return *entry.shard;
  }
  Shard* shard = nullptr;
  {
    std::lock_guard lock(mutex_);
    shard = shards_.emplace_back(std::make_unique<Shard>()).get();
  }
  if (cache.size() == kCachedRegistries) cache.erase(cache.begin());
  cache.push_back({id_, shard});
  return *shard;
}

Metrics::Family& Metrics::family(std::string_view name, const char* type) {
  auto it = families_.find(name);
  if (it == families_.end()) it = families_.emplace(std::string(name), Family{}).first;
  auto& f = it->second;
  if (f.counters.empty() && f.histograms.empty() && !f.gauge) f.type = type;
  return f;
}

Counter& Metrics::new_counter(Shard& shard, std::string_view name, const std::string& key) {
  std::lock_guard lock(mutex_);
  Counter& cell = shard.counter_cells.emplace_back(0);
  auto& series = family(name, "counter").counters;
  const std::string_view labels = labels_of(name, key);
  auto it = series.find(labels);
  if (it == series.end()) it = series.emplace(std::string(labels), Series{}).first;
  it->second.counters.push_back(&cell);
  shard.counters.emplace(key, &cell);
  return cell;
}

Metrics::HistogramCell& Metrics::new_histogram(Shard& shard, std::string_view name,
                                               const std::string& key) {
  std::lock_guard lock(mutex_);
  HistogramCell& cell = shard.histogram_cells.emplace_back();
  auto& series = family(name, "histogram").histograms;
  const std::string_view labels = labels_of(name, key);
  auto it = series.find(labels);
  if (it == series.end()) it = series.emplace(std::string(labels), Series{}).first;
  it->second.histograms.push_back(&cell);
  shard.histograms.emplace(key, &cell);
  return cell;
}

void Metrics::describe(const std::string& name, std::string type, std::string help) {
  std::lock_guard lock(mutex_);
  auto& f = families_[name];
  f.type = std::move(type);
  f.help = std::move(help);
}

void Metrics::add(std::string_view name, Labels labels, unsigned long long by) {
  Shard& shard = this_thread_shard();
  const std::string& key = shard_key(name, labels);
  const auto it = shard.counters.find(key);
  Counter& cell = it != shard.counters.end() ? *it->second : new_counter(shard, name, key);
  bump(cell, by);
}

void Metrics::observe(std::string_view name, Labels labels, double seconds) {
  Shard& shard = this_thread_shard();
  const std::string& key = shard_key(name, labels);
  const auto it = shard.histograms.find(key);
  HistogramCell& cell =
      it != shard.histograms.end() ? *it->second : new_histogram(shard, name, key);
  cell.observe(seconds);
}

void Metrics::gauge(const std::string& name, std::string help, std::function<double()> read) {
  std::lock_guard lock(mutex_);
  auto& f = families_[name];
  f.type = "gauge";
  f.help = std::move(help);
  f.gauge = std::move(read);
}

std::string Metrics::render() const {
  std::string out;
  std::lock_guard lock(mutex_);
  for (const auto& [name, f] : families_) {
    if (!f.help.empty()) out += "# HELP " + name + " " + f.help + "\n";
    out += "# TYPE " + name + " " + f.type + "\n";
    if (f.gauge) out += name + " " + format_number(f.gauge()) + "\n";
    for (const auto& [labels, series] : f.counters) {
      unsigned long long total = 0;
      for (const Counter* cell : series.counters) total += cell->load(std::memory_order_relaxed);
      out += name + labels + " " + std::to_string(total) + "\n";
    }
    for (const auto& [labels, series] : f.histograms) {
      Buckets buckets{};
      unsigned long long count = 0;
      double sum = 0;
      for (const HistogramCell* cell : series.histograms) {
        for (std::size_t i = 0; i < buckets.size(); ++i) {
          buckets[i] += cell->buckets[i].load(std::memory_order_relaxed);
        }
        count += cell->count.load(std::memory_order_relaxed);
        sum += cell->sum.load(std::memory_order_relaxed);
      }
      render_histogram(name, labels, buckets, count, sum, out);
    }
  }
  return out;
}

}  // namespace otpd::obs
