// cellblock's resident queue inside the benchmark process: a tool named "@queue ROOTFS [POLICY]"
// in compare's list runs each job through a JobQueue and an Executor, exactly as
// `cellblock batch` does, timed from submit to result. This is the main path the issue's
// latency and throughput targets are about; `cellblock run` (a process per job) is measured
// beside it as an ordinary command.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace cellblock::bench {

class InProcessQueue {
 public:
  // `parallel`: how many jobs the queue runs at once (the largest worker count measured).
  InProcessQueue(const std::string& rootfs, const std::string& policy, size_t parallel);
  ~InProcessQueue();

  // Runs one /bin/true job; returns its latency in ns, or an error text.
  struct Outcome {
    int64_t ns = 0;
    std::optional<std::string> error;
  };
  Outcome run_one();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace cellblock::bench
