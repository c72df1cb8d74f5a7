// Bridged networking end to end (docs/networking.md): real bridges, veths, leases and nftables
// rules on this host, checked through netlink and libnftables. The suite makes its own bridges
// (cbtest0, cbtest1) with their own subnets and state directory, never cellblock0, and deletes
// them when it ends. ctest runs these tests one at a time (RESOURCE_LOCK cellblock_bridge), and
// each test process holds an exclusive lock on kLock so that two runs (two checkouts, two ctest
// invocations) never remove each other's bridges.
#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "executor/net/bridge.h"
#include "executor/net/netlink.h"
#include "executor/net/nft.h"
#include "tests/integration/calibration.h"
#include "tests/integration/cell_test_util.h"

namespace cellblock {
namespace {

using ::testing::HasSubstr;
using namespace cellblock::test;

constexpr char kState[] = "/run/cellblock-bridge-tests";
constexpr char kLock[] = "/run/cellblock-bridge-tests.lock";
constexpr char kBridge[] = "cbtest0";
constexpr char kSubnet[] = "10.231.0.0/24";
constexpr char kGateway[] = "10.231.0.1";
constexpr char kSmallBridge[] = "cbtest1";
constexpr char kSmallSubnet[] = "10.231.1.0/30";  // one address for jobs

ExecutorConfig config(const std::string& bridge = kBridge, const std::string& subnet = kSubnet) {
  ExecutorConfig c;
  c.state_dir = kState;
  c.bridge.name = bridge;
  c.bridge.subnet = subnet;
  c.bridge.resolvers = {"192.0.2.53"};
  return c;
}

Executor& bridged_executor() {
  static Executor e(config());
  return e;
}

class CleanBridges : public ::testing::Environment {
 public:
  void SetUp() override {
    // Held until the process exits (the descriptor is never closed).
    const int lock = ::open(kLock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0 || ::flock(lock, LOCK_EX) != 0)
      throw std::runtime_error(std::string("lock ") + kLock + ": " + std::strerror(errno));
    // A hundred jobs at once hold more descriptors than the usual soft limit of 1024; the
    // cellblock binary raises it the same way (jobs/cli/main.cc).
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
      rl.rlim_cur = rl.rlim_max;
      ::setrlimit(RLIMIT_NOFILE, &rl);
    }
    TearDown();
  }
  void TearDown() override {
    for (const char* b : {kBridge, kSmallBridge}) Bridge::remove(kState, b);
  }
};
const auto* const kEnvironment = ::testing::AddGlobalTestEnvironment(new CleanBridges);

// What this kernel lacks for bridged networking, found by trying it (tests/kernel_features.h says
// why configs are not trusted): nf_tables, a bridge, a veth pair. Empty when all are there. Each
// try removes what it made.
std::string missing_kernel_support() {
  const int nf = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  if (nf < 0) return std::string("no nf_tables: socket(AF_NETLINK, NETLINK_NETFILTER): ") + std::strerror(errno);
  ::close(nf);
  if (!nft_try("add table inet cbprobe\ndelete table inet cbprobe")) return "nf_tables refuses an inet table";
  Netlink nl;
  delete_link(nl, "cbprobe0");
  try {
    create_bridge(nl, "cbprobe0");
  } catch (const std::exception& e) {
    return std::string("no bridge links: ") + e.what();
  }
  const int netns = ::open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  const int veth = create_veth(nl, "cbprobe1", link_index(nl, "cbprobe0").value_or(0), "cbprobe2", netns);
  ::close(netns);
  delete_link(nl, "cbprobe1");
  delete_link(nl, "cbprobe0");
  if (veth != 0) return std::string("no veth links: ") + std::strerror(veth);
  return {};
}

// Every test skips, with the reason, where the kernel cannot bridge (ci/allowed-skips).
class BridgeNetwork : public ::testing::Test {
 protected:
  void SetUp() override {
    static const std::string missing = missing_kernel_support();
    if (!missing.empty()) GTEST_SKIP() << "this kernel cannot run bridged jobs: " << missing;
  }
};

// Stops a job running on another thread and joins it when the scope ends, also when an ASSERT
// returns early (a joinable std::thread destroyed would abort the test process).
class StopAndJoin {
 public:
  StopAndJoin(StopToken& stop, std::thread& thread) : stop_(stop), thread_(thread) {}
  ~StopAndJoin() { finish(); }
  void finish() {
    stop_.request();
    if (thread_.joinable()) thread_.join();
  }

