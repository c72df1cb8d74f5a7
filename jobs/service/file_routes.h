// The service's file store under /v1 (docs/api.md, "Files kept by id"): the collected files a job
// asked to keep ("keep": true), and what go-judge's copyOutCached or POST /file put there.
//   GET    /v1/files        {"files": [{"id", "name", "bytes"}], "used_bytes", "max_bytes"}
//   GET    /v1/files/{id}   the bytes (application/octet-stream); 404 if unknown
//   DELETE /v1/files/{id}   200 {"id", "deleted": true}; 404 if unknown
#pragma once

#include "jobs/service/file_store.h"
#include "jobs/service/router.h"

namespace cellblock::service {

void add_file_routes(Router& router, FileStore& files);

// A kept file as a download: its bytes, application/octet-stream, its name in Content-Disposition.
Response file_download(const FileStore::File& f);

}  // namespace cellblock::service
