// One object per key for the whole process, shared by everyone who asks for it while it lives.
//
// Some state belongs to the process, not to one Executor: its cgroup directory
// "sv-<pid>-<start>" and its state directory of the same name are named after the process. Two
// executors in one process (a test's and a service's, or a test's two) must share them, and
// the directories must go only when the last user does. ProcessWide<T> keeps a weak reference
// per key; get() returns the live object or makes a new one.
//
// Destroying the last reference (which removes the directories) and making the next object
// (which creates them again) never overlap: the deleter runs under the registry's lock, and
// get() waits for a deleter that has begun (the count hit zero) but not finished. Without that a
// new executor could mkdir the sv- directory a moment before the old owner's rmdir.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace cellblock {

template <class T>
class ProcessWide {
 public:
  static ProcessWide& instance() {
    static ProcessWide* registry = new ProcessWide;  // never destroyed: deleters may run at exit
    return *registry;
  }

  // The live object for `key`, or make()'s, which is kept for the next caller while anyone holds
  // it. make() runs under the lock, so two callers never make the same key twice. Exceptions
  // from make() reach the caller and record nothing.
  std::shared_ptr<T> get(const std::string& key, const std::function<std::unique_ptr<T>()>& make) {
    std::unique_lock lock(mutex_);
    Entry& entry = objects_[key];  // std::map: stays put while others are added
    if (auto live = entry.object.lock()) return live;
    destroyed_.wait(lock, [&] { return !entry.alive; });  // the last owner's deleter is running
    std::unique_ptr<T> made = make();
    std::shared_ptr<T> shared(made.release(), [this, &entry](T* p) {
      std::lock_guard lock(mutex_);
      delete p;
      entry.alive = false;
      destroyed_.notify_all();
    });
    entry.object = shared;
    entry.alive = true;
    return shared;
  }

 private:
  struct Entry {
    std::weak_ptr<T> object;
    bool alive = false;  // made and not yet deleted, even when `object` has expired
  };

  ProcessWide() = default;
  std::mutex mutex_;
  std::condition_variable destroyed_;
  std::map<std::string, Entry> objects_;
};

}  // namespace cellblock
