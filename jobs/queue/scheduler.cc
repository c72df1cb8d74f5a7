#include "jobs/queue/scheduler.h"

namespace cellblock {

void Scheduler::push(uint64_t id, int priority, uint64_t memory_bytes) {
  Key key{-priority, arrivals_++, id};
  waiting_.insert(key);
  keys_[id] = key;
  memory_of_[id] = memory_bytes;
}

bool Scheduler::remove_waiting(uint64_t id) {
  auto it = keys_.find(id);
  if (it == keys_.end()) return false;
  waiting_.erase(it->second);
  keys_.erase(it);
  memory_of_.erase(id);
  return true;
}

void Scheduler::finished(uint64_t id) {
  auto it = running_.find(id);
  if (it == running_.end()) return;
  in_use_ -= it->second;
  running_.erase(it);
  memory_of_.erase(id);
}

std::vector<uint64_t> Scheduler::admit() {
  std::vector<uint64_t> start;
  while (!closed_ && !waiting_.empty() && running_.size() < max_running_) {
    auto head = waiting_.begin();
    uint64_t id = std::get<2>(*head);
    uint64_t memory = memory_of_[id];
    if (in_use_ + memory > budget_) break;
    waiting_.erase(head);
    keys_.erase(id);
    running_[id] = memory;
    in_use_ += memory;
    start.push_back(id);
  }
  return start;
}

std::vector<uint64_t> Scheduler::waiting_ids() const {
  std::vector<uint64_t> ids;
  for (const Key& k : waiting_) ids.push_back(std::get<2>(k));
  return ids;
}

}  // namespace cellblock
