// One thread that supervises many running cells: an epoll loop over every watched cell's
// descriptors (its init's pidfd, its stdout, stderr and report pipes, its stop token), with one
// timerfd for the earliest of their clocks (wall-time deadline, CPU-time look, pids sample).
// It replaces a blocked thread per running cell, so a resident supervisor holds a fixed number
// of threads however many cells run (Executor::run_async, docs/executor.md "Supervision").
//
// Each cell's logic is its Supervision (supervise.h), the same state machine that
// supervise_cell() drives on a thread of its own for the cells that need one.
#pragma once

#include <sys/epoll.h>

#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "executor/base/unique_fd.h"
#include "executor/supervise.h"

namespace cellblock {

class CellWatcher {
 public:
  // Called once on the watcher's thread when the cell's supervision is done, with its outcome;
  // or with the exception its step() threw (the cell may still run: the caller's cleanup, its
  // cgroup's kill, ends it). It must not block for long: every other cell waits meanwhile.
  using Done = std::function<void(SupervisedCell*, std::exception_ptr)>;
  // Called at most once on the watcher's thread, before `done`, when the cell's outcome is known
  // and only its init's exit is left (Supervision::answerable). From then on the supervision no
  // longer uses the stop token or the output listener; `done` still comes when the init is gone.
  using Answer = std::function<void(SupervisedCell&)>;

  CellWatcher();   // the thread starts with the first watch()
  ~CellWatcher();  // waits until every watched cell is done, then stops the thread
  CellWatcher(const CellWatcher&) = delete;
  CellWatcher& operator=(const CellWatcher&) = delete;

  // Thread-safe. Takes over `supervision` (whose cell must live until `done` has been called, and
  // its stop token and listener until `answer` has, or `done` when there is no answer). Throws
  // std::system_error, having taken nothing over, when the thread cannot be started.
  void watch(std::unique_ptr<Supervision> supervision, Done done, Answer answer = {});

  // How many cells are watched now (for tests and metrics).
  size_t watched() const { return count_.load(); }

 private:
  struct Cell;
  void loop();
  void arm_timer();
  void take_new_cells();
  void sync_registrations(Cell& cell);
  void end(Cell& cell, std::exception_ptr error);
  void answer(Cell& cell, Supervision::Clock::time_point now);

  UniqueFd epoll_, wake_, timer_;
  std::mutex mutex_;  // guards new_, stopping_ and the thread's start
  std::vector<std::unique_ptr<Cell>> new_;
  bool stopping_ = false;
  std::thread thread_;
  std::atomic<size_t> count_{0};
  std::vector<std::unique_ptr<Cell>> cells_;  // the watcher's thread only
};

}  // namespace cellblock
