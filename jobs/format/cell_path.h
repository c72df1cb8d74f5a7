// Paths a client names for files in a job's working directory (/w in the cell, executor/
// work_dir.h): the job format's "files" and "collect", go-judge's copyIn and copyOut. Checked
// here, before anything runs, so that no path can name a place outside that directory.
#pragma once

#include <string>

namespace cellblock {

// Relative to the working directory: not empty, no control characters, no empty, "." or ".."
// component, at most 4096 bytes. Throws FieldError(field).
void check_relative_path(const std::string& path, const std::string& field);

// Absolute in the cell and under /w ("/w/out/report.xml"); returns the part below /w, checked
// by check_relative_path. Throws FieldError(field).
std::string relative_to_work_dir(const std::string& path, const std::string& field);

}  // namespace cellblock
