// go-judge's REST API next to /v1 (docs/go-judge.md), so that judges that speak it (Hydro and
// others) switch by changing a URL:
//   POST /run           cmds as jobs on the service's queue, a bare JSON array of results
//   GET /file           the file store's ids and names; GET and DELETE /file/{id} (the store is
//                       the service's, jobs/service/file_store.h, shared with /v1/files)
//   POST /file          a multipart upload into the store (multipart_upload.h)
//   GET /version, /config
// A module of `cellblock serve`: serve_command.cc hands this to Service's constructor, which
// calls it once with the router and the service's context (jobs/service/router.h).
#pragma once

#include "jobs/service/router.h"
#include "jobs/service/service_context.h"

namespace cellblock::gojudge {

void add_gojudge_routes(service::Router& router, service::ServiceContext& ctx);

}  // namespace cellblock::gojudge
