#include "jobs/queue/scheduler.h"

namespace cellblock {

void Scheduler::push_gang(const std::vector<GangMember>& members, int priority) {
  if (members.empty()) return;
  Key key{-priority, arrivals_++, members.front().id};
  waiting_.insert(key);
  std::vector<uint64_t>& gang = gangs_[members.front().id];
  for (const GangMember& m : members) {
    gang.push_back(m.id);
    keys_[m.id] = key;
    memory_of_[m.id] = m.memory_bytes;
  }
}

bool Scheduler::remove_waiting(uint64_t id) {
  auto it = keys_.find(id);
  if (it == keys_.end()) return false;
  const Key key = it->second;
  std::vector<uint64_t>& gang = gangs_[std::get<2>(key)];
  std::erase(gang, id);
  if (gang.empty()) {
    waiting_.erase(key);
    gangs_.erase(std::get<2>(key));
  }
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
  while (!closed_ && !waiting_.empty()) {
    auto head = waiting_.begin();
    auto gang = gangs_.find(std::get<2>(*head));
    uint64_t memory = 0;
    for (uint64_t id : gang->second) memory += memory_of_[id];
    if (running_.size() + gang->second.size() > max_running_ || in_use_ + memory > budget_) break;
    for (uint64_t id : gang->second) {
      keys_.erase(id);
      running_[id] = memory_of_[id];
      start.push_back(id);
    }
    in_use_ += memory;
    waiting_.erase(head);
    gangs_.erase(gang);
  }
  return start;
}

std::vector<uint64_t> Scheduler::waiting_ids() const {
  std::vector<uint64_t> ids;
  for (const Key& k : waiting_)
    for (uint64_t id : gangs_.at(std::get<2>(k))) ids.push_back(id);
  return ids;
}

}  // namespace cellblock
