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
}

Journal::~Journal() { writer_.join(); }

void Journal::withdraw_files(const std::vector<std::string>& ids) {
  for (const std::string& id : ids) {
    ::unlinkat(jobs_dir_.get(), (id + ".json").c_str(), 0);
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
      // The files survive a kill -9 as soon as they are written; the log's fdatasync makes the
      // jobs survive the machine too (write_ahead_log.h), without an fsync per file.
      for (const JobEntry& j : jobs) {
        write_file_at(jobs_dir_.get(), j.id + ".json", dump_json(j.record) + "\n", false);
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
      write_file_at(jobs_dir_.get(), id + ".started", std::to_string(attempt) + "\n", false);
    } catch (const std::exception& e) {
      spdlog::error("journal: job {}: {}", id, e.what());
    }
  });
}

void Journal::finished(const std::string& id, nlohmann::json record) {
  net::post(writer_, [this, id, record = std::move(record)] {
    try {
      // Not synced here: the next accept's sync or the next checkpoint carries it to the disk;
      // until then a crash of the machine runs the job again, as its accept is in the log.
      write_file_at(results_dir_.get(), id + ".json", dump_json(record) + "\n", false);
      log_->append({{"op", "result"}, {"id", id}, {"record", record}});
      ::unlinkat(jobs_dir_.get(), (id + ".started").c_str(), 0);
      if (::unlinkat(jobs_dir_.get(), (id + ".json").c_str(), 0) != 0 && errno != ENOENT)
        throw_sys("unlink(" + cellblock::quoted(id + ".json") + ")");
    } catch (const std::exception& e) {
      spdlog::error("journal: result of job {}: {}", id, e.what());
    }
  });
}

void Journal::forget(const std::string& id) {
  net::post(writer_, [this, id] {
    try {
      // The result's record goes to disk before its file goes: otherwise a crash of the machine
      // could leave the job's accept in the log with nothing to say that it ran.
      log_->sync();
    } catch (const std::exception& e) {
      spdlog::error("journal: forgetting job {}: {}", id, e.what());
      return;
    }
    ::unlinkat(results_dir_.get(), (id + ".json").c_str(), 0);
    // A job withdrawn before its result (JobStore::withdraw) may have left its start behind.
    ::unlinkat(jobs_dir_.get(), (id + ".started").c_str(), 0);
    ::unlinkat(jobs_dir_.get(), (id + ".json").c_str(), 0);
  });
}

void Journal::flush() {
  std::promise<void> done;
  net::post(writer_, [this, &done] {
    try {
      log_->sync();  // the results since the last accept: a clean stop leaves everything on disk
    } catch (const std::exception& e) {
      spdlog::error("journal: {}", e.what());
    }
    done.set_value();
  });
  done.get_future().wait();
}

Journal::Loaded Journal::load() {
  Loaded out;
  // What happened since the log's last checkpoint. It stands in for a file that a crash of the
  // machine left empty or never wrote (files are written without fsync, write_ahead_log.h).
  WriteAheadLog::Contents logged = log_->read();
  out.problems = std::move(logged.problems);
  std::map<std::string, nlohmann::json> logged_jobs, logged_results;
  std::set<std::string> withdrawn;
  for (nlohmann::json& r : logged.records) {
    try {
      const std::string op = r.at("op").get<std::string>(), id = r.at("id").get<std::string>();
      if (op == "accept") logged_jobs[id] = std::move(r.at("record"));
      else if (op == "result") logged_results[id] = std::move(r.at("record"));
      else if (op == "withdraw") withdrawn.insert(id);
    } catch (const std::exception& e) {
      out.problems.push_back(log_->dir() + ": a record without \"op\" or \"id\": " + e.what());
    }
  }

  std::map<std::string, nlohmann::json> results;  // by id
  for (const std::string& name : names_in(results_dir_.get())) {
    if (!ends_with(name, ".json")) continue;
    const std::string id = name.substr(0, name.size() - 5);
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
      // never started (or its start was lost with the machine: it runs as attempt 1)
    }
    out.jobs.push_back(std::move(pending));
  }
  for (auto& [id, record] : results) out.results.push_back(std::move(record));
  // Everything is in the files now: make them durable, and start the log afresh.
  log_->checkpoint();
  return out;
}

}  // namespace cellblock::service
