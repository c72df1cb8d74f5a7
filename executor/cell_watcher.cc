#include "executor/cell_watcher.h"

#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "executor/base/sys_error.h"

namespace cellblock {
namespace {

using Clock = Supervision::Clock;
constexpr int kSlots = Supervision::kSlots;

// epoll's data for the watcher's own descriptors; a cell's slots carry a pointer instead.
constexpr uint64_t kWakeTag = 1, kTimerTag = 2;

}  // namespace

struct CellWatcher::Cell {
  // What an epoll event points at: the cell and which of its descriptors is ready.
  struct Slot {
    Cell* cell;
    int index;
  };
  std::unique_ptr<Supervision> supervision;
  Done done;
  Answer answer;  // empty once called
  Slot slots[kSlots];
  int registered[kSlots];  // the descriptor in the epoll set per slot, -1 for none
  bool ready[kSlots] = {};
};

CellWatcher::CellWatcher()
    : epoll_(::epoll_create1(EPOLL_CLOEXEC)),
      wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      timer_(::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK)) {
  if (!epoll_) throw_sys("epoll_create1");
  if (!wake_) throw_sys("eventfd");
  if (!timer_) throw_sys("timerfd_create");
  epoll_event wake{EPOLLIN, {.u64 = kWakeTag}};
  epoll_event timer{EPOLLIN, {.u64 = kTimerTag}};
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, wake_.get(), &wake) != 0) throw_sys("epoll_ctl(eventfd)");
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, timer_.get(), &timer) != 0) throw_sys("epoll_ctl(timerfd)");
}

CellWatcher::~CellWatcher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

void CellWatcher::watch(std::unique_ptr<Supervision> supervision, Done done, Answer answer) {
  auto cell = std::make_unique<Cell>();
  cell->supervision = std::move(supervision);
  cell->done = std::move(done);
  cell->answer = std::move(answer);
  for (int i = 0; i < kSlots; ++i) {
    cell->slots[i] = {cell.get(), i};
    cell->registered[i] = -1;
  }
  {
    std::lock_guard lock(mutex_);
    // The thread first: if it cannot be made (std::system_error), nothing is taken over.
    if (!thread_.joinable()) thread_ = std::thread([this] { loop(); });
    new_.push_back(std::move(cell));
    count_.fetch_add(1);
  }
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof one);
}

void CellWatcher::take_new_cells() {
  uint64_t count;
  [[maybe_unused]] ssize_t n = ::read(wake_.get(), &count, sizeof count);
  std::vector<std::unique_ptr<Cell>> taken;
  {
    std::lock_guard lock(mutex_);
    taken.swap(new_);
  }
  for (auto& cell : taken) {
    Cell& c = *cell;
    cells_.push_back(std::move(cell));
    try {
      sync_registrations(c);
    } catch (...) {
      end(c, std::current_exception());
    }
  }
}

// Makes the epoll set hold exactly the descriptors the cell's supervision waits on now.
void CellWatcher::sync_registrations(Cell& cell) {
  for (int i = 0; i < kSlots; ++i) {
    const int want = cell.supervision->fd(Supervision::Slot(i));
    if (cell.registered[i] == want) continue;
    if (cell.registered[i] >= 0) {
      // Still open (the cell's descriptors close only after `done`), so this cannot fail.
      ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, cell.registered[i], nullptr);
      cell.registered[i] = -1;
    }
    if (want >= 0) {
      epoll_event ev{EPOLLIN, {.ptr = &cell.slots[i]}};
      if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, want, &ev) != 0) throw_sys("epoll_ctl(EPOLL_CTL_ADD)");
      cell.registered[i] = want;
    }
  }
}

// Leaves the epoll set, hands the outcome over and forgets the cell.
void CellWatcher::end(Cell& cell, std::exception_ptr error) {
  for (int& fd : cell.registered) {
    if (fd >= 0) ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
    fd = -1;
  }
  try {
    cell.done(error ? nullptr : &cell.supervision->result(), error);
  } catch (const std::exception& e) {
    spdlog::error("cell watcher: a done callback threw: {}", e.what());
  }
  auto it = std::find_if(cells_.begin(), cells_.end(), [&](const auto& c) { return c.get() == &cell; });
  if (it != cells_.end()) cells_.erase(it);
  count_.fetch_sub(1);
}

// The outcome goes first; the cell stays watched until its init has exited. The stop token
// leaves the epoll set before the callback, which may close it.
void CellWatcher::answer(Cell& cell, Clock::time_point now) {
  cell.supervision->answered(now);
  sync_registrations(cell);
  Answer answer = std::move(cell.answer);
  cell.answer = nullptr;
  try {
    answer(cell.supervision->result());
  } catch (const std::exception& e) {
    spdlog::error("cell watcher: an answer callback threw: {}", e.what());
  }
}

void CellWatcher::arm_timer() {
  Clock::time_point wake = Clock::time_point::max();
  for (const auto& c : cells_) wake = std::min(wake, c->supervision->next_wake());
  itimerspec spec{};
  if (wake != Clock::time_point::max()) {
    // steady_clock is CLOCK_MONOTONIC on Linux. A time already past fires at once; zero would
    // disarm, so it becomes the smallest time there is.
    const auto ns = std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::nanoseconds>(wake.time_since_epoch()).count());
    spec.it_value = {static_cast<time_t>(ns / 1'000'000'000), static_cast<long>(ns % 1'000'000'000)};
  }
  if (::timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &spec, nullptr) != 0) throw_sys("timerfd_settime");
}

void CellWatcher::loop() {
  epoll_event events[128];
  for (;;) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_ && new_.empty() && cells_.empty()) return;
    }
    try {
      arm_timer();
    } catch (const std::exception& e) {
      spdlog::error("cell watcher: {}", e.what());  // a cell's clocks are then looked at on its next event
    }
    const int n = ::epoll_wait(epoll_.get(), events, static_cast<int>(std::size(events)), -1);
    if (n < 0) {
      if (errno != EINTR) spdlog::error("cell watcher: epoll_wait: {}", std::strerror(errno));
      continue;
    }
    bool wake = false;
    for (int i = 0; i < n; ++i) {
      if (events[i].data.u64 == kWakeTag) wake = true;
      else if (events[i].data.u64 == kTimerTag) {
        uint64_t expirations;
        [[maybe_unused]] ssize_t r = ::read(timer_.get(), &expirations, sizeof expirations);
      } else {
        auto* slot = static_cast<Cell::Slot*>(events[i].data.ptr);
        slot->cell->ready[slot->index] = true;
      }
    }
    // Every cell with a ready descriptor or a clock due takes its step; a cell that is done, or
    // whose step failed, ends. Iterating over a copy: end() erases from cells_.
    const Clock::time_point now = Clock::now();
    std::vector<Cell*> due;
    for (const auto& c : cells_) {
      const bool any = std::any_of(std::begin(c->ready), std::end(c->ready), [](bool r) { return r; });
      if (any || now >= c->supervision->next_wake()) due.push_back(c.get());
    }
    for (Cell* c : due) {
      try {
        c->supervision->step(c->ready, now);
        std::fill(std::begin(c->ready), std::end(c->ready), false);
        if (c->supervision->done(now)) end(*c, nullptr);
        else if (c->answer && c->supervision->answerable()) answer(*c, now);
        else sync_registrations(*c);
      } catch (...) {
        end(*c, std::current_exception());
      }
    }
    if (wake) take_new_cells();
  }
}

}  // namespace cellblock
