// cellblock: run build and test jobs in throw-away Linux sandboxes.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <iostream>
#include <algorithm>
#include <filesystem>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

#include "executor/executor.h"
#include "jobs/cli/batch_command.h"
#include "jobs/cli/image_command.h"
#include "jobs/format/hooks_json.h"
#include "jobs/format/json_reader.h"
#include "jobs/format/policy_json.h"
#include "jobs/cli/queue_flags.h"
#include "jobs/cli/run_command.h"
#include "jobs/cli/serve_command.h"
#include "jobs/cli/submit_command.h"
#include "jobs/cli/worker_command.h"

namespace {

// Each running job holds a handful of descriptors in the supervisor (pidfd, pipes, cgroup files,
// its stop token): raise the soft limit on open files to the hard one, as servers do. Cells are
// not affected: every command gets the job's own `open_files` limit.
void raise_open_files_limit() {
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
}

constexpr std::string_view kVerbs[] = {"run", "batch", "serve", "worker", "submit", "image"};

// The verb on the command line: the first word that is neither one of `app`'s options nor the
// value of one, before any "--". Empty when there is none (`cellblock --help`).
std::string verb_of(const CLI::App& app, int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg(argv[i]);
    if (arg == "--") break;
    if (arg.size() < 2 || arg[0] != '-') return std::string(arg);
    if (arg.find('=') != std::string_view::npos) continue;
    const CLI::Option* option = app.get_option_no_throw(std::string(arg));
    if (option && option->get_items_expected_min() > 0) ++i;  // its value
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace cellblock;
  ProcessTimeline timeline;  // first: `run --breakdown` covers the whole process
  raise_open_files_limit();
  CLI::App app{"cellblock: run build and test jobs in throw-away Linux sandboxes"};
  app.require_subcommand(1);
  std::string log_level = "warn";
  ExecutorConfig config;
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")->capture_default_str();
  app.add_option("--state-dir", config.state_dir, "Per-host scratch directory")->capture_default_str();
  app.add_option("--cgroup-subtree", config.cgroup.subtree,
                 "Cgroup subtree (below the supervisor's own cgroup) for job cgroups")->capture_default_str();
  // Bridged jobs ("network": "bridge", docs/networking.md).
  app.add_option("--bridge-subnet", config.bridge.subnet,
                 "IPv4 subnet of the jobs' bridge; its first host is the gateway")->capture_default_str();
  app.add_option("--bridge-name", config.bridge.name, "The jobs' bridge, and its nftables tables")->capture_default_str();
  app.add_option("--bridge-resolver", config.bridge.resolvers,
                 "Nameserver for bridged cells' /etc/resolv.conf (repeatable; default: the host's, except loopback)");

  // Building a verb's flags takes CLI11 a while (all six: 0.9 ms of a one-shot `run` of about
  // 20 ms), so only the verb named is built; all of them when no verb is named or the word is
  // none, so that --help and CLI11's error list every verb.
  const std::string verb = verb_of(app, argc, argv);
  const bool named = std::find(std::begin(kVerbs), std::end(kVerbs), verb) != std::end(kVerbs);
  auto built = [&](std::string_view v) { return !named || verb == v; };
  auto got = [&](const char* v) { return built(v) && app.got_subcommand(v); };
  RunOptions run;
  if (built("run")) add_run_command(app, run);
  BatchOptions batch;
  if (built("batch")) add_batch_command(app, batch);
  ServeOptions serve;
  if (built("serve")) add_serve_command(app, serve);
  WorkerCommandOptions worker;
  if (built("worker")) add_worker_command(app, worker);
  SubmitOptions submit;
  if (built("submit")) add_submit_command(app, submit);
  ImageOptions image;
  if (built("image")) add_image_command(app, image);
  // The operator's hooks (docs/executor.md "Hooks"): a flag of the verbs that run jobs, never a
  // field of a job.
  std::string hooks_file;
  for (const char* v : {"run", "batch", "serve", "worker"})
    if (built(v))
      app.get_subcommand(v)->add_option("--hooks", hooks_file, "JSON file of prestart and poststop hooks run for every job");

  // Everything after the first "--" is the command, taken here rather than by CLI11: CLI11 2.1
  // lets a "--" right after a repeatable option's value end that option's list, and then parses
  // the command's own flags as ours ("run -e A=b -- sh -c x": "-c" not expected).
  int ours = 1;
  while (ours < argc && std::string_view(argv[ours]) != "--") ++ours;
  std::vector<std::string> after_dashes(argv + std::min(ours + 1, argc), argv + argc);
  CLI11_PARSE(app, ours, argv);
  if (ours < argc) {
    if (!got("run") || !run.flags.command.empty()) {
      std::cerr << "cellblock: \"--\" comes before the command of `cellblock run`, and only there\n";
      return 2;
    }
    run.flags.command = std::move(after_dashes);
  }

  run.state_dir = batch.state_dir = image.state_dir = worker.state_dir = config.state_dir;
  run.timeline = &timeline;
  if (!hooks_file.empty()) {
    try {
      const std::string source = "--hooks " + hooks_file;
      config.hooks = read_hooks(parse_json_text(read_input(hooks_file, "--hooks"), source), source);
    } catch (const FieldError& e) {
      std::cerr << "cellblock: " << e.what() << "\n";
      return 2;
    }
  }

  auto logger = spdlog::stderr_color_mt("cellblock");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(log_level));

  // A single `run` holds a few descriptors, so its nftables context can wait for a bridged job.
  if (got("run")) config.open_nftables_early = false;
  // A batch or a service keeps fresh network namespaces ready, one per worker and one spare, made
  // by a background thread: creating one costs ~0.5 ms on the launch path (docs/executor.md). A
  // single `run` has nothing to overlap it with.
  const size_t cpus = std::max(1u, std::thread::hardware_concurrency());
  if (got("batch")) config.netns_pool = (batch.queue.parallel ? batch.queue.parallel : cpus) + 1;
  if (got("worker")) config.netns_pool = (worker.local.parallel ? worker.local.parallel : cpus) + 1;
  if (got("serve")) config.netns_pool = (serve.queue.parallel ? serve.queue.parallel : cpus) + 1;
  std::unique_ptr<Executor> executor;
  auto get_executor = [&]() -> Executor& {
    if (!executor) executor = std::make_unique<Executor>(config);
    return *executor;
  };
  timeline.stamp("command_line");
  try {
    PolicyRegistry policies;
    policies.cache_compiled_filters_in(std::filesystem::path(config.state_dir) / "seccomp");
    if (got("run")) return run_command(run, get_executor, policies);
    if (got("batch")) return batch_command(batch, get_executor, policies);
    if (got("worker")) return worker_command(worker, get_executor, policies);
    if (got("submit")) return submit_command(submit);
    if (got("image")) return image_command(image);
    if (got("serve")) return serve_command(serve, get_executor, policies, config.state_dir);
  } catch (const std::exception& e) {
    std::cerr << "cellblock: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
