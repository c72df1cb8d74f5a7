#include "jobs/gojudge/cmd_runner.h"

#include <boost/asio/post.hpp>

#include <sys/stat.h>

#include <cerrno>
#include <memory>
#include <variant>
#include <vector>

#include "executor/base/host_file.h"
#include "executor/base/sys_error.h"
#include "executor/base/unique_fd.h"
#include "jobs/format/client_host_paths.h"
#include "jobs/format/json_reader.h"
#include "jobs/gojudge/cmd_job.h"
#include "executor/work_dir.h"

namespace cellblock::gojudge {
namespace {

// A host file's content ({"src"}, already checked against --allow-host-path). All the src files
// of one request together take at most `budget` bytes (what the request could have carried
// inline): a request naming one large file a thousand times is refused, not read a thousand times.
std::variant<std::string, FileError> read_src(const GoJudge& gj, const std::string& name, const std::string& path,
                                              uint64_t& budget) {
  auto error = [&](const std::string& why) { return FileError{name, "CopyInOpenFile", json_quoted(path) + ": " + why}; };
  std::string why;
  UniqueFd fd = gj.ctx.client_paths.open_file(path, why);
  if (!fd) return error(why);
  std::optional<std::string> content;
  try {
    content = read_at_most(fd.get(), budget, json_quoted(path));
  } catch (const SysError& e) {
    return error(e.code().message());
  }
  if (!content)
    return error("the request's src files add up to more than the service's --max-body (" +
                 std::to_string(gj.ctx.info.max_body) + " bytes)");
  budget -= content->size();
  return std::move(*content);
}

// An input's content: inline, the store's copy, or the host file's; else why not. Each fileId
// is a copy: all of a request's together take at most the store's own size (--file-store-max),
// so that a small request naming one large stored file a million times is refused.
std::variant<std::string, FileError> content_of(const GoJudge& gj, const std::string& name, const InputFile& f,
                                                InputBudget& budget) {
  if (f.content) return *f.content;
  if (f.src) return read_src(gj, name, *f.src, budget.src_bytes);
  const service::FileStore::File* stored = gj.store.find(*f.file_id);
  if (!stored) return FileError{name, "CopyInOpenFile", "no file with id " + *f.file_id + " in the file store"};
  if (stored->content.size() > budget.stored_bytes)
    return FileError{name, "CopyInOpenFile", "the request's fileIds add up to more than the file store's size (" +
                                                 std::to_string(gj.store.max_bytes()) + " bytes, --file-store-max)"};
  budget.stored_bytes -= stored->content.size();
  return stored->content;
}

// The working directories live below the state directory, reachable by root only. The first
// /run of a service removes what a previous one that died left mounted there.
std::string new_work_path(GoJudge& gj) {
  if (!gj.leftovers_removed) {
    const std::string parent = gj.work_root.substr(0, gj.work_root.rfind('/'));
    for (const std::string& dir : {parent, gj.work_root})
      if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) throw_sys("mkdir " + cellblock::quoted(dir));
    WorkDir::remove_leftovers(gj.work_root);
    gj.leftovers_removed = true;
  }
  return gj.work_root + "/" + std::to_string(++gj.next_work);
}

// Status that a file problem found after the run turns into "File Error": only a run that
// went well, as go-judge does; a limit or a crash says more.
void fail_with_file_error(RunResult& out, FileError error) {
  if (out.status == "Accepted") {
    out.status = "File Error";
    if (out.error.empty()) out.error = error.name + ": " + error.message;
  }
  out.file_errors.push_back(std::move(error));
}

// stdout and stderr as the collectors asked: each under its name, held to its own max.
void collect_streams(const RunCmd& cmd, Result& r, uint64_t default_max, std::map<std::string, std::string>& kept,
                     RunResult& out) {
  const std::pair<const std::optional<Collector>*, std::string*> streams[] = {{&cmd.stdout_collector, &r.stdout_data},
                                                                              {&cmd.stderr_collector, &r.stderr_data}};
  for (auto [collector, data] : streams) {
    if (!*collector) continue;
    const uint64_t max = (*collector)->max.value_or(default_max);
    if (data->size() > max) {
      data->resize(max);
      if (out.status == "Accepted" || out.status == "Nonzero Exit Status" || out.status == "Signalled")
        out.status = "Output Limit Exceeded";
    }
    kept[(*collector)->name] = std::move(*data);
  }
}

// copyOut and copyOutCached: a collector's name is its stream, any other name a file in the
// working directory. A name asked for twice (in both lists) is read once.
void collect_files(GoJudge& gj, const RunCmd& cmd, const WorkDir& work, uint64_t max_bytes,
                   std::map<std::string, std::string>& streams, RunResult& out) {
  struct Wanted {
    bool optional = true;
    bool plain = false;
    bool cached = false;
  };
  std::map<std::string, Wanted> wanted;
  for (const auto& n : cmd.copy_out) {
    Wanted& w = wanted[n.name];
    w.plain = true;
    w.optional = w.optional && n.optional;
  }
  for (const auto& n : cmd.copy_out_cached) {
    Wanted& w = wanted[n.name];
    w.cached = true;
    w.optional = w.optional && n.optional;
  }
  for (auto& [name, w] : wanted) {
    std::string content;
    if (auto s = streams.find(name); s != streams.end()) {
      content = s->second;
    } else {
      WorkDir::ReadResult read = work.read_file(name, max_bytes);
      if (read.outcome == WorkDir::ReadResult::missing && w.optional) continue;
      if (read.outcome != WorkDir::ReadResult::ok) {
        const char* type = read.outcome == WorkDir::ReadResult::not_regular ? "CopyOutNotRegularFile"
                           : read.outcome == WorkDir::ReadResult::too_large ? "CopyOutSizeExceeded"
                                                                              : "CopyOutOpen";
        fail_with_file_error(out, {name, type, read.message});
        continue;
      }
      content = std::move(read.content);
    }
    if (w.cached) {
      std::optional<std::string> id;
      try {
        id = gj.store.add(name, w.plain ? content : std::move(content));
      } catch (const std::exception& e) {
        fail_with_file_error(out, {name, "CopyOutCreateFile", std::string("the file store: ") + e.what()});
        continue;
      }
      if (!id) {
        fail_with_file_error(out, {name, "CopyOutCreateFile", gj.store.full_message()});
        continue;
      }
      out.file_ids[name] = *id;
      streams.erase(name);  // kept in the store; not also in "files" unless copyOut asked
    }
    if (w.plain) out.files[name] = std::move(content);
  }
  // Collected streams go into "files" as go-judge does, unless they went to the store.
  for (auto& [name, data] : streams)
    if (!out.files.count(name) && !out.file_ids.count(name)) out.files[name] = std::move(data);
}

}  // namespace

