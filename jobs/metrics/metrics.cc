#include "jobs/metrics/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace cellblock::metrics {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  if (!std::is_sorted(bounds_.begin(), bounds_.end()) ||
      std::adjacent_find(bounds_.begin(), bounds_.end()) != bounds_.end())
    throw std::invalid_argument("histogram bounds must be strictly increasing");
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void Histogram::observe(double v) {
  // "le": a value equal to a bound belongs to that bound's bucket.
  const size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

template <typename Series>
Series& Family<Series>::with(const LabelValues& values) {
  if (values.size() != label_names_.size())
    throw std::invalid_argument("expected " + std::to_string(label_names_.size()) + " label values, got " +
                                std::to_string(values.size()));
  std::lock_guard lock(mutex_);
  auto& slot = series_[values];
  if (!slot) slot = make_();
  return *slot;
}

template <typename Series>
void Family<Series>::each(const std::function<void(const LabelValues&, const Series&)>& visit) const {
  std::lock_guard lock(mutex_);
  for (const auto& [values, series] : series_) visit(values, *series);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

std::vector<double> exponential_buckets(double start, double factor, size_t count) {
  std::vector<double> b;
  for (double v = start; b.size() < count; v *= factor) b.push_back(v);
  return b;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  // The shortest form that reads back as the same double: 0.004, not 0.0040000000000000001.
  for (int precision = 15; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

namespace {
// The exposition format escapes a backslash and a newline in help text, and a double quote
// too in a label value.
std::string escape(const std::string& s, bool quotes) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (quotes && c == '"') out += "\\\"";
    else out += c;
  }
  return out;
}
}  // namespace

std::string escape_label_value(const std::string& s) { return escape(s, true); }
std::string escape_help(const std::string& s) { return escape(s, false); }

namespace {

bool valid_name(const std::string& name, bool label) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = std::isalpha(static_cast<unsigned char>(c)) || c == '_' || (!label && c == ':') ||
                    (i > 0 && std::isdigit(static_cast<unsigned char>(c)));
    if (!ok) return false;
  }
  return !(label && name.rfind("__", 0) == 0);  // reserved for Prometheus itself
}

// {a="x",b="y"} with `extra` (a histogram's le) last; "" when there are no labels at all.
std::string label_set(const std::vector<std::string>& names, const LabelValues& values, const std::string& extra = "") {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i)
    out += (out.empty() ? "" : ",") + names[i] + "=\"" + escape_label_value(values[i]) + "\"";
  if (!extra.empty()) out += (out.empty() ? "" : ",") + extra;
  return out.empty() ? "" : "{" + out + "}";
}

}  // namespace

struct Registry::Entry {
  std::string name, help, type;
  std::vector<std::string> labels;
  std::unique_ptr<CounterFamily> counters;
  std::unique_ptr<GaugeFamily> gauges;
  std::unique_ptr<HistogramFamily> histograms;
  std::function<double()> read;  // gauge_fn
  LabelValues read_labels;
};

Registry::Registry() = default;
Registry::~Registry() = default;

Registry::Entry& Registry::add(const std::string& name, const std::string& help, const char* type,
                               std::vector<std::string> labels) {
  if (!valid_name(name, false)) throw std::invalid_argument("metric name \"" + name + "\" is not valid");
  for (const auto& l : labels)
    if (!valid_name(l, true) || l == "le") throw std::invalid_argument("label name \"" + l + "\" is not valid");
  if (std::string(type) == "counter" && (name.size() < 6 || name.substr(name.size() - 6) != "_total"))
    throw std::invalid_argument("counter \"" + name + "\" must end in _total");
  std::lock_guard lock(mutex_);
  for (const auto& e : entries_)
    if (e->name == name) throw std::invalid_argument("metric \"" + name + "\" is registered twice");
  auto e = std::make_unique<Entry>();
  e->name = name;
  e->help = help;
  e->type = type;
  e->labels = std::move(labels);
  entries_.push_back(std::move(e));
  return *entries_.back();
}

CounterFamily& Registry::counter(const std::string& name, const std::string& help, std::vector<std::string> labels) {
  Entry& e = add(name, help, "counter", labels);
  e.counters = std::make_unique<CounterFamily>(e.labels, [] { return std::make_unique<Counter>(); });
  return *e.counters;
}

GaugeFamily& Registry::gauge(const std::string& name, const std::string& help, std::vector<std::string> labels) {
  Entry& e = add(name, help, "gauge", labels);
  e.gauges = std::make_unique<GaugeFamily>(e.labels, [] { return std::make_unique<Gauge>(); });
  return *e.gauges;
}

HistogramFamily& Registry::histogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                                     std::vector<std::string> labels) {
  Histogram check(bounds);  // rejects bad bounds before anything is registered
  Entry& e = add(name, help, "histogram", labels);
  e.histograms = std::make_unique<HistogramFamily>(e.labels, [bounds] { return std::make_unique<Histogram>(bounds); });
  return *e.histograms;
}

void Registry::gauge_fn(const std::string& name, const std::string& help, std::function<double()> read,
                        std::vector<std::string> label_names, LabelValues label_values) {
  if (label_names.size() != label_values.size())
    throw std::invalid_argument("gauge \"" + name + "\": as many label values as names");
  Entry& e = add(name, help, "gauge", label_names);
  e.read = std::move(read);
  e.read_labels = std::move(label_values);
}

std::string Registry::expose() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& e : entries_) {
    out += "# HELP " + e->name + " " + escape_help(e->help) + "\n";
    out += "# TYPE " + e->name + " " + e->type + "\n";
    if (e->read) out += e->name + label_set(e->labels, e->read_labels) + " " + format_value(e->read()) + "\n";
    if (e->counters)
      e->counters->each([&](const LabelValues& v, const Counter& c) {
        out += e->name + label_set(e->labels, v) + " " + format_value(c.value()) + "\n";
      });
    if (e->gauges)
      e->gauges->each([&](const LabelValues& v, const Gauge& g) {
        out += e->name + label_set(e->labels, v) + " " + format_value(g.value()) + "\n";
      });
    if (e->histograms)
      e->histograms->each([&](const LabelValues& v, const Histogram& h) {
        const Histogram::Snapshot s = h.snapshot();
        for (size_t i = 0; i < s.cumulative.size(); ++i) {
          const std::string le = i < h.bounds().size() ? format_value(h.bounds()[i]) : "+Inf";
          out += e->name + "_bucket" + label_set(e->labels, v, "le=\"" + le + "\"") + " " +
                 format_value(static_cast<double>(s.cumulative[i])) + "\n";
        }
        out += e->name + "_sum" + label_set(e->labels, v) + " " + format_value(s.sum) + "\n";
        out += e->name + "_count" + label_set(e->labels, v) + " " + format_value(static_cast<double>(s.count)) + "\n";
      });
  }
  return out;
}

}  // namespace cellblock::metrics
