// Policy JSON: every error path names the file, the field and the value; the registry resolves
// names and paths and compiles each policy once.
#include "jobs/format/policy_json.h"

#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <fstream>

namespace cellblock {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

json minimal() {
  return json::parse(R"({
    "seccomp": {"default_action": "errno:ENOSYS",
                "syscalls": [{"names": ["read", "write"], "action": "allow"}]},
    "capabilities": []
  })");
}

// Parses j and returns the error's field and reason ("" when it parsed).
std::pair<std::string, std::string> parse_error(const json& j) {
  try {
    policy_from_json(j, "test", "policies/test.json");
  } catch (const FieldError& e) {
    EXPECT_EQ(e.source(), "policies/test.json");
    EXPECT_EQ(std::string(e.what()),
              "policies/test.json: " + (e.field().empty() ? "" : e.field() + ": ") + e.reason());
    return {e.field(), e.reason()};
  }
  return {"", ""};
}

#define EXPECT_POLICY_ERROR(j, field, reason_part)                                      \
  do {                                                                                  \
    auto [f, r] = parse_error(j);                                                       \
    EXPECT_EQ(f, field);                                                                \
    EXPECT_NE(r.find(reason_part), std::string::npos) << "reason: " << r;               \
  } while (0)

TEST(PolicyJson, ParsesAMinimalPolicy) {
  SecurityPolicy p = policy_from_json(minimal(), "test");
  EXPECT_EQ(p.name, "test");
  EXPECT_EQ(p.seccomp.default_action, (SeccompAction{SeccompActionKind::errno_code, ENOSYS}));
  ASSERT_EQ(p.seccomp.rules.size(), 1u);
  EXPECT_EQ(p.seccomp.rules[0].names, (std::vector<std::string>{"read", "write"}));
  EXPECT_TRUE(p.capabilities.empty());
  EXPECT_TRUE(p.no_new_privs);
  EXPECT_FALSE(p.user.has_value());
}

TEST(PolicyJson, ParsesEveryField) {
  json j = json::parse(R"({
    "description": "all fields",
    "seccomp": {"default_action": "kill_process", "syscalls": [
      {"comment": "c", "names": ["clone"], "action": "allow",
       "args": [{"index": 0, "op": "masked_eq", "mask": "0x7e020000", "value": 0}]},
      {"names": ["socket"], "action": "errno:EACCES", "args": [{"index": 0, "op": "ne", "value": 1}]},
      {"names": ["getpid"], "action": "log"}, {"names": ["getppid"], "action": "trap"},
      {"names": ["gettid"], "action": "kill_thread"}]},
    "capabilities": ["CAP_CHOWN", "CAP_SYS_ADMIN"],
    "no_new_privs": false,
    "user": {"uid": 0, "gid": 4294967294}
  })");
  SecurityPolicy p = policy_from_json(j, "all");
  EXPECT_EQ(p.description, "all fields");
  EXPECT_EQ(p.seccomp.default_action.kind, SeccompActionKind::kill_process);
  ASSERT_EQ(p.seccomp.rules.size(), 5u);
  EXPECT_EQ(p.seccomp.rules[0].comment, "c");
  EXPECT_EQ(p.seccomp.rules[0].args, (std::vector<SeccompArg>{{0, SeccompOp::masked_eq, 0, 0x7e020000}}));
  EXPECT_EQ(p.seccomp.rules[1].action, (SeccompAction{SeccompActionKind::errno_code, EACCES}));
  EXPECT_EQ(p.seccomp.rules[1].args, (std::vector<SeccompArg>{{0, SeccompOp::ne, 1, 0}}));
  EXPECT_EQ(p.seccomp.rules[2].action.kind, SeccompActionKind::log);
  EXPECT_EQ(p.seccomp.rules[3].action.kind, SeccompActionKind::trap);
  EXPECT_EQ(p.seccomp.rules[4].action.kind, SeccompActionKind::kill_thread);
  EXPECT_EQ(p.capabilities, (std::vector<int>{0, 21}));
  EXPECT_FALSE(p.no_new_privs);
  EXPECT_EQ(p.user, (Identity{0, 4294967294u}));
}

