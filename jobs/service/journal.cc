#include "jobs/service/journal.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <future>
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
}

Journal::~Journal() { writer_.join(); }

void Journal::accept(std::vector<JobEntry> jobs, std::function<void(std::string)> done) {
  net::post(writer_, [this, jobs = std::move(jobs), done = std::move(done)]() mutable {
    std::string error;
    try {
      for (const JobEntry& j : jobs) write_file_at(jobs_dir_.get(), j.id + ".json", dump_json(j.record) + "\n", true);
      // The renames are durable once the directory is.
      if (::fsync(jobs_dir_.get()) != 0) throw_sys("fsync(" + cellblock::quoted(dir_ + "/jobs") + ")");
    } catch (const std::exception& e) {
      error = e.what();
      for (const JobEntry& j : jobs) ::unlinkat(jobs_dir_.get(), (j.id + ".json").c_str(), 0);
    }
    net::post(io_, [done = std::move(done), error = std::move(error)] { done(error); });
  });
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
      write_file_at(results_dir_.get(), id + ".json", dump_json(record) + "\n", true);
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
    ::unlinkat(results_dir_.get(), (id + ".json").c_str(), 0);
    // A job withdrawn before its result (JobStore::withdraw) may have left its start behind.
    ::unlinkat(jobs_dir_.get(), (id + ".started").c_str(), 0);
    ::unlinkat(jobs_dir_.get(), (id + ".json").c_str(), 0);
  });
}

void Journal::flush() {
  std::promise<void> done;
  net::post(writer_, [&done] { done.set_value(); });
  done.get_future().wait();
}

Journal::Loaded Journal::load() {
  Loaded out;
  std::set<std::string> have_result;
  for (const std::string& name : names_in(results_dir_.get())) {
    if (!ends_with(name, ".json")) continue;
    try {
      nlohmann::json record = parse_json_text(read_file_at(results_dir_.get(), name));
      have_result.insert(record.at("id").get<std::string>());
      out.results.push_back(std::move(record));
    } catch (const std::exception& e) {
      out.problems.push_back(dir_ + "/results/" + name + ": " + e.what());
    }
  }
  for (const std::string& name : names_in(jobs_dir_.get())) {
    if (!ends_with(name, ".json")) continue;
    const std::string id = name.substr(0, name.size() - 5);
    if (have_result.count(id)) {  // the service died between writing the result and this removal
      ::unlinkat(jobs_dir_.get(), name.c_str(), 0);
      ::unlinkat(jobs_dir_.get(), (id + ".started").c_str(), 0);
      continue;
    }
    try {
      Loaded::Pending p;
      p.record = parse_json_text(read_file_at(jobs_dir_.get(), name));
      try {
        p.last_attempt = static_cast<unsigned>(std::stoul(read_file_at(jobs_dir_.get(), id + ".started")));
      } catch (const SysError&) {
        // never started
      }
      out.jobs.push_back(std::move(p));
    } catch (const std::exception& e) {
      out.problems.push_back(dir_ + "/jobs/" + name + ": " + e.what());
    }
  }
  return out;
}

}  // namespace cellblock::service
