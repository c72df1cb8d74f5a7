// The native job a go-judge cmd becomes (docs/go-judge.md, "How a cmd runs"): its args, env and
// limits in the job format's units, over the service's --defaults (rootfs, policy, the limits a
// cmd leaves at 0), read by the same strict reader as every other job (jobs/format/job_json.h)
// and prepared against the policies. The working directory's mount is added by the runner.
#pragma once

#include <string>

#include "executor/work_dir.h"  // kCellWorkDir: /w, as in go-judge
#include "jobs/format/job_json.h"
#include "jobs/gojudge/run_request.h"
#include "jobs/service/service_context.h"

namespace cellblock::gojudge {

// `field`: the cmd's path in the request ("cmd[1]"), for errors. Throws FieldError when the cmd
// and the defaults do not make a valid job.
JobRequest job_for_cmd(const RunCmd& cmd, std::string stdin_data, const std::string& job_id,
                       service::ServiceContext& ctx, const std::string& field);

}  // namespace cellblock::gojudge
