// The operator's hooks (executor/hooks.h, docs/executor.md "Hooks"): real shell scripts on the
// host, run by a real executor around real cells.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include <gmock/gmock.h>
#include <nlohmann/json.hpp>

#include "jobs/format/hooks_json.h"
#include "tests/file_util.h"
#include "tests/integration/cell_test_util.h"

namespace cellblock::test {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using cellblock::testing::slurp;
using cellblock::testing::spit;

// A directory of hook scripts and what they leave behind, removed at the end.
class HookDir {
 public:
  HookDir() : path_(std::filesystem::temp_directory_path() / unique_marker("hooks")) {
    std::filesystem::create_directories(path_);
  }
  ~HookDir() { std::filesystem::remove_all(path_); }
  std::string path() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

  // An executable /bin/sh script; returns its path.
  std::string script(const std::string& name, const std::string& body) const {
    const std::string p = file(name);
    spit(p, "#!/bin/sh\n" + body);
    std::filesystem::permissions(p, std::filesystem::perms::owner_all);
    return p;
  }

 private:
  std::filesystem::path path_;
};

Hook hook(const std::string& name, const std::string& path, uint64_t timeout_ms = 10000) {
  Hook h;
  h.name = name;
  h.path = path;
  h.env["PATH"] = "/usr/sbin:/usr/bin:/sbin:/bin";
  h.timeout_ms = timeout_ms;
  return h;
}

// An executor of its own with these hooks; the process's other executors have none.
std::unique_ptr<Executor> executor_with(std::vector<Hook> prestart, std::vector<Hook> poststop = {}) {
  ExecutorConfig config;
  config.hooks.prestart = std::move(prestart);
  config.hooks.poststop = std::move(poststop);
  config.hooks.encode_input = encode_hook_input;
  return std::make_unique<Executor>(config);
}

bool link_exists(const std::string& name) { return std::filesystem::exists("/sys/class/net/" + name); }

// The job sees eth1, with the address the hook gave it, from its first instruction: the hook ran
// after the cell's network namespace existed and before the command started. The hook finds the
// namespace by the "namespaces"."net" path on its stdin and wires it with iproute2 (in the hook,
// which is the operator's: the launch path itself never runs `ip`).
TEST(Hooks, APrestartHookWiresAVethIntoTheCellsNetworkNamespace) {
  HookDir dir;
  const std::string wire = dir.script("wire", R"SH(set -e
input=$(cat)
pid=$(printf '%s' "$input" | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
net=$(printf '%s' "$input" | sed -n 's/.*"net":"\([^"]*\)".*/\1/p')
host=cbhk$pid
ip link add "$host" type veth peer name cbhk${pid}p
ip link set cbhk${pid}p netns "$pid"
nsenter --net="$net" ip link set cbhk${pid}p name eth1
nsenter --net="$net" ip addr add 10.251.7.2/24 dev eth1
nsenter --net="$net" ip link set eth1 up
ip link set "$host" up
echo "$host" > ")SH" + dir.file("veth") + "\"\n");
  auto e = executor_with({hook("wire", wire)});
  Result r = e->run(sh("ip -o -4 addr show dev eth1; cat /proc/net/dev"));
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_THAT(r.stdout_data, HasSubstr("10.251.7.2/24")) << describe(r);
  EXPECT_THAT(r.stdout_data, HasSubstr("eth1:"));
  ASSERT_EQ(r.hooks.size(), 1u);
  EXPECT_TRUE(r.hooks[0].ok) << describe(r);
  EXPECT_EQ(r.hooks[0].stage, "prestart");
  // The host end goes with the cell's namespace: the kernel deletes the pair.
  std::string veth = slurp(dir.file("veth"));
  veth.erase(veth.find_last_not_of('\n') + 1);
  ASSERT_FALSE(veth.empty());
  EXPECT_TRUE(eventually([&] { return !link_exists(veth); }, 30s)) << veth << " is still on the host";
}

// A prestart hook that fails ends the job as setup_error naming the hook, with its stderr, and
// the command never runs.
TEST(Hooks, AFailingPrestartHookIsASetupErrorWithItsNameAndStderr) {
  HookDir dir;
  const std::string deny = dir.script("deny", "echo 'no network for this job' >&2\nexit 3\n");
  auto e = executor_with({hook("deny-net", deny)});
  Result r = e->run(sh("echo RAN; touch /proc/nothing"));
  ASSERT_EQ(r.status, Status::setup_error) << describe(r);
  ASSERT_TRUE(r.error);
  EXPECT_THAT(*r.error, HasSubstr("prestart hook \"deny-net\""));
  EXPECT_THAT(*r.error, HasSubstr("exited 3"));
  EXPECT_THAT(*r.error, HasSubstr("no network for this job"));
  EXPECT_THAT(r.stdout_data, Not(HasSubstr("RAN")));
  EXPECT_FALSE(r.exit_code);
  ASSERT_EQ(r.hooks.size(), 1u);
  EXPECT_FALSE(r.hooks[0].ok);
  EXPECT_EQ(r.hooks[0].exit_code, 3);
  EXPECT_EQ(r.hooks[0].stderr_data, "no network for this job\n");
  // The result JSON carries the same.
  const nlohmann::json j = result_to_json(r);
  EXPECT_EQ(j["hooks"]["prestart"][0]["name"], "deny-net");
  EXPECT_EQ(j["hooks"]["prestart"][0]["exit_code"], 3);
  EXPECT_EQ(result_from_json(j).hooks.size(), 1u);
  // Hooks after a failed one do not run.
  const std::string second = dir.script("second", "touch " + dir.file("second-ran") + "\n");
  auto e2 = executor_with({hook("deny-net", deny), hook("second", second)});
  r = e2->run(sh("true"));
  EXPECT_EQ(r.status, Status::setup_error);
  EXPECT_EQ(r.hooks.size(), 1u);
  EXPECT_FALSE(std::filesystem::exists(dir.file("second-ran")));
}

// A hook that hangs is killed at its time limit, with what it started (its process group), and
// the job is a setup_error that says so.
TEST(Hooks, AHookThatHangsIsKilledAtItsTimeLimit) {
  HookDir dir;
  const std::string hang = dir.script("hang", "sleep 1000 &\necho $! > " + dir.file("child") + "\nwait\n");
  auto e = executor_with({hook("hang", hang, 300)});
  Result r = e->run(sh("echo RAN"));
  ASSERT_EQ(r.status, Status::setup_error) << describe(r);
  EXPECT_THAT(*r.error, HasSubstr("prestart hook \"hang\": killed at its time limit (300 ms)"));
  EXPECT_THAT(r.stdout_data, Not(HasSubstr("RAN")));
  ASSERT_EQ(r.hooks.size(), 1u);
  EXPECT_TRUE(r.hooks[0].timed_out);
  EXPECT_EQ(r.hooks[0].signal, SIGKILL);
  EXPECT_GE(r.hooks[0].wall_time_ms, 300.0);  // not before its limit
  // Its child went with it.
  const pid_t child = std::atoi(slurp(dir.file("child")).c_str());
  ASSERT_GT(child, 0);
  EXPECT_TRUE(eventually([&] { return ::kill(child, 0) != 0 && errno == ESRCH; }))
      << "the hook's child " << child << " is still alive";
}

// A poststop hook that fails is recorded in the result; the job's own status stands.
TEST(Hooks, AFailingPoststopHookIsRecordedAndTheStatusStands) {
  HookDir dir;
  const std::string upload = dir.script("upload", "cat > " + dir.file("poststop-input") +
                                                      "\necho 'upload failed: no space' >&2\nexit 1\n");
  auto e = executor_with({}, {hook("upload", upload)});
  JobSpec j = sh("echo done; exit 4");
  j.id = "poststop-job";
  Result r = e->run(j);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(r.stdout_data, "done\n");
  EXPECT_FALSE(r.error);
  ASSERT_EQ(r.hooks.size(), 1u);
  EXPECT_EQ(r.hooks[0].stage, "poststop");
  EXPECT_FALSE(r.hooks[0].ok);
  EXPECT_EQ(r.hooks[0].exit_code, 1);
  EXPECT_EQ(r.hooks[0].stderr_data, "upload failed: no space\n");
  const nlohmann::json out = result_to_json(r);
  EXPECT_EQ(out["hooks"]["poststop"][0]["stderr"], "upload failed: no space\n");
  const nlohmann::json in = nlohmann::json::parse(slurp(dir.file("poststop-input")));
  EXPECT_EQ(in["stage"], "poststop");
  EXPECT_EQ(in["id"], "poststop-job");
}

// The hook's stdin names the job, the cell's init and its namespaces and cgroups, and they are
// the cell's: each namespace the hook opens by its path is the one the job's command is in, and
// each cgroup directory holds the init.
TEST(Hooks, TheHookReadsTheCellsPidNamespacesAndCgroupsOnStdin) {
  HookDir dir;
  const std::string look = dir.script("look", R"SH(input=$(cat)
printf '%s' "$input" > )SH" + dir.file("input") + R"SH(
pid=$(printf '%s' "$input" | sed -n 's/.*"pid":\([0-9]*\).*/\1/p')
for ns in cgroup ipc mnt net pid uts; do
  path=$(printf '%s' "$input" | sed -n 's/.*"'$ns'":"\([^"]*\)".*/\1/p')
  echo "$ns $(readlink "$path")"
done > )SH" + dir.file("namespaces") + R"SH(
printf '%s\n' "$input" | sed 's/.*"cgroups":\[\([^]]*\)\].*/\1/' | tr ',' '\n' | tr -d '"' | while read -r cg; do
  grep -qx "$pid" "$cg/cgroup.procs" && echo "holds $cg"
done > )SH" + dir.file("cgroups") + "\n");
  auto e = executor_with({hook("look", look)});
  JobSpec j = sh("for ns in cgroup ipc mnt net pid uts; do echo \"$ns $(readlink /proc/self/ns/$ns)\"; done");
  j.id = "job \"quoted\"";
  Result r = e->run(j);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  const nlohmann::json in = nlohmann::json::parse(slurp(dir.file("input")));
  EXPECT_EQ(in["stage"], "prestart");
  EXPECT_EQ(in["id"], "job \"quoted\"");
  const int pid = in["pid"].get<int>();
  ASSERT_GT(pid, 1);
  for (const char* ns : {"cgroup", "ipc", "mnt", "net", "pid", "uts"})
    EXPECT_EQ(in["namespaces"][ns], "/proc/" + std::to_string(pid) + "/ns/" + ns);
  // What the hook found at those paths is what the command is in.
  EXPECT_EQ(slurp(dir.file("namespaces")), r.stdout_data);
  ASSERT_FALSE(in["cgroups"].empty());
  EXPECT_EQ(lines(slurp(dir.file("cgroups"))).size(), in["cgroups"].size()) << slurp(dir.file("cgroups"));
}

// A hook starts with 0, 1 and 2 only, whatever the supervisor holds (here a descriptor opened
// without O_CLOEXEC), and with the environment the hooks file gives.
TEST(Hooks, AHookGetsOnlyStdioAndItsOwnEnvironment) {
  HookDir dir;
  const int leak = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC, on purpose
  ASSERT_GE(leak, 0);
  const std::string fds = dir.script("fds", "env > " + dir.file("env") + "\nexec ls -l /proc/self/fd/ > " +
                                                dir.file("fds") + "\n");
  Hook h = hook("fds", fds);
  h.env["HOOK_SETTING"] = "on";
  auto e = executor_with({h});
  Result r = e->run(sh("true"));
  ::close(leak);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  // ls lists 0, 1, 2 and the directory it is reading.
  std::vector<std::string> entries;
  for (const std::string& line : lines(slurp(dir.file("fds"))))
    if (line.find(" -> ") != std::string::npos) entries.push_back(line);
  ASSERT_EQ(entries.size(), 4u) << slurp(dir.file("fds"));
  EXPECT_THAT(entries[3], HasSubstr("/fd"));
  const std::string env = slurp(dir.file("env"));
  EXPECT_THAT(env, HasSubstr("HOOK_SETTING=on"));
  EXPECT_THAT(env, Not(HasSubstr("GTEST")));
}

// A pod's services get no hooks: only the job's own cell does (one prestart, one poststop).
TEST(Hooks, RunForTheJobsOwnCellOnlyNotItsServices) {
  HookDir dir;
  const std::string count = dir.script("count", "cat >> " + dir.file("inputs") + "\necho >> " + dir.file("inputs") + "\n");
  auto e = executor_with({hook("count", count)}, {hook("count", count)});
  JobSpec j = sh("true");
  j.id = "pod-job";
  PodService s;
  s.name = "idle";
  s.command = {"/bin/sleep", "1000"};
  s.limits = j.limits;
  j.services.push_back(s);
  Result r = e->run(j);
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  const auto inputs = lines(slurp(dir.file("inputs")));
  ASSERT_EQ(inputs.size(), 2u) << slurp(dir.file("inputs"));
  for (const std::string& line : inputs) EXPECT_EQ(nlohmann::json::parse(line)["id"], "pod-job");
}

}  // namespace
}  // namespace cellblock::test
