// Prometheus metrics: counters, gauges and histograms with labels, and their exposition in the
// text format 0.0.4 (what `GET /metrics` answers). Debian has no Prometheus client library for
// C++, so this is the small part of one that cellblock needs.
//
// Adding a metric is one line where the thing is counted:
//
//   auto& jobs = registry.counter("cellblock_jobs_total", "Jobs ended, by status", {"status"});
//   jobs.with({"exited"}).inc();
//   registry.gauge_fn("cellblock_redis_pending", "Jobs read but not acked", [&] { return pending(); });
//
// Label values must stay few (a status, a route pattern), never a job id: each value makes a
// series that lives as long as the process. Everything here is thread-safe; incrementing a
// series is a lock-free atomic, finding it by label values takes the family's mutex, so a hot
// path keeps the reference `with()` returned.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace cellblock::metrics {

using LabelValues = std::vector<std::string>;

class Counter {
 public:
  void inc(double by = 1) { value_.fetch_add(by, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double by) { value_.fetch_add(by, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  // `bounds`: the buckets' upper bounds, increasing; +Inf is implied.
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket, not cumulative; last is +Inf
  std::atomic<double> sum_{0};
};

// A metric's series, one per combination of label values.
template <typename Series>
class Family {
 public:
  Family(std::vector<std::string> label_names, std::function<std::unique_ptr<Series>()> make)
      : label_names_(std::move(label_names)), make_(std::move(make)) {}
  // The series for these label values (as many as the family has label names), made at first use.
  // Throws std::invalid_argument for the wrong number of values.
  Series& with(const LabelValues& values);
  // With no labels: the family's one series.
  Series& get() { return with({}); }

  const std::vector<std::string>& label_names() const { return label_names_; }
  // Each series with its label values, in label order (for the exposition).
  void each(const std::function<void(const LabelValues&, const Series&)>& visit) const;

 private:
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<Series>()> make_;
  mutable std::mutex mutex_;
  std::map<LabelValues, std::unique_ptr<Series>> series_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// Bucket bounds: `count` bounds from `start`, each `factor` times the one before.
std::vector<double> exponential_buckets(double start, double factor, size_t count);

class Registry {
 public:
  Registry();
  ~Registry();
  // Names must match [a-zA-Z_:][a-zA-Z0-9_:]* and be unique in the registry (std::invalid_argument
  // otherwise); counters' names end in _total, as the format's conventions say.
  CounterFamily& counter(const std::string& name, const std::string& help, std::vector<std::string> labels = {});
  GaugeFamily& gauge(const std::string& name, const std::string& help, std::vector<std::string> labels = {});
  HistogramFamily& histogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                             std::vector<std::string> labels = {});
  // A gauge whose value is read when the metrics are scraped (a queue's depth, a pool's size).
  // `read` runs on the scraping thread; it must be thread-safe and quick.
  void gauge_fn(const std::string& name, const std::string& help, std::function<double()> read,
                std::vector<std::string> label_names = {}, LabelValues label_values = {});

  // Every metric in the Prometheus text format 0.0.4, in the order they were registered.
  std::string expose() const;
  static constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

 private:
  struct Entry;
  Entry& add(const std::string& name, const std::string& help, const char* type, std::vector<std::string> labels);

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Entry>> entries_;
};

// For the exposition and its tests: a sample value as the format writes it ("+Inf", "NaN",
// integers without a decimal point), and a label value or help text escaped.
std::string format_value(double v);
std::string escape_label_value(const std::string& s);
std::string escape_help(const std::string& s);

}  // namespace cellblock::metrics
