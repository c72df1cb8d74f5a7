#include "jobs/gojudge/gojudge_routes.h"

#include <sys/utsname.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <vector>

#include "jobs/format/json_reader.h"
#include "jobs/gojudge/cmd_job.h"
#include "jobs/gojudge/cmd_pipes.h"
#include "jobs/gojudge/cmd_runner.h"
#include "jobs/gojudge/multipart_upload.h"
#include "jobs/service/file_routes.h"
#include "jobs/service/http.h"

namespace cellblock::gojudge {
namespace {

using nlohmann::json;
using service::Call;
using service::ResponderPtr;
namespace http = service::http;

// go-judge answers errors with a bare JSON string; ours names the field, the value and why.
service::Response go_error(http::status status, const std::string& message) {
  return service::json_response(status, json(message));
}

void post_run(GoJudge& gj, Call& call, ResponderPtr answer) {
  std::vector<PreparedCmd> prepared;
  std::vector<PipeMapping> pipes;
  try {
    RunRequest request = read_run_request(call.request.body());
    // Before any file is read for it: a full queue costs the service nothing more.
    if (!gj.ctx.queue.has_room(request.cmds.size())) {
      service::Response r = go_error(http::status::too_many_requests,
                                     "the queue is full (--max-queued " + std::to_string(gj.ctx.queue.max_queued()) + ")");
      r.set(http::field::retry_after, std::to_string(gj.ctx.queue.retry_after().count()));
      return answer->send(std::move(r));
    }
    InputBudget budget = InputBudget::of(gj);
    for (size_t i = 0; i < request.cmds.size(); ++i)
      prepared.push_back(prepare_cmd(gj, std::move(request.cmds[i]), index_path("cmd", i), budget));
    pipes = std::move(request.pipes);
  } catch (const FieldError& e) {
    return answer->send(go_error(http::status::bad_request, e.what()));
  }
  // The cmds run as jobs side by side; the answer waits for the last of them.
  struct Pending {
    json results;
    size_t left;
  };
  auto pending = std::make_shared<Pending>(Pending{json::array(), prepared.size()});
  std::vector<std::function<void(RunResult)>> done;
  for (size_t i = 0; i < prepared.size(); ++i) {
    pending->results.push_back(nullptr);
    done.push_back([pending, i, answer](RunResult r) {
      pending->results[i] = r.to_json();
      if (--pending->left == 0) answer->send(service::json_response(http::status::ok, pending->results));
    });
  }
  if (pipes.empty()) {
    for (size_t i = 0; i < prepared.size(); ++i) start_cmd(gj, std::move(prepared[i]), std::move(done[i]));
    return;
  }
  // Joined by pipes: those cmds must run at the same time, so they are queued as one gang; a
  // cmd in no pipe runs on its own, as without pipeMapping.
  try {
    join_by_pipes(pipes, prepared);
  } catch (const std::exception& e) {
    return answer->send(go_error(http::status::internal_server_error, std::string("pipeMapping: ") + e.what()));
  }
  std::vector<bool> piped(prepared.size(), false);
  for (const PipeMapping& p : pipes) piped[p.in.index] = piped[p.out.index] = true;
  std::vector<PreparedCmd> gang;
  std::vector<std::function<void(RunResult)>> gang_done;
  for (size_t i = 0; i < prepared.size(); ++i) {
    if (!piped[i]) {
      start_cmd(gj, std::move(prepared[i]), std::move(done[i]));
      continue;
    }
    gang.push_back(std::move(prepared[i]));
    gang_done.push_back(std::move(done[i]));
  }
  start_cmds_together(gj, std::move(gang), std::move(gang_done));
}

void get_file(GoJudge& gj, Call& call, ResponderPtr answer) {
  const service::FileStore::File* f = gj.store.find(call.params.at("id"));
  if (!f) return answer->send(go_error(http::status::not_found, "no file with id " + json_quoted(call.params.at("id"))));
  answer->send(service::file_download(*f));
}

// POST /file: a multipart upload into the store; the answer is its id as a JSON string.
void post_file(GoJudge& gj, Call& call, ResponderPtr answer) {
  UploadedFile file;
  try {
    const auto type = call.request[http::field::content_type];
    file = read_multipart_file(std::string(type.data(), type.size()), call.request.body());
  } catch (const FieldError& e) {
    return answer->send(go_error(http::status::bad_request, e.what()));
  }
  std::optional<std::string> id;
  try {
    id = gj.store.add(file.name, std::move(file.content));
  } catch (const std::exception& e) {
    return answer->send(go_error(http::status::internal_server_error, std::string("the file store: ") + e.what()));
  }
  if (!id)
    return answer->send(go_error(http::status::insufficient_storage, gj.store.full_message()));
  answer->send(service::json_response(http::status::ok, json(*id)));
}

// What this go-judge can do, in go-judge's feature flags: a client checks them before it uses
// a feature.
json features() {
  return {{"copyOutOptional", true}, {"pipeProxy", false},     {"symlink", false},
          {"addressSpaceLimit", false}, {"stream", false},     {"procPeak", true},
          {"copyOutTruncate", false},  {"pipeProxyZeroCopy", false}, {"fixSymlinkEscape", true}};
}

std::string machine() {
  utsname u{};
  return ::uname(&u) == 0 ? u.machine : "unknown";
}

}  // namespace

void add_gojudge_routes(service::Router& router, service::ServiceContext& ctx) {
  auto gj = std::make_shared<GoJudge>(GoJudge{ctx, ctx.files,
                                                ctx.state_dir + "/gojudge/work"});
  router.add(http::verb::post, "/run", [gj](Call& c, ResponderPtr a) { post_run(*gj, c, a); });
  router.add(http::verb::get, "/file", [gj](Call&, ResponderPtr a) {
    a->send(service::json_response(http::status::ok, gj->store.list()));
  });
  router.add(http::verb::post, "/file", [gj](Call& c, ResponderPtr a) { post_file(*gj, c, a); });
  router.add(http::verb::get, "/file/{id}", [gj](Call& c, ResponderPtr a) { get_file(*gj, c, a); });
  router.add(http::verb::delete_, "/file/{id}", [gj](Call& c, ResponderPtr a) {
    const std::string& id = c.params.at("id");
    if (!gj->store.remove(id)) return a->send(go_error(http::status::not_found, "no file with id " + json_quoted(id)));
    a->send(service::json_response(http::status::ok, json(id)));
  });
  router.add(http::verb::get, "/version", [gj](Call&, ResponderPtr a) {
    json v = features();
    v["buildVersion"] = "cellblock " + gj->ctx.info.version;
    v["os"] = "linux";
    v["platform"] = machine();
    a->send(service::json_response(http::status::ok, v));
  });
  router.add(http::verb::get, "/config", [gj](Call&, ResponderPtr a) {
    json c = features();
    c["fileStorePath"] = gj->store.dir();
    c["fileStore"] = {{"usedBytes", gj->store.used_bytes()}, {"maxBytes", gj->store.max_bytes()}};
    c["workDir"] = kCellWorkDir;
    c["runnerConfig"] = {{"cgroupVersion", gj->ctx.info.cgroup_version},
                         {"parallel", gj->ctx.info.parallel},
                         {"maxQueued", gj->ctx.info.max_queued},
                         {"defaults", gj->ctx.defaults.is_null() ? json::object() : gj->ctx.defaults}};
    a->send(service::json_response(http::status::ok, c));
  });
}

}  // namespace cellblock::gojudge
