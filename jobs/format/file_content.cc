#include "jobs/format/file_content.h"

#include <glib.h>

#include <memory>

#include "executor/base/shared_library.h"
#include "jobs/format/json_reader.h"

namespace cellblock {
namespace {

// GLib, loaded by the first file in or out that needs it rather than by every process at start:
// a job without `files` or `collect` never does, and linking GLib cost every cellblock process
// about 40 page faults (1 ms on a paravirtualised guest; perf stat of a program that only links
// it, against one that links nothing).
struct GlibLibrary {
  decltype(&::g_utf8_validate_len) utf8_validate_len;
  decltype(&::g_base64_encode) base64_encode;
  decltype(&::g_base64_decode) base64_decode;
  decltype(&::g_free) free;
};

const GlibLibrary& glib() {
  static const GlibLibrary library = [] {
    // The runtime library of Debian's libglib2.0-dev (package libglib2.0-0).
    const SharedLibrary library("libglib-2.0.so.0", "for base64 and UTF-8 checks of files");
    GlibLibrary g{};
    library.bind(g.utf8_validate_len, "g_utf8_validate_len");
    library.bind(g.base64_encode, "g_base64_encode");
    library.bind(g.base64_decode, "g_base64_decode");
    library.bind(g.free, "g_free");
    return g;
  }();
  return library;
}

}  // namespace

bool is_utf8(const std::string& bytes) {
  return glib().utf8_validate_len(bytes.data(), static_cast<gssize>(bytes.size()), nullptr);
}

nlohmann::json content_to_json(const std::string& bytes) {
  if (is_utf8(bytes)) return {{"content", bytes}};
  std::unique_ptr<gchar, decltype(&g_free)> encoded(
      glib().base64_encode(reinterpret_cast<const guchar*>(bytes.data()), bytes.size()), glib().free);
  return {{"base64", std::string(encoded.get())}};
}

std::string decode_base64(const std::string& text, const std::string& field) {
  // GLib's decoder skips characters outside the alphabet; a typo must be an error, not a
  // silently different file, so the text is checked first.
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const size_t data_end = text.find_last_not_of('=') == std::string::npos ? 0 : text.find_last_not_of('=') + 1;
  const size_t bad = text.find_first_not_of(kAlphabet);
  if (text.size() % 4 != 0 || (bad != std::string::npos && bad < data_end) || text.size() - data_end > 2)
    throw FieldError(field, "not standard base64 (A-Z a-z 0-9 + /, padded with = to a multiple of 4 characters)");
  if (text.empty()) return {};
  gsize length = 0;
  std::unique_ptr<guchar, decltype(&g_free)> decoded(glib().base64_decode(text.c_str(), &length), glib().free);
  return std::string(reinterpret_cast<const char*>(decoded.get()), length);
}

}  // namespace cellblock
