// A shared library loaded when it is first needed (dlopen) instead of by every process at start,
// and its functions found by name (dlsym). For libraries only some work uses: each one linked
// costs every cellblock process its dynamic loading, about 0.1-2 ms with its dependencies
// (bench/results/latest-one-shot.md). The library stays loaded until the process ends.
#pragma once

#include <string>

namespace cellblock {

class SharedLibrary {
 public:
  // Throws std::runtime_error: "cannot load <soname> <purpose>: <dlerror>".
  SharedLibrary(const char* soname, const char* purpose);

  // `function` = the library's `name` (with the library's own dependencies searched too), of
  // the type the header declares. Throws std::runtime_error: "<soname>: no symbol <name>".
  template <typename F>
  void bind(F& function, const char* name) const {
    function = reinterpret_cast<F>(symbol(name));
  }

 private:
  void* symbol(const char* name) const;

  std::string soname_;
  void* handle_;
};

}  // namespace cellblock
