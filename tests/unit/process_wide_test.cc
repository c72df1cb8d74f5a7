// ProcessWide<T> (executor/base/process_wide.h): one object per key while anyone holds it, and
// a new one is never made while the last owner's destructor still runs.
#include "executor/base/process_wide.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace cellblock {
namespace {

using namespace std::chrono_literals;

// Counts live objects; its destructor can be made slow to widen the race the registry closes.
struct Tracked {
  static inline std::atomic<int> alive{0};
  static inline std::atomic<int> most_alive{0};
  static inline std::atomic<int> slow_ms{0};
  int serial;
  explicit Tracked(int s) : serial(s) {
    const int now = ++alive;
    int seen = most_alive.load();
    while (now > seen && !most_alive.compare_exchange_weak(seen, now)) {
    }
  }
  ~Tracked() {
    std::this_thread::sleep_for(std::chrono::milliseconds(slow_ms.load()));
    --alive;
  }
};

TEST(ProcessWide, OneObjectPerKeyWhileHeld) {
  auto& registry = ProcessWide<Tracked>::instance();
  int made = 0;
  auto make = [&] { return std::make_unique<Tracked>(++made); };
  auto a = registry.get("one", make);
  auto b = registry.get("one", make);
  auto c = registry.get("two", make);
  EXPECT_EQ(a.get(), b.get());
  EXPECT_NE(a.get(), c.get());
  EXPECT_EQ(made, 2);
  a.reset();
  EXPECT_EQ(registry.get("one", make).get(), b.get()) << "kept while b holds it";
  b.reset();
  c.reset();
  EXPECT_EQ(Tracked::alive.load(), 0);
  auto d = registry.get("one", make);
  EXPECT_EQ(d->serial, 3) << "made again after the last holder let go";
}

TEST(ProcessWide, AFailedMakeRecordsNothing) {
  auto& registry = ProcessWide<Tracked>::instance();
  EXPECT_THROW(registry.get("fails", []() -> std::unique_ptr<Tracked> { throw std::runtime_error("no"); }),
               std::runtime_error);
  auto t = registry.get("fails", [] { return std::make_unique<Tracked>(7); });
  EXPECT_EQ(t->serial, 7);
}

// The last owner's destructor (which removes directories) and the next make (which creates them)
// never overlap: at most one object of a key is alive at any moment.
TEST(ProcessWide, TheNextObjectIsMadeOnlyAfterTheLastOneIsDestroyed) {
  auto& registry = ProcessWide<Tracked>::instance();
  Tracked::alive = 0;
  Tracked::most_alive = 0;
  Tracked::slow_ms = 20;
  for (int round = 0; round < 5; ++round) {
    auto held = registry.get("race", [] { return std::make_unique<Tracked>(0); });
    std::thread dropper([&] { held.reset(); });  // its destructor sleeps 20 ms
    std::this_thread::sleep_for(2ms);            // the destructor has begun
    auto next = registry.get("race", [] { return std::make_unique<Tracked>(1); });
    dropper.join();
    EXPECT_EQ(Tracked::most_alive.load(), 1) << "round " << round << ": two objects of one key were alive at once";
  }
  Tracked::slow_ms = 0;
}

}  // namespace
}  // namespace cellblock
