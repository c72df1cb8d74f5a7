// The plain C++ description of one job. The executor takes it and returns a Result;
// it knows nothing of JSON. Defaults live here and only here.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "executor/base/unique_fd.h"
#include "executor/net/ipv4.h"
#include "executor/security/policy.h"

namespace cellblock {

struct CompiledPolicy;  // executor/security/compiled_policy.h

struct BindMount {
  std::string source;  // absolute host path
  std::string target;  // absolute path inside the cell, no ".." components
  bool readonly = true;
};

enum class NetworkMode {
  none,    // a fresh network namespace with only loopback, up
  bridge,  // and eth0, a veth to the host's cellblock bridge (docs/networking.md)
};

// Block-I/O throttling for one device (cgroup blkio/io). Zero means "no limit".
struct IoLimit {
  std::string device;  // "/dev/vda", "254:0", or any path on that device
  uint64_t read_bps = 0;
  uint64_t write_bps = 0;
  uint64_t read_iops = 0;
  uint64_t write_iops = 0;
};

struct Limits {
  // Enforced by the supervisor.
  uint64_t wall_time_ms = 10'000;
  uint64_t output_bytes = 1 << 20;  // per stream
  std::optional<uint64_t> cpu_time_ms;  // user+system of the whole cell; none = unlimited
  // Enforced by the kernel: tmpfs size, rlimits.
  uint64_t writable_bytes = 64 << 20;  // overlay upper layer and /tmp, each
  uint64_t open_files = 256;           // RLIMIT_NOFILE
  uint64_t file_size_bytes = 64 << 20; // RLIMIT_FSIZE
  std::optional<uint64_t> stack_bytes; // RLIMIT_STACK; none = inherit the default 8 MiB
  // RLIMIT_DATA and RLIMIT_AS: an allocation past them fails (ENOMEM) where the cgroup's limit
  // would OOM-kill; what go-judge's strictMemoryLimit and addressSpaceLimit ask for. None: unlimited.
  std::optional<uint64_t> data_bytes;
  std::optional<uint64_t> address_space_bytes;
  // Enforced by the job's cgroup.
  uint64_t memory_bytes = 512ull << 20;  // hard limit, no swap on top
  std::optional<double> cpus;            // CPU bandwidth in cores, e.g. 0.5
  uint64_t pids = 256;                   // tasks alive at once
  std::vector<IoLimit> io;
};

// A file written into the job's working directory before the command starts ("files" in the
// job format, docs/api.md). `path` is absolute in the cell and lies under /w (work_dir.h); the
// executor then mounts a private tmpfs of limits.writable_bytes there.
struct InputFile {
  std::string path;
  std::string content;
};

// A file read from the working directory after the command ended ("collect"), at most
// max_bytes; its outcome is in Result::collected.
struct CollectFile {
  std::string path;  // absolute in the cell, under /w
  uint64_t max_bytes = 1 << 20;
  // `cellblock serve` keeps the file in its file store and the result names its id
  // (jobs/service/file_store.h); elsewhere it comes inline, as without.
  bool keep = false;
};

// A pod's service ("pod.services" in the job format, docs/job-format.md): a command that runs
// beside the job in a cell of its own, with its own cgroup and limits, sharing the job's network
// and IPC namespaces. How a pod runs: pod.h.
struct PodService {
  std::string name;                   // [a-z0-9_-], unique in the pod; names it in the result
  std::vector<std::string> command;
  std::string rootfs;                 // empty: the job's
  std::optional<std::map<std::string, std::string>> env;  // none: the job's
  Limits limits;
  // The job's command starts once a TCP connect to 127.0.0.1:ready_tcp_port succeeds in the
  // pod's network namespace, retried until ready_timeout_ms after the pod started. 0: ready
  // once started.
  uint16_t ready_tcp_port = 0;
  uint64_t ready_timeout_ms = 10'000;
};

// Pipe ends the host made, handed to the command as its fd 0 or fd 1 in place of `stdin_data`
// or the captured stdout: go-judge's pipeMapping joins two jobs' commands this way. The cell
// still sees only fds 0-2. The JobSpec shares its end with the launch, which hands the cell a
// copy: the caller keeps no other, so that the peer sees end-of-file (or EPIPE) once this
// job's cell is gone and its JobSpec destroyed.
struct HandedStdio {
  std::shared_ptr<const UniqueFd> stdin_read;    // none: stdin_data
  std::shared_ptr<const UniqueFd> stdout_write;  // none: stdout captured into Result::stdout_data
};

struct JobSpec {
  std::string id;
  std::string rootfs;                        // absolute host directory, used read-only
  // A job from an image (docs/images.md): `image` names it, and jobs/ resolves it into
  // `lower_dirs`, the image's unpacked layers, top first, stacked as the overlay's lowerdir in
  // place of `rootfs`. A job whose image is not resolved does not start (setup_error).
  std::string image;
  // The image's manifest digest ("sha256:..."): set by the resolver to what the job runs; given,
  // the job runs only while `image` still names that manifest. A journaled job keeps it, so a tag
  // that moved while the service was down never mixes the old config with the new layers.
  std::string image_digest;
  std::vector<std::string> lower_dirs;
  std::vector<std::string> command;          // argv; command[0] resolved inside the cell
  std::map<std::string, std::string> env;    // the whole environment; nothing from the host
  std::string cwd = "/";
  std::string hostname = "cellblock";
  std::string stdin_data;
  HandedStdio handed;  // empty but in go-judge's pipes
  std::vector<BindMount> mounts;
  std::vector<InputFile> files;     // written under /w before the command starts
  std::vector<CollectFile> collect; // read from /w after it ended
  NetworkMode network = NetworkMode::none;
  // Bridged jobs only: outbound connections at all (NAT), and if `egress_allow` is not empty,
  // only to those destinations. Without egress a bridged job reaches nothing but its gateway's
  // replies.
  bool egress = false;
  std::vector<EgressRule> egress_allow;
  Limits limits;

  // Security (docs/policies.md). `policy` names the policy; jobs/ resolves it into `security`,
  // compiled once per policy. A job without `security` does not start (setup_error).
  std::string policy = "default";
  std::shared_ptr<const CompiledPolicy> security;
  std::optional<bool> user_namespace;  // none: the policy's default
  std::optional<Identity> user;        // the command's uid/gid inside; none: the policy's

  // The command's CLOCK_MONOTONIC and CLOCK_BOOTTIME (and /proc/uptime) start near 0: a time
  // namespace (time_namespace.h). A setup_error where the kernel has none.
  bool time_namespace = false;

  std::vector<PodService> services;  // a pod (pod.h); empty: the job alone

  bool breakdown = false;  // time each launch step into Result::breakdown (costs a few µs)
};

}  // namespace cellblock