 private:
  StopToken& stop_;
  std::thread& thread_;
};

JobSpec bridged(JobSpec j, bool egress = false, std::vector<std::string> allow = {}) {
  j.network = NetworkMode::bridge;
  j.egress = egress;
  for (const auto& a : allow) j.egress_allow.push_back(parse_egress_rule(a));
  return j;
}

// "OK" or the errno name tcp_connect printed (hostile/tcp_connect.c).
std::string connect_from_cell(Executor& e, JobSpec j, const std::string& addr, int port) {
  j.command = {"/t/tcp_connect", std::to_string(port), addr};
  Result r = e.run(with_programs(j));
  EXPECT_EQ(r.status, Status::exited) << describe(r);
  auto words = lines(r.stdout_data);
  if (words.empty()) return "no output: " + describe(r);
  std::istringstream in(words[0]);
  std::string tag, name, verdict;
  in >> tag >> name >> verdict;
  return verdict;
}

// A TCP listener on the host; the kernel completes handshakes into its backlog, which is all a
// connect needs.
class Listener {
 public:
  explicit Listener(const std::string& addr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    ::inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd_, 64) != 0)
      throw std::runtime_error("listen on " + addr + ": " + std::strerror(errno));
    socklen_t len = sizeof sa;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
    port_ = ntohs(sa.sin_port);
  }
  ~Listener() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

bool host_connects(const std::string& addr, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
  ::close(fd);
  return ok;
}