TEST(PolicyJson, UnknownKeysAreNamed) {
  json j = minimal();
  j["no_new_priv"] = true;
  EXPECT_POLICY_ERROR(j, "no_new_priv", "unknown key (known keys: description, seccomp, capabilities, no_new_privs, user, user_namespace)");
  j = minimal();
  j["seccomp"]["defaultAction"] = "allow";
  EXPECT_POLICY_ERROR(j, "seccomp.defaultAction", "unknown key");
  j = minimal();
  j["seccomp"]["syscalls"][0]["errnoRet"] = 1;
  EXPECT_POLICY_ERROR(j, "seccomp.syscalls[0].errnoRet", "unknown key (known keys: comment, names, action, args)");
  j = minimal();
  j["seccomp"]["syscalls"][0]["args"] = json::parse(R"([{"index": 0, "op": "eq", "value": 1, "valueTwo": 2}])");
  EXPECT_POLICY_ERROR(j, "seccomp.syscalls[0].args[0].valueTwo", "unknown key");
  j = minimal();
  j["user"] = json::parse(R"({"uid": 1, "gid": 1, "groups": []})");
  EXPECT_POLICY_ERROR(j, "user.groups", "unknown key");
}

TEST(PolicyJson, UnknownSyscallIsNamed) {
  json j = minimal();
  j["seccomp"]["syscalls"].push_back(json::parse(R"({"names": ["getpid", "mountt"], "action": "errno:EPERM"})"));
  EXPECT_POLICY_ERROR(j, "seccomp.syscalls[1].names[1]", "unknown syscall \"mountt\"");
  try {
    policy_from_json(j, "default", "policies/default.json");
    FAIL();
  } catch (const FieldError& e) {
    EXPECT_STREQ(e.what(), "policies/default.json: seccomp.syscalls[1].names[1]: unknown syscall \"mountt\"");
  }
}

TEST(PolicyJson, UnknownCapabilityIsNamed) {
  json j = minimal();
  j["capabilities"] = {"CAP_CHOWN", "CAP_FOO"};
  EXPECT_POLICY_ERROR(j, "capabilities[1]", "unknown capability \"CAP_FOO\"");
  try {
    policy_from_json(j, "default", "policies/default.json");
    FAIL();
  } catch (const FieldError& e) {
    EXPECT_STREQ(e.what(), "policies/default.json: capabilities[1]: unknown capability \"CAP_FOO\" (write e.g. \"CAP_CHOWN\")");
  }
  j["capabilities"] = {"cap_chown"};  // libcap would take it; a policy spells it one way
  EXPECT_POLICY_ERROR(j, "capabilities[0]", "unknown capability \"cap_chown\"");
  j["capabilities"] = {"0"};
  EXPECT_POLICY_ERROR(j, "capabilities[0]", "unknown capability \"0\"");
  j["capabilities"] = {"CAP_KILL", "CAP_KILL"};
  EXPECT_POLICY_ERROR(j, "capabilities[1]", "listed twice");
}

