// go-judge's pipeMapping on `cellblock serve` (docs/go-judge.md, "Pipes"): an interactor and a
// solution, each in its own cell, the stdout of each the stdin of the other, through curl over
// the service's unix socket. The game: the interactor thinks of 37 and answers each guess with
// "higher", "lower" or "correct"; after 10 guesses it gives up and says so.
#include <gmock/gmock.h>

#include "tests/integration/gojudge_test_util.h"

namespace cellblock::test {
namespace {

using ::testing::HasSubstr;
using nlohmann::json;
using gojudge_test::cmd;
using gojudge_test::post_run;
using gojudge_test::run_ok;
using gojudge_test::work_mounts;

constexpr char kInteractor[] = R"(secret=37; n=0
while read g; do
  n=$((n + 1))
  if [ "$g" -eq "$secret" ]; then echo correct; echo "found in $n" >&2; exit 0; fi
  if [ $n -ge 10 ]; then echo "gave up"; echo "wrong answer after $n guesses" >&2; exit 1; fi
  if [ "$g" -lt "$secret" ]; then echo higher; else echo lower; fi
done
echo "the solution left after $n guesses" >&2; exit 2
)";

// Bisection: finds 37 in at most 7 guesses.
constexpr char kRightSolution[] = R"(lo=1; hi=100
while :; do
  g=$(((lo + hi) / 2)); echo $g
  read r
  case $r in correct) exit 0;; higher) lo=$((g + 1));; lower) hi=$((g - 1));; *) echo "heard $r" >&2; exit 3;; esac
done
)";

// Always 50: the interactor gives up after 10 guesses, and the solution hears it.
constexpr char kWrongSolution[] = R"(while :; do
  echo 50
  read r
  case $r in correct) exit 0;; higher|lower) ;; *) echo "heard $r" >&2; exit 3;; esac
done
)";

// A cmd whose stdin and stdout are pipes: files[0] and files[1] null, stderr collected.
json piped(const std::string& script) {
  json c = cmd({"/bin/sh", "-c", script});
  c["files"][0] = nullptr;
  c["files"][1] = nullptr;
  return c;
}

// cmd 0 (the interactor) <-> cmd 1 (the solution).
json both_ways() {
  return {{{"in", {{"index", 0}, {"fd", 1}}}, {"out", {{"index", 1}, {"fd", 0}}}},
          {{"in", {{"index", 1}, {"fd", 1}}}, {"out", {{"index", 0}, {"fd", 0}}}}};
}

TEST(GoJudgePipes, AnInteractorAndARightSolution) {
  Scratch s("gojudge-pipes-right");
  Serve serve(s, "serve", {});
  json r = run_ok(s, serve, {{"cmd", {piped(kInteractor), piped(kRightSolution)}}, {"pipeMapping", both_ways()}});
  EXPECT_EQ(r[0]["status"], "Accepted") << r;
  EXPECT_EQ(r[0]["files"]["stderr"], "found in 3\n") << r;
  EXPECT_EQ(r[1]["status"], "Accepted") << r;
  EXPECT_EQ(r[1]["files"]["stderr"], "") << r;
  // A piped stdout is the peer's, not collected.
  EXPECT_FALSE(r[0]["files"].contains("stdout")) << r;
  EXPECT_FALSE(r[1]["files"].contains("stdout")) << r;
  EXPECT_TRUE(eventually([&] { return work_mounts(s).empty(); }));
}

TEST(GoJudgePipes, AnInteractorAndAWrongSolution) {
  Scratch s("gojudge-pipes-wrong");
  Serve serve(s, "serve", {});
  json r = run_ok(s, serve, {{"cmd", {piped(kInteractor), piped(kWrongSolution)}}, {"pipeMapping", both_ways()}});
  EXPECT_EQ(r[0]["status"], "Nonzero Exit Status") << r;
  EXPECT_EQ(r[0]["exitStatus"], 1) << r;
  EXPECT_EQ(r[0]["files"]["stderr"], "wrong answer after 10 guesses\n") << r;
  EXPECT_EQ(r[1]["status"], "Nonzero Exit Status") << r;
  EXPECT_EQ(r[1]["exitStatus"], 3) << r;
  EXPECT_EQ(r[1]["files"]["stderr"], "heard gave up\n") << r;
}

// One way only, as go-judge's own example: a producer's stdout into a consumer that reads to
// the end. The consumer's end-of-file comes when the producer's cell is gone, so it ends on
// its own, not at its time limit. A third cmd of the request, not piped, runs alongside.
TEST(GoJudgePipes, OneWayToEndOfFileWithAnUnpipedCmdAlongside) {
  Scratch s("gojudge-pipes-oneway");
  Serve serve(s, "serve", {});
  json producer = cmd({"/bin/sh", "-c", "seq 1 1000"});
  producer["files"][1] = nullptr;
  json consumer = cmd({"/bin/sh", "-c", "wc -l"});
  consumer["files"][0] = nullptr;
  json alone = cmd({"/bin/cat"}, "by itself\n");
  json r = run_ok(s, serve, {{"cmd", {producer, consumer, alone}},
                             {"pipeMapping", {{{"in", {{"index", 0}, {"fd", 1}}}, {"out", {{"index", 1}, {"fd", 0}}}}}}});
  EXPECT_EQ(r[0]["status"], "Accepted") << r;
  EXPECT_EQ(r[1]["status"], "Accepted") << r;
  std::string counted = r[1]["files"]["stdout"];
  EXPECT_EQ(counted.substr(counted.find_first_not_of(' ')), "1000\n") << r;
  EXPECT_EQ(r[2]["files"]["stdout"], "by itself\n") << r;
}