InputBudget InputBudget::of(const GoJudge& gj) { return {gj.ctx.info.max_body, gj.store.max_bytes()}; }

PreparedCmd prepare_cmd(GoJudge& gj, RunCmd cmd, const std::string& field, InputBudget& budget) {
  PreparedCmd p;
  std::string stdin_data;
  // A host path outside the operator's directories is the request's error (400), before any
  // file is read; a file there that cannot be read is this cmd's File Error, as go-judge has it.
  if (cmd.stdin_file && cmd.stdin_file->src) gj.ctx.client_paths.check_path(*cmd.stdin_file->src, cmd.stdin_file->src_field);
  for (const auto& [path, f] : cmd.copy_in)
    if (f.src) gj.ctx.client_paths.check_path(*f.src, f.src_field);
  if (cmd.stdin_file) {
    auto content = content_of(gj, "stdin", *cmd.stdin_file, budget);
    if (auto* text = std::get_if<std::string>(&content)) stdin_data = std::move(*text);
    else p.missing_file = std::get<FileError>(std::move(content));
  }
  // The first file that fails ends the reading: the cmd will not run.
  for (auto it = cmd.copy_in.begin(); it != cmd.copy_in.end() && !p.missing_file; ++it) {
    auto content = content_of(gj, it->first, it->second, budget);
    if (auto* text = std::get_if<std::string>(&content)) p.copy_in[it->first] = std::move(*text);
    else p.missing_file = std::get<FileError>(std::move(content));
  }
  p.job = job_for_cmd(cmd, std::move(stdin_data), "gojudge-" + std::to_string(++gj.next_job), gj.ctx, field);
  p.cmd = std::move(cmd);
  return p;
}

namespace {

// A cmd whose working directory is made and filled: its job, with /w mounted, and what
// collects its result.
struct ReadyCmd {
  JobRequest job;
  std::function<void(Result&)> on_done;
};

// None when the cmd ended before it could run; `done` has been called then.
std::optional<ReadyCmd> make_ready(GoJudge& gj, PreparedCmd p, std::function<void(RunResult)>& done) {
  if (p.missing_file) {
    done(file_error_result(std::move(*p.missing_file)));
    return std::nullopt;
  }
  std::shared_ptr<WorkDir> work;
  // The tmpfs is as large as the cell's own writable layer (limits.writable_bytes).
  const uint64_t size = p.job.job.limits.writable_bytes;
  try {
    work = std::make_shared<WorkDir>(new_work_path(gj), size);
  } catch (const std::exception& e) {
    RunResult failed;
    failed.error = std::string("the working directory: ") + e.what();
    done(std::move(failed));
    return std::nullopt;
  }
  for (const auto& [path, content] : p.copy_in) {
    try {
      work->write_file(path, content);
    } catch (const std::exception& e) {
      done(file_error_result({path, "CopyInCreateFile", e.what()}));
      return std::nullopt;
    }
  }
  p.job.job.mounts.push_back(BindMount{work->path(), kCellWorkDir, /*readonly=*/false});
  const uint64_t output_max = p.job.job.limits.output_bytes;
  const uint64_t copy_out_max = p.cmd.copy_out_max.value_or(size);
  ReadyCmd ready{std::move(p.job), nullptr};
  ready.on_done = [&gj, cmd = std::move(p.cmd), work, output_max, copy_out_max, done = std::move(done)](Result& r) mutable {
    RunResult out = from_native(r);
    std::map<std::string, std::string> streams;
    collect_streams(cmd, r, output_max, streams, out);
    collect_files(gj, cmd, *work, copy_out_max, streams, out);
    done(std::move(out));
    // Nothing reads it any more: unmounted and removed off the io thread (Unmounter).
    boost::asio::post(gj.unmounter->pool, [work = std::move(work)]() mutable { work.reset(); });
  };
  return ready;
}

}  // namespace

void start_cmd(GoJudge& gj, PreparedCmd p, std::function<void(RunResult)> done) {
  if (auto ready = make_ready(gj, std::move(p), done)) gj.ctx.queue.run(std::move(ready->job), std::move(ready->on_done));
}

void start_cmds_together(GoJudge& gj, std::vector<PreparedCmd> prepared, std::vector<std::function<void(RunResult)>> done) {
  std::vector<JobRequest> jobs;
  std::vector<std::function<void(Result&)>> on_done;
  for (size_t i = 0; i < prepared.size(); ++i) {
    if (auto ready = make_ready(gj, std::move(prepared[i]), done[i])) {
      jobs.push_back(std::move(ready->job));
      on_done.push_back(std::move(ready->on_done));
    }
  }
  if (!jobs.empty()) gj.ctx.queue.run_together(std::move(jobs), std::move(on_done));
}

}  // namespace cellblock::gojudge