TEST(PolicyJson, WrongTypesAreNamed) {
  struct Case {
    const char* pointer;
    json value;
    const char* field;
    const char* reason;
  };
  const Case cases[] = {
      {"/description", 5, "description", "expected a string, got 5"},
      {"/seccomp", json::array(), "seccomp", "expected an object"},
      {"/seccomp/default_action", 38, "seccomp.default_action", "expected a string, got 38"},
      {"/seccomp/syscalls", json::object(), "seccomp.syscalls", "expected an array of rules"},
      {"/seccomp/syscalls/0", "read", "seccomp.syscalls[0]", "expected an object"},
      {"/seccomp/syscalls/0/names", "read", "seccomp.syscalls[0].names", "expected an array of syscall names"},
      {"/seccomp/syscalls/0/names", json::array(), "seccomp.syscalls[0].names", "must not be empty"},
      {"/seccomp/syscalls/0/names/1", 1, "seccomp.syscalls[0].names[1]", "expected a string, got 1"},
      {"/seccomp/syscalls/0/action", true, "seccomp.syscalls[0].action", "expected a string"},
      {"/seccomp/syscalls/0/action", "deny", "seccomp.syscalls[0].action", "unknown action \"deny\""},
      {"/seccomp/syscalls/0/action", "errno:EFOO", "seccomp.syscalls[0].action", "unknown errno name \"EFOO\""},
      {"/seccomp/syscalls/0/action", "errno:1", "seccomp.syscalls[0].action", "unknown errno name \"1\""},
      {"/seccomp/syscalls/0/comment", json::array(), "seccomp.syscalls[0].comment", "expected a string"},
      {"/seccomp/syscalls/0/args", json::object(), "seccomp.syscalls[0].args", "expected an array"},
      {"/capabilities", "CAP_CHOWN", "capabilities", "expected an array of capability names"},
      {"/capabilities", json::array({21}), "capabilities[0]", "expected a string, got 21"},
      {"/no_new_privs", "yes", "no_new_privs", "expected true or false"},
      {"/user", 65534, "user", "expected an object"},
      {"/user", json::object({{"uid", 1}}), "user.gid", "is required"},
      {"/user", json::object({{"uid", -1}, {"gid", 1}}), "user.uid", "must not be negative"},
      {"/user", json::object({{"uid", 1.5}, {"gid", 1}}), "user.uid", "expected a whole number"},
      {"/user", json::object({{"uid", 4294967295u}, {"gid", 1}}), "user.uid", "too large"},
  };
  for (const Case& c : cases) {
    json j = minimal();
    j["seccomp"]["syscalls"][0]["names"] = {"read", "write"};
    j[json::json_pointer(c.pointer)] = c.value;
    SCOPED_TRACE(c.pointer);
    EXPECT_POLICY_ERROR(j, c.field, c.reason);
  }
  EXPECT_POLICY_ERROR(json::array(), "", "expected an object");
}

TEST(PolicyJson, ArgumentErrorsAreNamed) {
  struct Case {
    const char* args;
    const char* field;
    const char* reason;
  };
  const Case cases[] = {
      {R"([{"op": "eq", "value": 1}])", "seccomp.syscalls[0].args[0].index", "is required"},
      {R"([{"index": 6, "op": "eq", "value": 1}])", "seccomp.syscalls[0].args[0].index", "too large (at most 5)"},
      {R"([{"index": "0", "op": "eq", "value": 1}])", "seccomp.syscalls[0].args[0].index", "expected a whole number"},
      {R"([{"index": 0, "op": "equals", "value": 1}])", "seccomp.syscalls[0].args[0].op", "unknown op \"equals\""},
      {R"([{"index": 0, "op": "eq"}])", "seccomp.syscalls[0].args[0].value", "is required"},
      {R"([{"index": 0, "op": "eq", "value": -1}])", "seccomp.syscalls[0].args[0].value", "must not be negative"},
      {R"([{"index": 0, "op": "eq", "value": "0xZZ"}])", "seccomp.syscalls[0].args[0].value", "hex string"},
      {R"([{"index": 0, "op": "eq", "value": "0x10000000000000000"}])", "seccomp.syscalls[0].args[0].value", "hex string"},
      {R"([{"index": 0, "op": "masked_eq", "value": 0}])", "seccomp.syscalls[0].args[0].mask", "is required"},
      {R"([{"index": 0, "op": "eq", "value": 0, "mask": 1}])", "seccomp.syscalls[0].args[0].mask", "only the masked_eq op"},
      {R"([{"index": 0, "op": "masked_eq", "mask": "0x3", "value": 4}])", "seccomp.syscalls[0].args[0].value", "bits outside mask"},
      {R"([{"index": 0, "op": "gt", "value": 1}, {"index": 0, "op": "lt", "value": 9}])",
       "seccomp.syscalls[0].args[1].index", "argument 0 is already compared"},
  };
  for (const Case& c : cases) {
    json j = minimal();
    j["seccomp"]["syscalls"][0] = {{"names", {"clone"}}, {"action", "allow"}, {"args", json::parse(c.args)}};
    SCOPED_TRACE(c.args);
    EXPECT_POLICY_ERROR(j, c.field, c.reason);
  }
  // Large values in hex and as numbers.
  json j = minimal();
  j["seccomp"]["syscalls"][0] = json::parse(
      R"({"names": ["clone"], "action": "allow", "args": [{"index": 5, "op": "ge", "value": "0xFFFFFFFFFFFFFFFF"}]})");
  EXPECT_EQ(policy_from_json(j, "t").seccomp.rules[0].args[0].value, UINT64_MAX);
  j["seccomp"]["syscalls"][0]["args"][0]["value"] = UINT64_MAX;
  EXPECT_EQ(policy_from_json(j, "t").seccomp.rules[0].args[0].value, UINT64_MAX);
}

