#include "jobs/service/journal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <future>
#include <map>
#include <set>

#include "executor/base/dir_files.h"
#include "executor/base/host_file.h"
#include "executor/base/sys_error.h"
#include "jobs/format/json_reader.h"
#include "jobs/format/result_json.h"

namespace cellblock::service {
namespace {

namespace net = boost::asio;

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

Journal::Journal(const std::string& state_dir, net::io_context& io) : dir_(state_dir + "/service"), io_(io) {
  ::mkdir(state_dir.c_str(), 0755);
  UniqueFd dir = open_or_make_dir(dir_);
  lock_.reset(::openat(dir.get(), "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!lock_) throw_sys("open(" + cellblock::quoted(dir_ + "/lock") + ")");
  if (::flock(lock_.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK)
      throw std::runtime_error("--state-dir " + cellblock::quoted(state_dir) + ": another cellblock serve uses it (" + dir_ +
                               "/lock is locked)");
    throw_sys("flock(" + cellblock::quoted(dir_ + "/lock") + ")");
  }
  jobs_dir_ = open_or_make_dir(dir_ + "/jobs");
  results_dir_ = open_or_make_dir(dir_ + "/results");
  log_.emplace(dir_ + "/log", lock_.get());  // any fd of the file system serves syncfs
  log_->before_checkpoint([this] { write_files(); });
}

Journal::~Journal() { writer_.join(); }

void Journal::withdraw_files(const std::vector<std::string>& ids) {
  for (const std::string& id : ids) {
    unfiled_.jobs.erase(id);
    ::unlinkat(jobs_dir_.get(), (id + ".json").c_str(), 0);  // if a checkpoint wrote it meanwhile
    try {
      log_->append({{"op", "withdraw"}, {"id", id}});
    } catch (const std::exception&) {
      // The log is what failed: whatever of the accept is in it cannot be told apart from a
      // job the client was told of, so it may run once after a restart.
    }
  }
}

void Journal::accept(std::vector<JobEntry> jobs, std::function<void(std::string)> done) {
  accepts_posted_.fetch_add(1);
  net::post(writer_, [this, jobs = std::move(jobs), done = std::move(done)]() mutable {
    const bool more_follow = accepts_posted_.fetch_sub(1) > 1;
    std::vector<std::string> ids;
    for (const JobEntry& j : jobs) ids.push_back(j.id);
    try {
      // A write survives a kill -9 as soon as it is made; the log's fdatasync makes the jobs
      // survive the machine too (write_ahead_log.h). Their files wait for the next checkpoint.
      for (const JobEntry& j : jobs) {
        unfiled_.jobs[j.id] = j.record;
        log_->append({{"op", "accept"}, {"id", j.id}, {"record", j.record}});
      }
      unsynced_.push_back({std::move(ids), std::move(done)});
    } catch (const std::exception& e) {
      withdraw_files(ids);
      net::post(io_, [done = std::move(done), error = std::string(e.what())] { done(error); });
    }
    // Group commit: while another accept waits behind this one, it syncs for both.
    if (!more_follow) sync_accepted();
  });
}

void Journal::sync_accepted() {
  std::string error;
  try {
    log_->sync();
  } catch (const std::exception& e) {
    error = e.what();
    for (const Unsynced& u : unsynced_) withdraw_files(u.ids);
  }
  for (Unsynced& u : unsynced_) net::post(io_, [done = std::move(u.done), error] { done(error); });
  unsynced_.clear();
}

void Journal::started(const std::string& id, unsigned attempt) {
  net::post(writer_, [this, id, attempt] {
    try {
      // Not synced: a start survives the service, not the machine (then the job runs again as
      // the attempt it was).
      unfiled_.starts[id] = attempt;
      log_->append({{"op", "start"}, {"id", id}, {"attempt", attempt}});
    } catch (const std::exception& e) {
      spdlog::error("journal: job {}: {}", id, e.what());
    }
  });
}

void Journal::finished(const std::string& id, nlohmann::json record) {
  net::post(writer_, [this, id, record = std::move(record)] {
    try {
      // Not synced here: the next accept's sync or the next checkpoint carries it to the disk;
      // until then a crash of the machine runs the job again, as its accept is in the log (or in
      // its file, which the checkpoint that writes this result removes).
      unfiled_.jobs.erase(id);
      unfiled_.starts.erase(id);
      unfiled_.results[id] = record;
      log_->append({{"op", "result"}, {"id", id}, {"record", record}});
    } catch (const std::exception& e) {
      spdlog::error("journal: result of job {}: {}", id, e.what());
    }
  });
}

void Journal::forget(const std::string& id) {
  net::post(writer_, [this, id] {
    try {
      unfiled_.jobs.erase(id);
      unfiled_.starts.erase(id);
      unfiled_.results.erase(id);
      // Not synced: lost with the machine, the result comes back at the next load and expires
      // again. A result file is only ever written by a checkpoint, which empties the log: no
      // accept of it is left anywhere once that file goes.
      log_->append({{"op", "forget"}, {"id", id}});
    } catch (const std::exception& e) {
      spdlog::error("journal: forgetting job {}: {}", id, e.what());  // it comes back at the next load
    }
    ::unlinkat(results_dir_.get(), (id + ".json").c_str(), 0);
    // A job withdrawn before its result (JobStore::withdraw) may have left its start behind.
    ::unlinkat(jobs_dir_.get(), (id + ".started").c_str(), 0);
    ::unlinkat(jobs_dir_.get(), (id + ".json").c_str(), 0);
  });
}

void Journal::write_files() {
  for (const auto& [id, record] : unfiled_.jobs)
    write_file_at(jobs_dir_.get(), id + ".json", dump_json(record) + "\n", false);
  for (const auto& [id, attempt] : unfiled_.starts)
    write_file_at(jobs_dir_.get(), id + ".started", std::to_string(attempt) + "\n", false);
  for (const auto& [id, record] : unfiled_.results) {
    write_file_at(results_dir_.get(), id + ".json", dump_json(record) + "\n", false);
    // Its job's files, from a checkpoint while it was pending, go once the result is written.
    ::unlinkat(jobs_dir_.get(), (id + ".started").c_str(), 0);
    if (::unlinkat(jobs_dir_.get(), (id + ".json").c_str(), 0) != 0 && errno != ENOENT)
      throw_sys("unlink(" + cellblock::quoted(dir_ + "/jobs/" + id + ".json") + ")");
  }
  unfiled_ = {};
}

void Journal::flush() {
  std::promise<void> done;
  net::post(writer_, [this, &done] {
    try {
      // A clean stop leaves everything in files and the log empty; a start that failed before
      // its load leaves the log it did not read.
      if (loaded_) log_->checkpoint();
      else log_->sync();
    } catch (const std::exception& e) {
      spdlog::error("journal: {}", e.what());
      try {
        log_->sync();  // the log stays: the next load writes the files from it
      } catch (const std::exception& e2) {
        spdlog::error("journal: {}", e2.what());
      }
    }
    done.set_value();
  });
  done.get_future().wait();
}

Journal::Loaded Journal::load() {
  Loaded out;
  // What the last service wrote may still be in the page cache only (it was killed, the machine
  // was not): on disk first, before this load removes files because of what the log says.
  if (::syncfs(lock_.get()) != 0) throw_sys("syncfs(" + cellblock::quoted(dir_) + ")");
  // What happened since the log's last checkpoint: the files do not say it yet, or a crash of the
  // machine lost what they said (they are written without fsync, write_ahead_log.h).
  WriteAheadLog::Contents logged = log_->read();
  out.problems = std::move(logged.problems);
  std::map<std::string, nlohmann::json> logged_jobs, logged_results;
  std::map<std::string, unsigned> logged_starts;
  std::set<std::string> withdrawn;  // withdrawn or forgotten: no trace of them stays
  for (nlohmann::json& r : logged.records) {
    try {
      const std::string op = r.at("op").get<std::string>(), id = r.at("id").get<std::string>();
      if (op == "accept") logged_jobs[id] = std::move(r.at("record"));
      else if (op == "start") logged_starts[id] = std::max(logged_starts[id], r.at("attempt").get<unsigned>());
      else if (op == "result") logged_results[id] = std::move(r.at("record"));
      else if (op == "withdraw" || op == "forget") withdrawn.insert(id);
    } catch (const std::exception& e) {
      out.problems.push_back(log_->dir() + ": a record without \"op\" or \"id\": " + e.what());
    }
  }
  // A withdraw or a forget is final, over the id's records before it and also after it (a result
  // of a job whose accept failed to sync, appended before its withdraw was heard of).
  for (const std::string& id : withdrawn) {
    logged_jobs.erase(id);
    logged_starts.erase(id);
    logged_results.erase(id);
  }

  std::map<std::string, nlohmann::json> results;  // by id
  for (const std::string& name : names_in(results_dir_.get())) {
    if (!ends_with(name, ".json")) continue;
    const std::string id = name.substr(0, name.size() - 5);
    if (withdrawn.count(id)) {  // its forget's unlink was lost with the machine
      ::unlinkat(results_dir_.get(), name.c_str(), 0);
      continue;
    }
    try {
      nlohmann::json record = parse_json_text(read_file_at(results_dir_.get(), name));
      // Two statements: json's operator= takes its argument by value, and C++17 evaluates the
      // right side of an assignment first, so `results[record.at("id")] = std::move(record)`
      // would read the id of a moved-from (null) record. The log hid that: a results file was
      // read back only when the log still had the result too.
      std::string record_id = record.at("id").get<std::string>();
      results[std::move(record_id)] = std::move(record);
    } catch (const std::exception& e) {
      if (!logged_results.count(id)) out.problems.push_back(dir_ + "/results/" + name + ": " + e.what());
    }
  }
  for (auto& [id, record] : logged_results) {
    if (results.count(id)) continue;
    write_file_at(results_dir_.get(), id + ".json", dump_json(record) + "\n", false);
    results[id] = std::move(record);
  }

  std::map<std::string, Loaded::Pending> jobs;  // by id: the order they were accepted in
  for (const std::string& name : names_in(jobs_dir_.get())) {
    if (!ends_with(name, ".json")) continue;
    const std::string id = name.substr(0, name.size() - 5);
    if (results.count(id) || withdrawn.count(id)) {  // the service died between the two writes
      ::unlinkat(jobs_dir_.get(), name.c_str(), 0);
      ::unlinkat(jobs_dir_.get(), (id + ".started").c_str(), 0);
      continue;
    }
    try {
      jobs[id].record = parse_json_text(read_file_at(jobs_dir_.get(), name));
    } catch (const std::exception& e) {
      jobs.erase(id);
      if (!logged_jobs.count(id)) out.problems.push_back(dir_ + "/jobs/" + name + ": " + e.what());
    }
  }
  for (auto& [id, record] : logged_jobs) {
    if (results.count(id) || withdrawn.count(id) || jobs.count(id)) continue;
    write_file_at(jobs_dir_.get(), id + ".json", dump_json(record) + "\n", false);
    jobs[id].record = std::move(record);
  }
  for (auto& [id, pending] : jobs) {
    try {
      pending.last_attempt = static_cast<unsigned>(std::stoul(read_file_at(jobs_dir_.get(), id + ".started")));
    } catch (const std::exception&) {
      // never started, or not as of the last checkpoint (or its start was lost with the machine:
      // it runs as attempt 1)
    }
    if (auto logged_start = logged_starts.find(id);
        logged_start != logged_starts.end() && logged_start->second > pending.last_attempt) {
      pending.last_attempt = logged_start->second;
      write_file_at(jobs_dir_.get(), id + ".started", std::to_string(pending.last_attempt) + "\n", false);
    }
    out.jobs.push_back(std::move(pending));
  }
  for (auto& [id, record] : results) out.results.push_back(std::move(record));
  // A start whose job file never came (it was withdrawn, and a checkpoint wrote the start).
  for (const std::string& name : names_in(jobs_dir_.get()))
    if (ends_with(name, ".started") && !jobs.count(name.substr(0, name.size() - 8)))
      ::unlinkat(jobs_dir_.get(), name.c_str(), 0);
  // Everything is in the files now: make them durable, and start the log afresh.
  log_->checkpoint();
  loaded_ = true;
  return out;
}

}  // namespace cellblock::service
