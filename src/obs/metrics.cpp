// Metrics registry: a shared lock for the common path (series exists), exclusive only to
// create a new series; values themselves are atomics.
#include "obs/metrics.hpp"

#include <charconv>
#include <system_error>

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
}  // namespace

void Histogram::observe(double seconds) {
  std::size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  double sum = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(sum, sum + seconds, std::memory_order_relaxed)) {
  }
}

void Histogram::render(const std::string& name, const std::string& labels, std::string& out) const {
  unsigned long long cumulative = 0;
  for (std::size_t i = 0; i <= kBounds.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    const std::string le = i < kBounds.size() ? format_number(kBounds[i]) : "+Inf";
    out += name + "_bucket" + merge_labels(labels, "le=\"" + le + "\"") + " " +
           std::to_string(cumulative) + "\n";
  }
  out += name + "_sum" + labels + " " + format_number(sum_.load()) + "\n";
  out += name + "_count" + labels + " " + std::to_string(count_.load()) + "\n";
}

namespace {
// The series key of `labels` in a per-thread buffer: after warm-up it never allocates.
const std::string& series_key(Labels labels) {
  thread_local std::string key;
  key.clear();
  append_labels(labels, key);
  return key;
}
}  // namespace

Metrics::Family& Metrics::family(std::string_view name, const char* type) {
  auto it = families_.find(name);
  if (it == families_.end()) it = families_.emplace(std::string(name), Family{}).first;
  auto& f = it->second;
  if (f.counters.empty() && f.histograms.empty() && !f.gauge) f.type = type;
  return f;
}

void Metrics::describe(const std::string& name, std::string type, std::string help) {
  std::unique_lock lock(mutex_);
  auto& f = families_[name];
  f.type = std::move(type);
  f.help = std::move(help);
}

void Metrics::add(std::string_view name, Labels labels, unsigned long long by) {
  const std::string& key = series_key(labels);
  {
    std::shared_lock lock(mutex_);
    auto fit = families_.find(name);
    if (fit != families_.end()) {
      auto cit = fit->second.counters.find(key);
      if (cit != fit->second.counters.end()) {
        cit->second->fetch_add(by, std::memory_order_relaxed);
        return;
      }
    }
  }
  std::unique_lock lock(mutex_);
  auto& counters = family(name, "counter").counters;
  auto cit = counters.find(key);
  if (cit == counters.end()) cit = counters.emplace(key, nullptr).first;
  auto& slot = cit->second;
  if (!slot) slot = std::make_unique<std::atomic<unsigned long long>>(0);
  slot->fetch_add(by, std::memory_order_relaxed);
}

void Metrics::observe(std::string_view name, Labels labels, double seconds) {
  const std::string& key = series_key(labels);
  {
    std::shared_lock lock(mutex_);
    auto fit = families_.find(name);
    if (fit != families_.end()) {
      auto hit = fit->second.histograms.find(key);
      if (hit != fit->second.histograms.end()) {
        hit->second->observe(seconds);
        return;
      }
    }
  }
  std::unique_lock lock(mutex_);
  auto& histograms = family(name, "histogram").histograms;
  auto hit = histograms.find(key);
  if (hit == histograms.end()) hit = histograms.emplace(key, nullptr).first;
  auto& slot = hit->second;
  if (!slot) slot = std::make_unique<Histogram>();
  slot->observe(seconds);
}

void Metrics::gauge(const std::string& name, std::string help, std::function<double()> read) {
  std::unique_lock lock(mutex_);
  auto& f = families_[name];
  f.type = "gauge";
  f.help = std::move(help);
  f.gauge = std::move(read);
}

std::string Metrics::render() const {
  std::string out;
  std::shared_lock lock(mutex_);
  for (const auto& [name, f] : families_) {
    if (!f.help.empty()) out += "# HELP " + name + " " + f.help + "\n";
    out += "# TYPE " + name + " " + f.type + "\n";
    if (f.gauge) out += name + " " + format_number(f.gauge()) + "\n";
    for (const auto& [labels, value] : f.counters) {
      out += name + labels + " " + std::to_string(value->load()) + "\n";
    }
    for (const auto& [labels, histogram] : f.histograms) histogram->render(name, labels, out);
  }
  return out;
}

}  // namespace otpd::obs