TEST(PolicyJson, MissingRequiredKeysAreNamed) {
  json j = minimal();
  j.erase("seccomp");
  EXPECT_POLICY_ERROR(j, "seccomp", "is required");
  j = minimal();
  j.erase("capabilities");
  EXPECT_POLICY_ERROR(j, "capabilities", "is required");
  j = minimal();
  j["seccomp"].erase("default_action");
  EXPECT_POLICY_ERROR(j, "seccomp.default_action", "is required");
  j = minimal();
  j["seccomp"].erase("syscalls");
  EXPECT_POLICY_ERROR(j, "seccomp.syscalls", "is required");
  j = minimal();
  j["seccomp"]["syscalls"][0].erase("action");
  EXPECT_POLICY_ERROR(j, "seccomp.syscalls[0].action", "is required");
  j = minimal();
  j["seccomp"]["syscalls"][0].erase("names");
  EXPECT_POLICY_ERROR(j, "seccomp.syscalls[0].names", "is required");
}

TEST(PolicyJson, ConflictingRulesAreNamed) {
  json j = minimal();
  j["seccomp"]["syscalls"].push_back(json::parse(R"({"names": ["getpid", "write"], "action": "errno:EPERM"})"));
  EXPECT_POLICY_ERROR(j, "seccomp.syscalls[1].names[1]", "\"write\" already has a rule (syscalls[0])");
  j = minimal();
  j["seccomp"]["syscalls"][0]["names"] = {"read", "read"};
  EXPECT_POLICY_ERROR(j, "seccomp.syscalls[0].names[1]", "listed twice in this rule");
}

TEST(PolicyJson, NoNewPrivsFalseNeedsSysAdmin) {
  json j = minimal();
  j["no_new_privs"] = false;
  EXPECT_POLICY_ERROR(j, "no_new_privs", "CAP_SYS_ADMIN");
  j["capabilities"] = {"CAP_SYS_ADMIN"};
  EXPECT_NO_THROW(policy_from_json(j, "t"));
  j["user"] = {{"uid", 1000}, {"gid", 1000}};
  EXPECT_POLICY_ERROR(j, "no_new_privs", "root command");
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/cellblock-policy-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path_ / name) << text;
    return path_ / name;
  }

 private:
  fs::path path_;
};

