#include "jobs/service/file_routes.h"

#include <nlohmann/json.hpp>

#include "jobs/format/json_reader.h"

namespace cellblock::service {
namespace {

using nlohmann::json;

Response no_file(const std::string& id) {
  return error_response(http::status::not_found, "no file with id " + json_quoted(id), "id");
}

}  // namespace

Response file_download(const FileStore::File& f) {
  Response r = text_response(http::status::ok, f.content, "application/octet-stream");
  r.set(http::field::content_disposition, "attachment; filename=" + json_quoted(f.name));
  return r;
}

void add_file_routes(Router& router, FileStore& files) {
  router.add(http::verb::get, "/v1/files", [&files](Call&, ResponderPtr answer) {
    json list = json::array();
    for (const auto& [id, name] : files.list())
      list.push_back({{"id", id}, {"name", name}, {"bytes", files.find(id)->content.size()}});
    answer->send(json_response(http::status::ok,
                               {{"files", list}, {"used_bytes", files.used_bytes()}, {"max_bytes", files.max_bytes()}}));
  });
  router.add(http::verb::get, "/v1/files/{id}", [&files](Call& call, ResponderPtr answer) {
    const std::string& id = call.params.at("id");
    const FileStore::File* f = files.find(id);
    if (!f) return answer->send(no_file(id));
    answer->send(file_download(*f));
  });
  router.add(http::verb::delete_, "/v1/files/{id}", [&files](Call& call, ResponderPtr answer) {
    const std::string& id = call.params.at("id");
    if (!files.remove(id)) return answer->send(no_file(id));
    answer->send(json_response(http::status::ok, {{"id", id}, {"deleted", true}}));
  });
}

}  // namespace cellblock::service
