#include "jobs/cli/batch_command.h"

#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>

#include "executor/base/host_file.h"
#include "executor/base/sys_error.h"
#include "jobs/cli/batch_report.h"
#include "jobs/cli/image_command.h"
#include "jobs/cli/queue_flags.h"
#include "jobs/cli/job_flags.h"
#include "jobs/format/job_json.h"
#include "jobs/format/result_json.h"
#include "jobs/queue/job_queue.h"

namespace cellblock {
namespace {

namespace asio = boost::asio;

struct Line {
  size_t number;
  std::optional<JobRequest> request;  // empty when the line is invalid
  Result invalid;
};

std::vector<Line> read_lines(std::istream& in, const nlohmann::json& defaults, PolicyRegistry& policies,
                             const std::function<void(JobSpec&)>& resolve_image) {
  std::vector<Line> lines;
  size_t number = 0;
  for (std::string text; std::getline(in, text);) {
    ++number;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank lines are not jobs
    Line line{number, std::nullopt, {}};
    try {
      line.request = parse_job_text(text, defaults, policies, HostFiles::read, resolve_image);
    } catch (const FieldError& e) {
      line.invalid.status = Status::invalid_job;
      line.invalid.error = e.what();
      line.invalid.id = id_of_job_text(text);
    }
    lines.push_back(std::move(line));
  }
  return lines;
}

}  // namespace

void add_batch_command(CLI::App& app, BatchOptions& o) {
  CLI::App* batch = app.add_subcommand("batch", "Run a file of jobs (one JSON per line) through the queue");
  batch->add_option("jobs", o.input, "Job file, JSON lines; - for stdin")->capture_default_str();
  batch->add_option("--out,-o", o.out_file, "Write result lines here instead of stdout");
  o.queue.add_to(*batch);
  batch->add_flag("--quiet,-q", o.quiet, "No progress line and no summary");
  batch->add_flag("--table", o.table, "Print a table of the results at the end (stdout with --out, else stderr)");
}

int batch_command(const BatchOptions& o, const std::function<Executor&()>& executor, PolicyRegistry& policies) {
  nlohmann::json defaults;
  std::vector<Line> lines;
  QueueOptions queue_options;
  std::chrono::milliseconds grace;
  // Images are imported while the lines are read, each once, and their layers stay held until
  // the batch ends.
  auto resolve_image = image_job_resolver(o.state_dir, o.quiet);
  try {
    if (o.queue.defaults_file) defaults = read_defaults(*o.queue.defaults_file);
    queue_options = o.queue.queue_options();
    grace = std::chrono::milliseconds(parse_duration_ms(o.queue.grace));
    std::istringstream in(read_input(o.input, "jobs"));
    lines = read_lines(in, defaults, policies, resolve_image);
  } catch (const std::exception& e) {
    std::cerr << "cellblock batch: " << e.what() << "\n";
    return 2;
  }
  std::optional<HostOutputFile> out_file;
  try {
    if (o.out_file) out_file.emplace(*o.out_file);
  } catch (const SysError& e) {
    std::cerr << "cellblock batch: " << e.what() << "\n";
    return 2;
  }
  auto write_line = [&](const std::string& line) {
    if (out_file) out_file->write(line);
    else std::cout << line << std::flush;
  };
  const bool show_progress = !o.quiet && ::isatty(STDERR_FILENO);
  // Results on the same terminal as the progress line: wipe the line before each result, or
  // the result would be glued to it; the next tick draws it again.
  const bool results_on_terminal = show_progress && !out_file && ::isatty(STDOUT_FILENO);

  BatchTally tally(lines.size());
  std::vector<Result> finished;  // for the table
  std::mutex mutex;              // results come from the queue's thread, invalid lines from here
  asio::io_context ui;
  auto emit = [&](Result& r, size_t line_number) {
    std::lock_guard lock(mutex);
    nlohmann::json j = result_to_json(r);
    j["line"] = line_number;
    if (results_on_terminal) std::cerr << "\r\033[K" << std::flush;
    write_line(dump_json(j) + "\n");
    tally.add(r);
    if (o.table) finished.push_back(r);
    if (tally.done() == lines.size()) asio::post(ui, [&ui] { ui.stop(); });
  };

  ExecutorRunner runner(executor());
  JobQueue queue(runner, queue_options);

  // First SIGINT/SIGTERM: stop admitting and give running jobs the grace period; second: kill.
  asio::signal_set signals(ui, SIGINT, SIGTERM);
  int signals_seen = 0;
  int first_signal = 0;
  std::function<void(const boost::system::error_code&, int)> on_signal = [&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    if (++signals_seen == 1) first_signal = sig;
    if (!o.quiet)
      std::cerr << (show_progress ? "\n" : "") << "cellblock batch: " << (sig == SIGINT ? "SIGINT" : "SIGTERM")
                << (signals_seen == 1 ? ": stopping; running jobs get the grace period" : ": killing running jobs")
                << std::endl;
    queue.shutdown(signals_seen == 1 ? grace : std::chrono::milliseconds(0));
    signals.async_wait(on_signal);
  };
  signals.async_wait(on_signal);

  asio::steady_timer progress(ui);
  std::function<void()> tick = [&] {
    {
      std::lock_guard lock(mutex);
      std::cerr << "\r\033[K" << tally.progress_line(queue.counts().running) << std::flush;
    }
    progress.expires_after(std::chrono::milliseconds(200));
    progress.async_wait([&](const boost::system::error_code& ec) {
      if (!ec) tick();
    });
  };
  if (show_progress) tick();

  for (Line& line : lines) {
    if (!line.request) {
      emit(line.invalid, line.number);
      continue;
    }
    Submission s;
    s.job = std::move(line.request->job);
    s.priority = line.request->priority;
    s.queue_timeout_ms = line.request->queue_timeout_ms;
    s.on_done = [&emit, number = line.number](Result& r) { emit(r, number); };
    queue.submit(std::move(s));
  }
  if (!lines.empty()) ui.run();
  queue.wait_idle();

  if (show_progress) std::cerr << "\r\033[K" << tally.progress_line(0) << "\n";
  if (!o.quiet)
    std::cerr << "cellblock batch: " << tally.summary()
              << (first_signal ? std::string(" (stopped by ") + (first_signal == SIGINT ? "SIGINT" : "SIGTERM") + ")" : "")
              << std::endl;
  if (o.table) (o.out_file ? std::cout : std::cerr) << results_table(finished) << std::flush;
  // Stopped by a signal: the shell's convention, 128 + its number, so that a script can tell an
  // interrupted batch from one where every job ran.
  return first_signal ? 128 + first_signal : 0;
}

}  // namespace cellblock
