// The parts of an OCI / Docker image config that cellblock uses: the defaults a job takes
// (Env, Entrypoint, Cmd, WorkingDir, User), the platform, and rootfs.diff_ids, the digests of
// the uncompressed layers that every unpacked layer is checked against.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace cellblock::images {

struct ImageConfig {
  std::vector<std::string> env;  // "KEY=VALUE"
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::string working_dir;
  std::string user;  // "uid[:gid]" or "name[:group]"; empty: the policy's
  std::string os, architecture;
  std::vector<std::string> diff_ids;  // hex, bottom layer first
};

// From the config blob's JSON. Throws std::invalid_argument naming the field.
ImageConfig parse_image_config(const nlohmann::json& config);
// The job defaults only (no diff_ids), as the image store keeps them.
nlohmann::json defaults_to_json(const ImageConfig& config);
ImageConfig defaults_from_json(const nlohmann::json& j);

}  // namespace cellblock::images
