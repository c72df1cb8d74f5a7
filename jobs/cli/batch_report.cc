#include "jobs/cli/batch_report.h"

#include <cstdio>

namespace cellblock {

void BatchTally::add(const Result& r) {
  ++done_;
  if (!(r.status == Status::exited && r.exit_code == 0)) ++failed_;
  ++by_status_[std::string(to_string(r.status))];
}

double BatchTally::elapsed_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

std::string BatchTally::progress_line(size_t running) const {
  double elapsed = elapsed_s();
  double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0;
  char eta[32] = "ETA --";
  if (rate > 0 && done_ < total_) std::snprintf(eta, sizeof eta, "ETA %.0f s", static_cast<double>(total_ - done_) / rate);
  if (done_ >= total_) std::snprintf(eta, sizeof eta, "done");
  int width = static_cast<int>(std::to_string(total_).size());
  char line[160];
  std::snprintf(line, sizeof line, "[%*zu/%zu] running %zu, failed %zu, %.1f jobs/s, %s", width, done_, total_, running,
                failed_, rate, eta);
  return line;
}

std::string BatchTally::summary() const {
  double elapsed = elapsed_s();
  char head[128];
  std::snprintf(head, sizeof head, "%zu jobs in %.1f s (%.1f jobs/s)", done_, elapsed,
                elapsed > 0 ? static_cast<double>(done_) / elapsed : 0.0);
  std::string out = head;
  std::string sep = ": ";
  for (auto& [status, n] : by_status_) {
    out += sep + status + " " + std::to_string(n);
    sep = ", ";
  }
  return out;
}

std::string human_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) v /= 1024, ++u;
  char buf[32];
  if (u == 0) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  else std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

std::string results_table(const std::vector<Result>& results) {
  size_t id_width = 2;
  for (const Result& r : results) id_width = std::max(id_width, r.id.size());
  std::string out;
  char line[512];
  std::snprintf(line, sizeof line, "%-*s  %-16s %6s %9s %11s %9s\n", static_cast<int>(id_width), "id", "status", "exit",
                "cpu ms", "peak mem", "wall ms");
  out += line;
  for (const Result& r : results) {
    std::string exit = r.exit_code ? std::to_string(*r.exit_code) : r.signal ? "sig" + std::to_string(*r.signal) : "-";
    std::snprintf(line, sizeof line, "%-*s  %-16s %6s %9.1f %11s %9.1f\n", static_cast<int>(id_width), r.id.c_str(),
                  std::string(to_string(r.status)).c_str(), exit.c_str(), r.stats.cpu_time_ms,
                  human_bytes(r.stats.memory_peak_bytes).c_str(), r.stats.wall_time_ms);
    out += line;
  }
  return out;
}

}  // namespace cellblock
