#include "jobs/format/file_content.h"

#include <glib.h>

#include <memory>

#include "jobs/format/json_reader.h"

namespace cellblock {

bool is_utf8(const std::string& bytes) {
  return g_utf8_validate_len(bytes.data(), bytes.size(), nullptr);
}

nlohmann::json content_to_json(const std::string& bytes) {
  if (is_utf8(bytes)) return {{"content", bytes}};
  std::unique_ptr<gchar, decltype(&g_free)> encoded(
      g_base64_encode(reinterpret_cast<const guchar*>(bytes.data()), bytes.size()), &g_free);
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
  std::unique_ptr<guchar, decltype(&g_free)> decoded(g_base64_decode(text.c_str(), &length), &g_free);
  return std::string(reinterpret_cast<const char*>(decoded.get()), length);
}

}  // namespace cellblock
