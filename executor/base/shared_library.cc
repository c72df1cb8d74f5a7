#include "executor/base/shared_library.h"

#include <dlfcn.h>

#include <stdexcept>

namespace cellblock {

SharedLibrary::SharedLibrary(const char* soname, const char* purpose) : soname_(soname) {
  // RTLD_NODELETE: never unloaded, since what it made (GLib's types, for one) outlives any owner.
  handle_ = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (!handle_) {
    const char* why = ::dlerror();
    throw std::runtime_error("cannot load " + soname_ + " " + purpose + ": " + (why ? why : "?"));
  }
}

void* SharedLibrary::symbol(const char* name) const {
  void* found = ::dlsym(handle_, name);
  if (!found) throw std::runtime_error(soname_ + ": no symbol " + name);
  return found;
}

}  // namespace cellblock