TEST(PolicyRegistry, FileErrorsNameTheFile) {
  TempDir dir;
  fs::path broken = dir.write("broken.json", "{\"seccomp\": ");
  try {
    load_policy_file(broken);
    FAIL();
  } catch (const FieldError& e) {
    EXPECT_EQ(e.source(), broken.string());
    EXPECT_NE(e.reason().find("invalid JSON"), std::string::npos) << e.what();
  }
  try {
    load_policy_file(dir.path() / "missing.json");
    FAIL();
  } catch (const FieldError& e) {
    EXPECT_NE(std::string(e.what()).find("missing.json: cannot read: No such file or directory"), std::string::npos) << e.what();
  }
}

TEST(PolicyRegistry, ResolvesNamesAndPaths) {
  TempDir a, b;
  a.write("one.json", minimal().dump());
  b.write("one.json", minimal().dump());
  b.write("two.json", minimal().dump());
  PolicyRegistry registry({a.path() / "absent", a.path(), b.path()});
  EXPECT_EQ(registry.resolve("one"), a.path() / "one.json");  // first directory wins
  EXPECT_EQ(registry.resolve("two"), b.path() / "two.json");
  EXPECT_EQ(registry.resolve((b.path() / "one.json").string()), b.path() / "one.json");
  EXPECT_EQ(registry.resolve("x.json"), fs::path("x.json"));  // a path, relative to the cwd
  EXPECT_EQ(registry.available(), (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(registry.load("two").name, "two");

  try {
    registry.resolve("three");
    FAIL();
  } catch (const FieldError& e) {
    EXPECT_EQ(e.field(), "policy");
    EXPECT_NE(e.reason().find("no policy named \"three\""), std::string::npos);
    EXPECT_NE(e.reason().find("available: one, two"), std::string::npos) << e.what();
  }
  EXPECT_THROW(registry.resolve("..."), FieldError);
  EXPECT_THROW(registry.resolve(""), FieldError);
  EXPECT_TRUE(is_policy_path("./default"));
  EXPECT_TRUE(is_policy_path("default.json"));
  EXPECT_FALSE(is_policy_path("default"));
}

TEST(PolicyRegistry, CompilesEachPolicyOnce) {
  TempDir dir;
  fs::path file = dir.write("p.json", minimal().dump());
  PolicyRegistry registry({dir.path()});
  auto first = registry.get("p");
  auto again = registry.get("p");
  auto by_path = registry.get(file.string());
  EXPECT_EQ(first.get(), again.get());
  EXPECT_EQ(first.get(), by_path.get());  // same file, same compiled policy
  EXPECT_EQ(registry.cached(), 1u);
  ASSERT_NE(first->seccomp.prog(), nullptr);
  EXPECT_EQ(first->policy.name, "p");
}

TEST(PolicyRegistry, ANameIsLookedUpInTheDirectoriesOnce) {
  TempDir dir;
  fs::path file = dir.write("p.json", minimal().dump());
  PolicyRegistry registry({dir.path()});
  auto first = registry.get("p");
  fs::remove(file);
  // The second job naming it finds it without a stat or a readlink: the file is not even there.
  EXPECT_EQ(registry.get("p").get(), first.get());
  EXPECT_THROW(registry.get("q"), FieldError);
}

TEST(PolicyRegistry, FailedLoadsAreNotCached) {
  TempDir dir;
  fs::path file = dir.write("p.json", R"({"seccomp": {}, "capabilities": []})");
  PolicyRegistry registry({dir.path()});
  EXPECT_THROW(registry.get("p"), FieldError);
  dir.write("p.json", minimal().dump());
  EXPECT_NO_THROW(registry.get("p"));
}

TEST(PolicyRegistry, DefaultDirsStartNextToTheBinary) {
  auto dirs = default_policy_dirs();
  ASSERT_GE(dirs.size(), 2u);
  EXPECT_EQ(dirs.back(), fs::path("/usr/share/cellblock/policies"));
  // This test binary lives in build/tests/, so the first directory is the source tree's.
  EXPECT_TRUE(fs::exists(dirs.front() / "default.json")) << dirs.front();
}

}  // namespace
}  // namespace cellblock
