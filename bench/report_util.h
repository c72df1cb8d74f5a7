// Small helpers shared by the benchmark programs (accuracy, scale, compare): numbers for the
// report, this process's memory from /proc/self/status, files written whole or not at all, and
// a main() that reports what went wrong.
#pragma once

#include <sys/utsname.h>
#include <unistd.h>
#include <time.h>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "executor/base/sys_error.h"

namespace cellblock::bench {

// A scratch directory the benchmark made for itself, removed however the run ends, also when it
// leaves early with an exception. Declare it before whatever uses the directory (an Executor, a
// service, worker processes), so that it goes after them. An empty `dir` is left alone (the
// user named the directory).
struct RemoveAtEnd {
  std::string dir;
  ~RemoveAtEnd() {
    std::error_code ec;
    if (!dir.empty()) std::filesystem::remove_all(dir, ec);
  }
};

inline std::string fmt(double v, int prec = 2) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", prec, v);
  return buf;
}

// The middle value, or the mean of the two middle ones; 0 for none.
inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The median of b[i] - a[i] over the pairs both have: what path b adds to path a, from runs
// paired by their place in interleaved blocks, so both of a pair saw about the same load on the
// machine; it drifts less with that load than the difference of the two medians.
inline double median_paired_difference(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> d;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) d.push_back(b[i] - a[i]);
  return median(std::move(d));
}

// The value below which a fraction p of them lie (nearest rank); 0 for none.
inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

inline double max_of(const std::vector<double>& v) { return v.empty() ? 0 : *std::max_element(v.begin(), v.end()); }

// Writes through a temporary file and a rename, so a reader never sees half a report.
inline void write_file(const std::string& path, const std::string& text) {
  if (path.empty()) return;
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    if (!f) throw std::runtime_error("cannot write " + tmp);
    f << text;
    if (!f.flush()) throw std::runtime_error("cannot write " + tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) throw_sys("rename(" + cellblock::quoted(tmp) + ", " + cellblock::quoted(path) + ")");
}

inline std::string utc_now() {
  time_t t = time(nullptr);
  tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

inline std::string kernel_release() {
  utsname u{};
  uname(&u);
  return std::string(u.sysname) + " " + u.release;
}

inline std::string read_first_line(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return line;
}

// This process's resident memory and threads, from /proc/self/status (KiB).
struct ProcMemory {
  uint64_t rss_kib = 0;  // VmRSS: resident now
  uint64_t hwm_kib = 0;  // VmHWM: the most resident since start or since reset_peak_rss()
  uint64_t threads = 0;
};

inline ProcMemory proc_memory() {
  ProcMemory m;
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);) {
    auto value = [&](size_t skip) { return std::stoull(line.substr(skip)); };
    if (line.rfind("VmRSS:", 0) == 0) m.rss_kib = value(6);
    else if (line.rfind("VmHWM:", 0) == 0) m.hwm_kib = value(6);
    else if (line.rfind("Threads:", 0) == 0) m.threads = value(8);
  }
  return m;
}

// Sets VmHWM back to the current VmRSS (proc(5), /proc/PID/clear_refs, value 5; Linux 4.0+),
// so that a peak belongs to one part of a run, not to whatever came before it.
inline bool reset_peak_rss() {
  std::ofstream f("/proc/self/clear_refs");
  f << "5";
  f.flush();
  return bool(f);
}

// The options every report program shares: where its results go, whether missed targets count,
// and the progress line. `what_fails` names what still fails the run with --no-targets.
struct ReportOptions {
  std::string json_path, md_path;
  bool targets = true;
  bool progress = isatty(2);
};

inline void add_report_options(CLI::App& app, ReportOptions& o, const std::string& what_fails) {
  app.add_option("--json", o.json_path, "write the results as JSON here");
  app.add_option("--markdown", o.md_path, "write a Markdown fragment for docs/benchmarks.md here");
  app.add_flag("!--no-targets", o.targets, "missed targets do not change the exit status (" + what_fails + " still do)");
  app.add_flag("--progress,!--no-progress", o.progress, "progress on stderr (default: when it is a terminal)");
}

// The options of a benchmark whose jobs run a busybox rootfs under one security policy.
inline void add_job_options(CLI::App& app, std::string& rootfs, std::string& policy) {
  app.add_option("--rootfs", rootfs, "busybox rootfs (ci/make-rootfs)")->capture_default_str();
  app.add_option("--policy", policy, "security policy of the jobs")->capture_default_str();
}

// Parses the command line; an exit status when the program is to stop now (0 after --help,
// 2 after a usage error, printed by CLI11), nothing when it goes on. A benchmark that goes on
// logs only warnings, so that the executor's info lines do not mix with its progress line.
inline std::optional<int> parse_or_exit(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  spdlog::set_level(spdlog::level::warn);
  return std::nullopt;
}

// The start of a Markdown report: its heading, then when and on what kernel it was measured.
inline std::string markdown_heading(const std::string& title, const std::string& date, int cgroup_version) {
  return "## " + title + "\n\n- date: " + date + "; kernel " + kernel_release() + "; cgroup v" +
         std::to_string(cgroup_version) + "\n";
}

// One row of a Markdown table.
inline std::string markdown_row(const std::vector<std::string>& cells) {
  std::string row = "|";
  for (const std::string& c : cells) row += " " + c + " |";
  return row + "\n";
}

// The end of a Markdown report: every target met, or the list of those missed.
inline std::string missed_markdown(const std::vector<std::string>& missed) {
  std::string md = "\n" + std::string(missed.empty() ? "All targets met.\n" : "**Missed:**\n");
  for (const std::string& m : missed) md += "- " + m + "\n";
  return md;
}

// A benchmark's main(): `run` returns the exit status; anything thrown is one line on stderr
// and exit status 2.
inline int main_guarded(const char* name, int (*run)(int, char**), int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << name << ": " << e.what() << "\n";
    return 2;
  }
}

}  // namespace cellblock::bench
