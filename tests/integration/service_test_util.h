// Helpers for the tests of `cellblock serve` (service_*_test.cc): the real binary started on a
// scratch directory's unix socket (and TCP on a free port with a token), real clients against
// it: curl, and the Python scenarios of tests/service/ on http.client.
#pragma once

#include <algorithm>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "tests/integration/batch_test_util.h"

namespace cellblock::test {

inline const std::string kServiceClients = CELLBLOCK_SERVICE_CLIENTS;
inline constexpr char kToken[] = "s3cret-token-for-tests";

// A program's exit code and output.
struct Ran {
  int code = -1;
  std::string out, err;
};

inline Ran run_program(const Scratch& s, const std::string& name, const std::vector<std::string>& argv,
                       std::chrono::milliseconds timeout = 300s) {
  Spawned p(argv, s.path(name + ".out"), s.path(name + ".err"));
  Ran r;
  r.code = p.wait(timeout);
  r.out = p.out();
  r.err = p.err();
  return r;
}

// `cellblock serve` on <scratch>/api.sock with the scratch's state directory and its defaults
// (the test rootfs) or the `defaults` file given; `tcp`: also on 127.0.0.1:<free port> with kToken.
class Serve {
 public:
  Serve(const Scratch& s, const std::string& name, const std::vector<std::string>& args, bool tcp = false,
        std::string defaults = "")
      : s_(s), name_(name), socket_(s.path("api.sock")), args_(args), tcp_(tcp), defaults_(std::move(defaults)) {
    start();
  }
  // A clean stop, so that nothing of the service (cgroups, state) is left for the scratch to find.
  ~Serve() {
    if (!exited_) {
      signal(SIGTERM);
      wait(60s);
    }
  }

  void start() {
    exited_ = false;
    std::vector<std::string> argv{kCellblockBinary, "--log-level", "info"};
    for (const auto& a : s_.global_args()) argv.push_back(a);
    for (const std::string& a : {std::string("serve"), std::string("--unix"), socket_, std::string("--defaults"),
                                 defaults_.empty() ? s_.defaults() : defaults_})
      argv.push_back(a);
    if (tcp_) {
      const std::string token = s_.write("token", std::string(kToken) + "\n");
      ::chmod(token.c_str(), 0600);
      for (const std::string& a : {std::string("--listen"), std::string("127.0.0.1:0"), std::string("--token-file"), token})
        argv.push_back(a);
    }
    argv.insert(argv.end(), args_.begin(), args_.end());
    // The tests' jobs name the test rootfs and scratch directories, as an operator's trusted
    // clients would; the tests of the refusal (ClientHostPaths) give their own.
    if (std::find(args_.begin(), args_.end(), "--allow-host-path") == args_.end())
      argv.insert(argv.end(), {"--allow-host-path", "/"});
    const std::string log = name_ + "-" + std::to_string(++starts_);
    process_ = std::make_unique<Spawned>(argv, s_.path(log + ".out"), s_.path(log + ".err"));
    // Ready when it logs its addresses (after binding and reading its journal).
    // A failure to start is one "cellblock serve: ..." line on stderr.
    auto said = [&](const char* what) { return err().find(what) != std::string::npos; };
    if (!eventually([&] { return said("listening on") || said("cellblock serve: "); }, 60s) || !said("listening on"))
      throw std::runtime_error("cellblock serve did not start: " + err());
    std::smatch m;
    const std::string text = err();
    if (tcp_ && std::regex_search(text, m, std::regex("tcp:(127\\.0\\.0\\.1:[0-9]+)"))) tcp_address_ = "tcp:" + m[1].str();
  }

  // Starts it again with other arguments (after it has stopped), on the same state directory.
  void restart_with(std::vector<std::string> args) {
    args_ = std::move(args);
    start();
  }

  std::string err() const { return process_->err(); }
  pid_t pid() const { return process_->pid(); }
  void signal(int sig) const { process_->signal(sig); }
  int wait(std::chrono::milliseconds timeout = 60s) {
    exited_ = true;
    return process_->wait(timeout);
  }
  void kill9() {
    signal(SIGKILL);
    wait();
  }

  std::string unix_address() const { return "unix:" + socket_; }
  const std::string& socket() const { return socket_; }
  const std::string& tcp_address() const { return tcp_address_; }
  // http://127.0.0.1:PORT
  std::string tcp_url() const { return "http://" + tcp_address_.substr(4); }

 private:
  const Scratch& s_;
  std::string name_, socket_;
  std::vector<std::string> args_;
  bool tcp_;
  std::string defaults_;
  int starts_ = 0;
  bool exited_ = false;
  std::unique_ptr<Spawned> process_;
  std::string tcp_address_;
};

// curl with `args`; out is the body, then a last line with the status code (-w).
struct Http {
  int code = 0;
  std::string body;
  std::string headers;
};

inline Http curl(const Scratch& s, const std::vector<std::string>& args) {
  static int n = 0;
  const std::string name = "curl-" + std::to_string(++n);
  std::vector<std::string> argv{"/usr/bin/curl", "-sS", "--max-time", "120", "-D", s.path(name + ".headers"), "-o",
                                s.path(name + ".body"), "-w", "%{http_code}"};
  argv.insert(argv.end(), args.begin(), args.end());
  Ran r = run_program(s, name, argv);
  Http h;
  if (r.code != 0) throw std::runtime_error("curl failed (" + std::to_string(r.code) + "): " + r.err);
  h.code = std::stoi(r.out);
  h.body = read_file(s.path(name + ".body"));
  h.headers = read_file(s.path(name + ".headers"));
  return h;
}

// curl over the service's unix socket: curl_unix(s, serve, {"-X", "POST", ...}, "/v1/jobs").
inline Http curl_unix(const Scratch& s, const Serve& serve, std::vector<std::string> args, const std::string& path) {
  args.insert(args.begin(), {"--unix-socket", serve.socket()});
  args.push_back("http://localhost" + path);
  return curl(s, args);
}

// tests/service/scenarios.py SCENARIO ARGS... (Python's http.client).
inline Ran scenario(const Scratch& s, const std::string& name, const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/bin/python3", kServiceClients + "/scenarios.py"};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_program(s, "scenario-" + name, argv);
}

}  // namespace cellblock::test