// A cmd of a piped request that cannot run (its fileId is not in the store) is a File Error;
// its pipe ends close, so its peer reads end-of-file and ends.
TEST(GoJudgePipes, APeerThatCannotRunClosesItsEnds) {
  Scratch s("gojudge-pipes-missing");
  Serve serve(s, "serve", {});
  json missing = cmd({"/bin/sh", "p.sh"});
  missing["files"][1] = nullptr;
  missing["copyIn"] = {{"p.sh", {{"fileId", "NOSUCHFILEIDXXXXXXXX"}}}};
  json reader = cmd({"/bin/sh", "-c", "cat; echo eof"});
  reader["files"][0] = nullptr;
  json r = run_ok(s, serve, {{"cmd", {missing, reader}},
                             {"pipeMapping", {{{"in", {{"index", 0}, {"fd", 1}}}, {"out", {{"index", 1}, {"fd", 0}}}}}}});
  EXPECT_EQ(r[0]["status"], "File Error") << r;
  EXPECT_EQ(r[0]["fileError"][0]["type"], "CopyInOpenFile") << r;
  EXPECT_EQ(r[1]["status"], "Accepted") << r;
  EXPECT_EQ(r[1]["files"]["stdout"], "eof\n") << r;
}

TEST(GoJudgePipes, MistakesGet400NamingTheFieldAndTheValue) {
  Scratch s("gojudge-pipes-bad");
  Serve serve(s, "serve", {});
  auto refused = [&](json cmds, json pipes, const std::string& expect) {
    Http h = post_run(s, serve, {{"cmd", std::move(cmds)}, {"pipeMapping", pipes}});
    EXPECT_EQ(h.code, 400) << pipes << " -> " << h.body;
    EXPECT_TRUE(json::parse(h.body).is_string()) << h.body;
    EXPECT_THAT(h.body, HasSubstr(expect)) << pipes;
  };
  auto end = [](json index, json fd) { return json{{"index", index}, {"fd", fd}}; };
  auto pipe = [&](json in, json out) { return json{{"in", in}, {"out", out}}; };
  const json two = {piped("true"), piped("true")};
  refused(two, {pipe(end(0, 1), end(2, 0))}, "pipeMapping[0].out.index: 2 is not a cmd: the request has 2");
  refused(two, {pipe(end(-1, 1), end(1, 0))}, "pipeMapping[0].in.index: -1 is not a cmd");
  refused(two, {pipe(end(0, 1), end(0, 0))}, "pipeMapping[0]: joins cmd[0] to itself");
  refused(two, {pipe(end(0, 1), end(1, 0)), pipe(end(0, 1), end(1, 0))},
          "pipeMapping[1].in: cmd[0] fd 1 is in pipeMapping[0].in already");
  refused({piped("true"), piped("true"), piped("true")}, {pipe(end(0, 1), end(1, 0)), pipe(end(2, 1), end(1, 0))},
          "pipeMapping[1].out: cmd[1] fd 0 is in pipeMapping[0].out already");
  refused(two, {pipe(end(0, 2), end(1, 0))}, "pipeMapping[0].in.fd: 2: cellblock joins a cmd's stdout (fd 1) only");
  refused(two, {pipe(end(0, 1), end(1, 3))}, "pipeMapping[0].out.fd: 3: cellblock joins a cmd's stdin (fd 0) only");
  json proxied = pipe(end(0, 1), end(1, 0));
  proxied["proxy"] = true;
  refused(two, {proxied}, "pipeMapping[0].proxy: true: cellblock joins the cmds directly");
  json named = pipe(end(0, 1), end(1, 0));
  named["name"] = "stdin";
  named["max"] = 1024;
  refused(two, {named}, R"(pipeMapping[0].name: \"stdin\")");
  json colour = pipe(end(0, 1), end(1, 0));
  colour["colour"] = "blue";
  refused(two, {colour}, "pipeMapping[0].colour: unknown key");
  // The reader's stdin given as well as the pipe.
  refused({piped("true"), cmd({"/bin/true"}, "text")}, {pipe(end(0, 1), end(1, 0))},
          "cmd[1].files[0]: is given, but cmd[1] fd 0 is pipeMapping[0].out: give null there");
  refused(two, json{{"in", end(0, 1)}}, "pipeMapping: expected an array");
  // go-judge's "not asked for" values pass: proxy false, an empty name, max 0.
  json plain = pipe(end(0, 1), end(1, 0));
  plain["proxy"] = false;
  plain["name"] = "";
  plain["max"] = 0;
  EXPECT_EQ(post_run(s, serve, {{"cmd", two}, {"pipeMapping", {plain}}}).code, 200);
}

// More cmds joined by pipes than the service runs at once could never start together: each
// gets an Internal Error that says so, instead of waiting for ever.
TEST(GoJudgePipes, AGangLargerThanTheServiceRunsAtOnceIsRefusedWithTheReason) {
  Scratch s("gojudge-pipes-parallel");
  Serve serve(s, "serve", {"--parallel", "2"});
  json r = run_ok(s, serve, {{"cmd", {piped("true"), piped("true"), piped("true")}},
                             {"pipeMapping", {{{"in", {{"index", 0}, {"fd", 1}}}, {"out", {{"index", 1}, {"fd", 0}}}},
                                              {{"in", {{"index", 1}, {"fd", 1}}}, {"out", {{"index", 2}, {"fd", 0}}}}}}});
  for (const json& one : r) {
    EXPECT_EQ(one["status"], "Internal Error") << r;
    EXPECT_THAT(one["error"].get<std::string>(), HasSubstr("3 jobs that must run at the same time")) << r;
  }
}

}  // namespace
}  // namespace cellblock::test