// What a bridge holds for jobs, counted through netlink, the lease directory and nftables.
struct Leftovers {
  size_t veths = 0, leases = 0, job_chains = 0, egress_elements = 0, port_elements = 0, addresses = 0;
  bool operator==(const Leftovers&) const = default;
};
std::ostream& operator<<(std::ostream& o, const Leftovers& l) {
  return o << "{veths " << l.veths << ", leases " << l.leases << ", job chains " << l.job_chains << ", egress map "
           << l.egress_elements << ", bridge ports " << l.port_elements << ", addresses on the bridge "
           << l.addresses << "}";
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

Leftovers count(const std::string& bridge) {
  Leftovers l;
  Netlink nl;
  const auto index = link_index(nl, bridge);
  for (const LinkInfo& link : list_links(nl))
    if (link.name.starts_with("cbv-") && (!index || link.master == *index)) ++l.veths;
  if (index)
    for (const AddressInfo& a : list_ipv4_addresses(nl))
      if (a.index == *index) ++l.addresses;
  for (const auto& lease : Bridge::list_leases(kState))
    if (lease.bridge == bridge) ++l.leases;
  if (!nft_try("list table inet " + bridge)) return l;  // no bridge yet
  const std::string inet = nft_list("list table inet " + bridge);
  l.job_chains = count_of(inet, "chain j-");
  l.egress_elements = count_of(inet, ": jump j-");
  const std::string br = nft_list("list table bridge " + bridge);
  l.port_elements = count_of(br, "\"cbv-");  // each port is in both sets
  return l;
}

const Leftovers kClean{0, 0, 0, 0, 0, 1};  // only the gateway's address

// The veths go with the jobs' namespaces, which the kernel destroys in a worker of its own
// soon after: wait for that (a calibrated limit), then compare.
Leftovers settled(const std::string& bridge) {
  Leftovers l;
  eventually([&] {
    l = count(bridge);
    return l == kClean;
  }, std::chrono::milliseconds(static_cast<int64_t>(promptly_ms(30'000))));
  return l;
}

std::string host_address_outside(const std::string& bridge) {
  ifaddrs* list = nullptr;
  ::getifaddrs(&list);
  std::string found;
  for (ifaddrs* i = list; i && found.empty(); i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || bridge == i->ifa_name) continue;
    char text[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(i->ifa_addr)->sin_addr, text, sizeof text);
    if (std::string(text).starts_with("127.")) continue;
    found = text;
  }
  ::freeifaddrs(list);
  return found;
}

TEST_F(BridgeNetwork, CellHasItsAddressRouteAndResolver) {
  Result r = bridged_executor().run(bridged(sh("ip -o -4 addr show eth0; ip route; cat /etc/resolv.conf")));
  ASSERT_EQ(r.status, Status::exited) << describe(r);
  EXPECT_THAT(r.stdout_data, ::testing::ContainsRegex("eth0 +inet 10\\.231\\.0\\.[0-9]+/24"));
  EXPECT_THAT(r.stdout_data, HasSubstr(std::string("default via ") + kGateway + " dev eth0"));
  EXPECT_THAT(r.stdout_data, HasSubstr("nameserver 192.0.2.53\n"));
  // The rootfs itself is untouched: the file is bound over it in the cell only.
  EXPECT_FALSE(std::filesystem::exists(std::string(kRootfs) + "/etc/resolv.conf"));
  EXPECT_EQ(settled(kBridge), kClean);
}

TEST_F(BridgeNetwork, GatewayIsReachableOnlyWhenEgressAllowsIt) {
  bridged_executor().run(bridged(sh("true")));  // the bridge exists from here on
  Listener server(kGateway);
  Listener other(kGateway);
  const int port = server.port();
  Executor& e = bridged_executor();
  EXPECT_NE(connect_from_cell(e, bridged(job({})), kGateway, port), "OK") << "no egress";
  EXPECT_EQ(connect_from_cell(e, bridged(job({}), true), kGateway, port), "OK") << "egress anywhere";
  EXPECT_EQ(connect_from_cell(e, bridged(job({}), true, {std::string(kGateway) + "/32:" + std::to_string(port)}),
                              kGateway, port), "OK") << "egress to exactly this port";
  EXPECT_NE(connect_from_cell(e, bridged(job({}), true, {std::string(kGateway) + "/32:" + std::to_string(other.port())}),
                              kGateway, port), "OK") << "egress to another port only";
  EXPECT_NE(connect_from_cell(e, bridged(job({}), true, {"192.0.2.0/24"}), kGateway, port), "OK")
      << "egress to another network only";
  EXPECT_EQ(settled(kBridge), kClean);
}

TEST_F(BridgeNetwork, HostsOtherAddressesAreUnreachable) {
  bridged_executor().run(bridged(sh("true")));
  const std::string host = host_address_outside(kBridge);
  ASSERT_FALSE(host.empty()) << "this host has no IPv4 address besides loopback and the bridge";
  Listener server("0.0.0.0");
  Executor& e = bridged_executor();
  // The control: the same listener answers on the gateway when egress allows it.
  EXPECT_EQ(connect_from_cell(e, bridged(job({}), true), kGateway, server.port()), "OK");
  EXPECT_NE(connect_from_cell(e, bridged(job({})), host, server.port()), "OK") << host << ", no egress";
  EXPECT_NE(connect_from_cell(e, bridged(job({}), true), host, server.port()), "OK") << host << ", with egress";
}

TEST_F(BridgeNetwork, TwoBridgedJobsCannotReachEachOther) {
  Executor& e = bridged_executor();
  StopToken stop;
  JobSpec server = bridged(sh("while true; do nc -l -p 7000 </dev/null; done"));
  server.limits.wall_time_ms = 600'000;
  Result server_result;
  std::thread t([&] { server_result = e.run(server, &stop); });
  StopAndJoin server_ends(stop, t);
  std::string address;
  ASSERT_TRUE(eventually([&] {
    for (const auto& lease : Bridge::list_leases(kState))
      if (lease.bridge == kBridge) address = ipv4_to_string(lease.address);
    return !address.empty() && host_connects(address, 7000);
  }, std::chrono::milliseconds(static_cast<int64_t>(promptly_ms(20'000)))))
      << "the listening job never answered the host (address " << address << ")";
  EXPECT_NE(connect_from_cell(e, bridged(job({})), address, 7000), "OK");
  EXPECT_NE(connect_from_cell(e, bridged(job({}), true), address, 7000), "OK") << "even with egress";
  server_ends.finish();
  EXPECT_EQ(settled(kBridge), kClean);
}

TEST_F(BridgeNetwork, NothingLeftAfter500Jobs) {
  Executor& e = bridged_executor();
  std::atomic<int> failed{0};
  std::string first_failure;
  std::mutex m;
  auto worker = [&](int from) {
    for (int i = from; i < 500; i += 2) {
      Result r = e.run(bridged(sh("true"), i % 2 == 0, i % 4 == 0 ? std::vector<std::string>{"10.0.0.0/8:80"}
                                                                  : std::vector<std::string>{}));
      if (r.status != Status::exited) {
        std::lock_guard lock(m);
        if (failed++ == 0) first_failure = describe(r);
      }
    }
  };
  std::thread a(worker, 0), b(worker, 1);
  a.join();
  b.join();
  EXPECT_EQ(failed.load(), 0) << first_failure;
  EXPECT_EQ(settled(kBridge), kClean);
}

TEST_F(BridgeNetwork, HundredJobsAtOnce) {
  Executor& e = bridged_executor();
  constexpr int kJobs = 100;
  std::vector<StopToken> stops(kJobs);
  std::vector<Result> results(kJobs);
  std::vector<std::thread> threads;
  for (int i = 0; i < kJobs; ++i)
    threads.emplace_back([&, i] {
      JobSpec j = bridged(sh("sleep 600"), i % 2 == 0);
      j.limits.wall_time_ms = 900'000;
      results[i] = e.run(j, &stops[i]);
    });
  Leftovers running;
  const bool all_up = eventually([&] {
    running = count(kBridge);
    return running.veths == kJobs && running.job_chains == kJobs / 2;
  }, std::chrono::milliseconds(static_cast<int64_t>(promptly_ms(120'000))));
  for (auto& s : stops) s.request();
  for (auto& t : threads) t.join();
  EXPECT_TRUE(all_up) << running;
  EXPECT_EQ(running.leases, static_cast<size_t>(kJobs));
  EXPECT_EQ(running.job_chains, static_cast<size_t>(kJobs / 2));
  for (const Result& r : results) {
    EXPECT_NE(r.status, Status::setup_error) << describe(r);
    EXPECT_NE(r.status, Status::internal_error) << describe(r);
  }
  EXPECT_EQ(settled(kBridge), kClean);
}

// A job's stdout as it comes (output_listener.h), to act while the job still runs.
class SeenOutput : public OutputListener {
 public:
  void on_output(OutputStream stream, std::string_view chunk) noexcept override {
    if (stream != OutputStream::out) return;
    std::lock_guard lock(mutex_);
    text_.append(chunk);
  }
  std::string text() {
    std::lock_guard lock(mutex_);
    return text_;
  }

 private:
  std::mutex mutex_;
  std::string text_;
};

// (Before the tests that make and drop a second executor in this process: its end removes the
// process's sv- directories, which bridged_executor() still uses.)
// A bridged pod is one place on the bridge: one lease and one veth for the network namespace its
// cells share, recorded for a crash cleanup. The job reaches its service over 127.0.0.1 and over
// the pod's bridge address (the same namespace); another bridged job cannot reach the service,
// with or without egress.
TEST_F(BridgeNetwork, APodIsBridgedOnceAndOnlyItsOwnJobReachesItsService) {
  Executor& e = bridged_executor();
  JobSpec j = bridged(with_programs(sh(
      "addr=$(ip -o -4 addr show dev eth0 | sed 's/.* inet \\([0-9.]*\\)\\/.*/\\1/'); echo address $addr; "
      // The service's nc serves one connection, then the loop starts the next: a connect in
      // between is refused (it was, once, in CI). Each address is tried until it answers.
      "reach() { i=0; while [ $i -lt 200 ]; do r=$(/t/tcp_connect 7300 $1); case $r in *' OK '*) break;; esac; "
      "i=$((i+1)); sleep 0.05; done; echo \"$r\"; }; "
      "reach 127.0.0.1; reach $addr; cat /etc/resolv.conf; echo checked; "
      "exec sleep 600")));
  j.limits.wall_time_ms = 900'000;
  PodService db;
  db.name = "db";
  db.command = {"/bin/sh", "-c", "while true; do nc -l -p 7300 </dev/null; done"};
  db.ready_tcp_port = 7300;
  db.ready_timeout_ms = static_cast<uint64_t>(promptly_ms(60'000));
  db.limits.wall_time_ms = 900'000;
  j.services.push_back(db);
  StopToken stop;
  SeenOutput seen;
  Result pod;
  std::atomic<bool> ended{false};
  std::thread t([&] {
    pod = e.run(j, &stop, &seen);
    ended = true;
  });
  StopAndJoin pod_ends(stop, t);
  ASSERT_TRUE(eventually([&] { return ended || seen.text().find("checked\n") != std::string::npos; },
                         std::chrono::milliseconds(static_cast<int64_t>(promptly_ms(120'000)))))
      << seen.text();
  ASSERT_FALSE(ended) << "the pod ended early: " << describe(pod);
  const std::string out = seen.text();
  const size_t at = out.find("address ");
  ASSERT_NE(at, std::string::npos) << out;
  const std::string address = out.substr(at + 8, out.find('\n', at) - at - 8);
  EXPECT_THAT(address, ::testing::StartsWith("10.231.0.")) << out;
  EXPECT_THAT(out, HasSubstr("RESULT tcp_connect OK addr=127.0.0.1:7300")) << out;
  EXPECT_THAT(out, HasSubstr("RESULT tcp_connect OK addr=" + address + ":7300")) << out;
  EXPECT_THAT(out, HasSubstr("nameserver 192.0.2.53\n"));
  // One lease and one veth for the pod's three cells (the service, the job), and its record.
  const Leftovers running = count(kBridge);
  EXPECT_EQ(running.leases, 1u) << running;
  EXPECT_EQ(running.veths, 1u) << running;
  bool recorded = false;
  for (const auto& sv : std::filesystem::directory_iterator(kState))
    if (sv.path().filename().string().starts_with("sv-"))
      for (const auto& f : std::filesystem::directory_iterator(sv.path()))
        if (f.path().filename().string().starts_with("pod-") &&
            read_file(f.path()).find("net " + std::string(kBridge) + " " + address + " ") != std::string::npos)
          recorded = true;
  EXPECT_TRUE(recorded) << "no pod-<n> state file with the lease under " << kState;
  EXPECT_NE(connect_from_cell(e, bridged(job({})), address, 7300), "OK");
  EXPECT_NE(connect_from_cell(e, bridged(job({}), true), address, 7300), "OK") << "even with egress";
  pod_ends.finish();
  EXPECT_EQ(pod.status, Status::cancelled) << describe(pod);
  ASSERT_EQ(pod.services.size(), 1u) << describe(pod);
  EXPECT_EQ(pod.services[0].result.status, Status::cancelled) << describe(pod);
  EXPECT_EQ(settled(kBridge), kClean);
}

TEST_F(BridgeNetwork, CrashCleanupRemovesWhatAKilledSupervisorLeft) {
  bridged_executor().run(bridged(sh("true")));
  const std::string job_file = std::string(kState) + "/crash-job.json";
  std::ofstream(job_file) << "{\"rootfs\": \"" << kRootfs << "\", \"command\": [\"sleep\", \"600\"], "
                          << "\"network\": \"bridge\", \"egress\": true, \"limits\": {\"wall_time_ms\": 900000}}";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::execl(kCellblockBinary, kCellblockBinary, "--state-dir", kState, "--bridge-name", kBridge, "--bridge-subnet",
            kSubnet, "run", "-j", job_file.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  Leftovers before;
  const bool started = eventually([&] {
    before = count(kBridge);
    return before.job_chains == 1 && before.veths == 1;
  }, std::chrono::milliseconds(static_cast<int64_t>(promptly_ms(20'000))));
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  ASSERT_TRUE(started) << before;
  // The cell died with its supervisor (and with it the veth); its rules and lease did not.
  EXPECT_EQ(count(kBridge).leases, 1u);
  EXPECT_EQ(count(kBridge).job_chains, 1u);
  Executor next(config());  // its start cleans up after the dead one
  EXPECT_EQ(settled(kBridge), kClean);
}

TEST_F(BridgeNetwork, BadInputGetsClearErrors) {
  {
    Executor e(config("cbtest1", "10.231.1.1/30"));
    Result r = e.run(bridged(sh("true")));
    EXPECT_EQ(r.status, Status::setup_error);
    EXPECT_EQ(r.error.value_or(""), "network: bridge subnet \"10.231.1.1/30\": host bits set: the network of 10.231.1.1/30 is "
                       "10.231.1.0/30");
  }
  const std::string host = host_address_outside(kBridge);
  if (!host.empty()) {
    Executor e(config(kSmallBridge, host + "/32"));
    Result r = e.run(bridged(sh("true")));
    EXPECT_EQ(r.status, Status::setup_error);
    EXPECT_THAT(r.error.value_or(""), HasSubstr("network: bridge subnet \"" + host + "/32\": too small (at most /30"));
    Executor overlapping(config(kSmallBridge, host.substr(0, host.rfind('.')) + ".0/24"));
    r = overlapping.run(bridged(sh("true")));
    EXPECT_EQ(r.status, Status::setup_error);
    EXPECT_THAT(r.error.value_or(""), HasSubstr("overlaps the host's address " + host));
  }
  {
    JobSpec j = sh("true");
    j.egress = true;
    Result r = bridged_executor().run(j);
    EXPECT_EQ(r.status, Status::setup_error);
    EXPECT_EQ(r.error.value_or(""), "egress: only for \"network\": \"bridge\" (this job's network is \"none\")");
  }
  {
    // A /30 has one address for jobs: while one job holds it, the next is refused, then admitted.
    Executor e(config(kSmallBridge, kSmallSubnet));
    StopToken stop;
    JobSpec holder = bridged(sh("sleep 600"));
    holder.limits.wall_time_ms = 900'000;
    std::thread t([&] { e.run(holder, &stop); });
    StopAndJoin holder_ends(stop, t);
    ASSERT_TRUE(eventually([&] { return count(kSmallBridge).veths == 1; },
                           std::chrono::milliseconds(static_cast<int64_t>(promptly_ms(20'000)))));
    Result r = e.run(bridged(sh("true")));
    holder_ends.finish();
    EXPECT_EQ(r.status, Status::setup_error);
    EXPECT_EQ(r.error.value_or(""), "network: bridge subnet 10.231.1.0/30: no free address (all 1 leased; see " + std::string(kState) +
                           "/net/cbtest1/leases)");
    EXPECT_EQ(e.run(bridged(sh("true"))).status, Status::exited);
    EXPECT_EQ(settled(kSmallBridge), kClean);
  }
}

}  // namespace
}  // namespace cellblock
