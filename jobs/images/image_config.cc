#include "jobs/images/image_config.h"

#include <stdexcept>

#include "jobs/images/sha256.h"

namespace cellblock::images {
namespace {

using nlohmann::json;

std::vector<std::string> strings(const json& j, const std::string& field) {
  std::vector<std::string> out;
  if (j.is_null()) return out;
  if (!j.is_array()) throw std::invalid_argument("image config " + field + ": expected an array of strings");
  for (const json& s : j) {
    if (!s.is_string()) throw std::invalid_argument("image config " + field + ": expected an array of strings");
    out.push_back(s.get<std::string>());
  }
  return out;
}

std::string string_or_empty(const json& j, const char* key, const std::string& field) {
  if (!j.contains(key) || j[key].is_null()) return "";
  if (!j[key].is_string()) throw std::invalid_argument("image config " + field + ": expected a string");
  return j[key].get<std::string>();
}

}  // namespace

ImageConfig parse_image_config(const json& config) {
  if (!config.is_object()) throw std::invalid_argument("image config: expected a JSON object");
  ImageConfig c;
  c.os = string_or_empty(config, "os", "os");
  c.architecture = string_or_empty(config, "architecture", "architecture");
  if (config.contains("config") && config["config"].is_object()) {
    const json& cc = config["config"];
    if (cc.contains("Env")) c.env = strings(cc["Env"], "config.Env");
    if (cc.contains("Entrypoint")) c.entrypoint = strings(cc["Entrypoint"], "config.Entrypoint");
    if (cc.contains("Cmd")) c.cmd = strings(cc["Cmd"], "config.Cmd");
    c.working_dir = string_or_empty(cc, "WorkingDir", "config.WorkingDir");
    c.user = string_or_empty(cc, "User", "config.User");
  }
  if (!config.contains("rootfs") || !config["rootfs"].is_object())
    throw std::invalid_argument("image config rootfs: missing");
  const json& rootfs = config["rootfs"];
  if (string_or_empty(rootfs, "type", "rootfs.type") != "layers")
    throw std::invalid_argument("image config rootfs.type: expected \"layers\"");
  std::vector<std::string> ids = strings(rootfs.value("diff_ids", json::array()), "rootfs.diff_ids");
  for (size_t i = 0; i < ids.size(); ++i)
    c.diff_ids.push_back(parse_digest(ids[i], "image config rootfs.diff_ids[" + std::to_string(i) + "]"));
  return c;
}

json defaults_to_json(const ImageConfig& c) {
  return {{"Env", c.env}, {"Entrypoint", c.entrypoint}, {"Cmd", c.cmd}, {"WorkingDir", c.working_dir}, {"User", c.user}};
}

ImageConfig defaults_from_json(const json& j) {
  ImageConfig c;
  c.env = strings(j.value("Env", json::array()), "Env");
  c.entrypoint = strings(j.value("Entrypoint", json::array()), "Entrypoint");
  c.cmd = strings(j.value("Cmd", json::array()), "Cmd");
  c.working_dir = j.value("WorkingDir", "");
  c.user = j.value("User", "");
  return c;
}

}  // namespace cellblock::images
