#include "executor/protocol/cell_plan_codec.h"

#include <cstring>

namespace cellblock {
namespace {

class Writer {
 public:
  void u64(uint64_t v) { out_.append(reinterpret_cast<const char*>(&v), sizeof v); }
  void str(const std::string& s) {
    u64(s.size());
    out_ += s;
  }
  void strs(const std::vector<std::string>& v) {
    u64(v.size());
    for (const auto& s : v) str(s);
  }
  void raw(const void* p, size_t n) {
    u64(n);
    out_.append(static_cast<const char*>(p), n);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  uint64_t u64() {
    need(sizeof(uint64_t));
    uint64_t v;
    std::memcpy(&v, in_.data() + pos_, sizeof v);
    pos_ += sizeof v;
    return v;
  }
  std::string str() {
    uint64_t n = u64();
    need(n);
    std::string s(in_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  std::vector<std::string> strs() {
    std::vector<std::string> v(count());
    for (auto& s : v) s = str();
    return v;
  }
  void raw(void* p, size_t n) {
    if (u64() != n) throw std::runtime_error("cell plan: field size mismatch");
    need(n);
    std::memcpy(p, in_.data() + pos_, n);
    pos_ += n;
  }
  // A length-prefixed blob of whole `T`s.
  template <typename T>
  std::vector<T> array() {
    uint64_t n = u64();
    need(n);
    if (n % sizeof(T)) throw std::runtime_error("cell plan: ragged array");
    std::vector<T> v(n / sizeof(T));
    std::memcpy(v.data(), in_.data() + pos_, n);
    pos_ += n;
    return v;
  }
  size_t count() {
    uint64_t n = u64();
    if (n > in_.size()) throw std::runtime_error("cell plan: impossible count");
    return n;
  }
  bool done() const { return pos_ == in_.size(); }

 private:
  void need(uint64_t n) {
    if (n > in_.size() - pos_) throw std::runtime_error("cell plan: truncated");
  }
  std::string_view in_;
  size_t pos_ = 0;
};

}  // namespace

std::string encode_cell_plan(const LaunchPlan& p, const CellFds& fds, bool unshare_cgroup_ns, bool loopback_up) {
  Writer w;
  for (const std::string* s : {&p.stage_dir, &p.tmpfs_options, &p.upper_dir, &p.work_dir, &p.root_dir, &p.tmp_dir,
                               &p.shm_dir, &p.overlay_options, &p.hostname, &p.cwd, &p.exec_display, &p.uid_map,
                               &p.gid_map})
    w.str(*s);
  w.u64(p.mounts.size());
  for (const PlannedMount& m : p.mounts) {
    w.str(m.source);
    w.str(m.target);
    w.u64(m.readonly);
    w.u64(m.source_is_dir);
  }
  w.strs(p.argv_storage);
  w.strs(p.env_storage);
  w.strs(p.exec_candidates);
  w.u64(p.rlimits.size());
  for (const PlannedRlimit& r : p.rlimits) {
    w.u64(static_cast<uint64_t>(r.resource));
    w.u64(r.value.rlim_cur);
    w.u64(r.value.rlim_max);
  }
  w.u64(p.security.has_value());
  if (p.security) {
    w.str(p.security->policy_name);
    w.raw(&p.security->capabilities, sizeof p.security->capabilities);
    w.u64(p.security->no_new_privs);
    w.raw(p.security->seccomp.data(), p.security->seccomp.size() * sizeof(sock_filter));
  }
  w.u64(p.user_namespace);
  w.u64(p.breakdown);
  w.u64(p.time_namespace);
  w.raw(&fds, sizeof fds);
  w.u64(unshare_cgroup_ns);
  w.u64(loopback_up);
  return w.take();
}

CellPlan decode_cell_plan(std::string_view bytes) {
  Reader r(bytes);
  CellPlan c;
  LaunchPlan& p = c.plan;
  for (std::string* s : {&p.stage_dir, &p.tmpfs_options, &p.upper_dir, &p.work_dir, &p.root_dir, &p.tmp_dir,
                         &p.shm_dir, &p.overlay_options, &p.hostname, &p.cwd, &p.exec_display, &p.uid_map,
                         &p.gid_map})
    *s = r.str();
  p.mounts.resize(r.count());
  for (PlannedMount& m : p.mounts) {
    m.source = r.str();
    m.target = r.str();
    m.readonly = r.u64();
    m.source_is_dir = r.u64();
  }
  p.argv_storage = r.strs();
  p.env_storage = r.strs();
  p.exec_candidates = r.strs();
  p.rlimits.resize(r.count());
  for (PlannedRlimit& l : p.rlimits) {
    l.resource = static_cast<int>(r.u64());
    l.value.rlim_cur = r.u64();
    l.value.rlim_max = r.u64();
  }
  if (r.u64()) {
    PlannedSecurity s;
    s.policy_name = r.str();
    r.raw(&s.capabilities, sizeof s.capabilities);
    s.no_new_privs = r.u64();
    s.seccomp = r.array<sock_filter>();
    p.security = std::move(s);
  }
  p.user_namespace = r.u64();
  p.breakdown = r.u64();
  p.time_namespace = r.u64();
  r.raw(&c.fds, sizeof c.fds);
  c.unshare_cgroup_ns = r.u64();
  c.loopback_up = r.u64();
  if (!r.done()) throw std::runtime_error("cell plan: trailing bytes");
  p.finish_arrays();
  return c;
}

}  // namespace cellblock
