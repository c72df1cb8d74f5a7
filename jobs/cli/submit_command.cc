#include "jobs/cli/submit_command.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <sstream>

#include "executor/base/host_file.h"
#include "executor/base/sys_error.h"
#include "jobs/cli/batch_report.h"
#include "jobs/cli/job_flags.h"
#include "jobs/cli/queue_flags.h"
#include "jobs/dispatch/job_records.h"
#include "jobs/dispatch/job_stream.h"
#include "jobs/dispatch/stop_signals.h"
#include "jobs/format/json_reader.h"
#include "jobs/format/result_json.h"

namespace cellblock {
namespace {

using std::chrono::milliseconds;

struct Pending {
  size_t line;
  std::string id;
  std::string text;  // the job's JSON, with its id
};

// "job-<12 hex>-<n>": unique across submitters without asking Redis, since results are kept by id.
std::string new_job_id(size_t n) {
  static const std::string prefix = [] {
    std::random_device random;
    std::ostringstream hex;
    hex << std::hex << (static_cast<uint64_t>(random()) << 16 ^ random());
    return "job-" + hex.str() + "-";
  }();
  return prefix + std::to_string(n);
}

// Jobs that are JSON objects get an id if they have none; others become invalid_job results
// right here, as in `cellblock batch`. Throws FieldError when two jobs share an id.
std::vector<Pending> read_jobs(const std::string& input, std::vector<std::pair<size_t, Result>>& invalid) {
  std::vector<Pending> jobs;
  std::map<std::string, size_t> line_of_id;
  std::istringstream in(input);
  size_t number = 0;
  for (std::string text; std::getline(in, text);) {
    ++number;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = parse_json_text(text);
      require_object(j, "");
      if (j.contains("id")) read_string(j["id"], "id", /*allow_empty=*/false);
    } catch (const FieldError& e) {
      Result r;
      r.status = Status::invalid_job;
      r.error = e.what();
      r.id = id_of_job_text(text);
      invalid.emplace_back(number, std::move(r));
      continue;
    }
    if (!j.contains("id")) j["id"] = new_job_id(number);
    std::string id = j["id"];
    if (auto [it, fresh] = line_of_id.emplace(id, number); !fresh)
      throw FieldError("line " + std::to_string(number) + ": id",
                       json_quoted(id) + " is the id of line " + std::to_string(it->second) +
                           " too; each job needs its own (its result is kept by id)");
    jobs.push_back({number, id, j.dump()});
  }
  return jobs;
}

constexpr size_t kChunk = 500;  // jobs per round trip

// Adds the jobs as a front end's POST does (accept_jobs: each entry with its NAME:job:<id>, so that
// GET /v1/jobs/<id> on any front end answers "queued" or "running" for them too), 500 to a round
// trip. An id that a job or a result has already is refused alone: it leaves `jobs` and is
// returned, and the rest of its chunk goes in again. Throws RedisError.
std::vector<Pending> add_jobs(RedisClient& redis, const QueueKeys& keys, std::vector<Pending>& jobs, std::chrono::seconds ttl) {
  std::vector<Pending> taken, added;
  for (size_t i = 0; i < jobs.size(); i += kChunk) {
    std::vector<Pending> chunk(jobs.begin() + static_cast<long>(i), jobs.begin() + static_cast<long>(std::min(jobs.size(), i + kChunk)));
    while (!chunk.empty()) {
      std::vector<NewJob> entries;
      for (const Pending& p : chunk) entries.push_back({p.id, stream_for_text(keys, p.text), p.text});
      const std::optional<std::string> refused = accept_jobs(redis, keys, entries, ttl);
      if (!refused) break;
      auto it = std::find_if(chunk.begin(), chunk.end(), [&](const Pending& p) { return p.id == *refused; });
      if (it == chunk.end()) throw RedisError(redis.url().display() + ": the queue refused an id it was not sent: " + *refused);
      taken.push_back(*it);
      chunk.erase(it);
    }
    added.insert(added.end(), chunk.begin(), chunk.end());
  }
  jobs = std::move(added);
  return taken;
}

}  // namespace

void add_submit_command(CLI::App& app, SubmitOptions& o) {
  CLI::App* submit = app.add_subcommand("submit", "Add jobs to a Redis queue for `cellblock worker`s (docs/distributed.md)");
  submit->add_option("--redis", o.redis, "redis://[user:password@]host:port[/db]")->required();
  submit->add_option("--queue", o.queue, "Queue name")->required();
  submit->add_option("jobs", o.input, "Job file, JSON lines; - for stdin")->capture_default_str();
  submit->add_flag("--wait", o.wait, "Print each result as a JSON line when it is there");
  submit->add_option("--out,-o", o.out_file, "Write result lines here instead of stdout");
  submit->add_flag("--quiet,-q", o.quiet, "No summary");
  submit->add_option("--job-ttl", o.job_ttl, "How long Redis remembers a job's id for front ends (GET /v1/jobs/<id>)")
      ->capture_default_str();
  submit->add_option("--cancel", o.cancel, "Cancel the job with this id on whichever worker runs it (adds nothing)");
}

