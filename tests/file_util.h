// Reading and writing a whole small file in a test (cgroup interface files, fake or real).
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace cellblock::testing {

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Replaces the file's content; throws when the write fails.
inline void spit(const std::filesystem::path& p, std::string_view content) {
  std::ofstream out(p, std::ios::trunc);
  out << content;
  out.flush();
  if (!out) throw std::runtime_error("write " + p.string() + " failed");
}

}  // namespace cellblock::testing