namespace {

// The worker holding the job cancels it now (NAME:cancel); one that reads it later ends it
// unrun (NAME:cancelled:<id>, kept as long as a result would be).
int cancel_job(const RedisUrl& url, const QueueKeys& keys, const std::string& id) {
  try {
    RedisClient redis(url);
    request_cancel(redis, keys, id, std::chrono::hours(24));
    std::cerr << "cellblock submit: cancel of " << id << " sent\n";
  } catch (const RedisError& e) {
    std::cerr << "cellblock submit: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace

int submit_command(const SubmitOptions& o) {
  if (o.cancel) {
    try {
      return cancel_job(parse_redis_url(o.redis), QueueKeys(o.queue), *o.cancel);
    } catch (const FieldError& e) {
      std::cerr << "cellblock submit: " << e.what() << "\n";
      return 2;
    }
  }
  std::vector<std::pair<size_t, Result>> invalid;
  std::vector<Pending> jobs;
  RedisUrl url;
  std::chrono::seconds job_ttl{};
  std::optional<HostOutputFile> out_file;
  try {
    url = parse_redis_url(o.redis);
    job_ttl = std::chrono::duration_cast<std::chrono::seconds>(milliseconds(parse_duration_ms(o.job_ttl)));
    if (job_ttl.count() < 1) throw FieldError("--job-ttl", json_quoted(o.job_ttl) + " is shorter than a second");
    jobs = read_jobs(read_input(o.input, "jobs"), invalid);
    if (o.out_file) out_file.emplace(*o.out_file);
  } catch (const std::exception& e) {
    std::cerr << "cellblock submit: " << e.what() << "\n";
    return 2;
  }
  auto write_line = [&](const nlohmann::json& j) {
    if (out_file) out_file->write(dump_json(j) + "\n");
    else std::cout << dump_json(j) << "\n" << std::flush;
  };
  BatchTally tally(jobs.size() + invalid.size());
  auto emit = [&](const Result& r, nlohmann::json j, size_t line) {
    j["line"] = line;
    write_line(j);
    tally.add(r);
  };
  for (const auto& [line, r] : invalid) emit(r, result_to_json(r), line);

  block_stop_signals();
  const QueueKeys keys(o.queue);
  int stopped_by = 0;
  try {
    auto redis = std::make_unique<RedisClient>(url);
    for (const Pending& p : add_jobs(*redis, keys, jobs, job_ttl)) {
      Result r;
      r.status = Status::invalid_job;
      r.id = p.id;
      r.error = "id: " + json_quoted(p.id) + " is taken in queue " + o.queue +
                " (a job or a result has it already); each job needs its own";
      emit(r, result_to_json(r), p.line);
    }
    if (!o.wait) {
      for (const Pending& p : jobs) write_line({{"id", p.id}, {"line", p.line}, {"queue", o.queue}});
    } else {
      // Polling the result keys: a subscriber would miss what was published before it
      // subscribed, and the keys are there whenever we look.
      std::vector<Pending> waiting = jobs;
      auto pause = milliseconds(20);
      bool lost = false;  // Redis went away while we waited: said once, and again when it is back
      while (!waiting.empty() && !stopped_by) {
        // Every chunk read before any result is printed, so that a pass cut short prints nothing twice.
        std::vector<Reply> replies;
        try {
          if (!redis->ok()) redis = std::make_unique<RedisClient>(url);
          for (size_t i = 0; i < waiting.size(); i += kChunk) {
            Command get{"MGET"};
            for (size_t k = i; k < std::min(waiting.size(), i + kChunk); ++k) get.push_back(keys.result(waiting[k].id));
            replies.push_back(redis->command(get));
          }
        } catch (const RedisError& e) {
          // A restarted Redis keeps the jobs and their results (AOF; docs/distributed.md), and
          // the workers write what finished meanwhile when it is back: wait for it.
          if (!lost) std::cerr << "cellblock submit: " << e.what() << "; waiting for Redis to answer again\n";
          lost = true;
          pause = std::min(std::max(pause * 2, milliseconds(100)), milliseconds(2000));
          stopped_by = wait_for_stop_signal(pause);
          continue;
        }
        if (lost) std::cerr << "cellblock submit: Redis answers again\n";
        lost = false;
        std::vector<Pending> still;
        for (size_t i = 0; i < waiting.size(); i += kChunk) {
          const size_t end = std::min(waiting.size(), i + kChunk);
          const Reply& r = replies[i / kChunk];
          for (size_t k = i; k < end; ++k) {
            const redisReply* value = r->element[k - i];
            if (is_nil(value)) {
              still.push_back(waiting[k]);
              continue;
            }
            nlohmann::json j = nlohmann::json::parse(reply_string(value));
            emit(result_from_json(j), j, waiting[k].line);
          }
        }
        pause = still.size() < waiting.size() ? milliseconds(20) : std::min(pause * 2, milliseconds(500));
        waiting = std::move(still);
        if (!waiting.empty()) stopped_by = wait_for_stop_signal(pause);
      }
    }
  } catch (const RedisError& e) {
    std::cerr << "cellblock submit: " << e.what() << "\n";
    return 1;
  }
  if (!o.quiet) {
    if (o.wait) std::cerr << "cellblock submit: " << tally.summary() << "\n";
    else std::cerr << "cellblock submit: " << jobs.size() << " jobs added to " << keys.jobs << "\n";
  }
  return stopped_by ? 128 + stopped_by : 0;
}

}  // namespace cellblock
