// Live output: while a job runs, the supervisor hands each piece of its stdout and stderr to a
// listener as soon as it reads it (a service streams CI logs from here), besides keeping it for
// the Result. Only what the output cap keeps is handed on, so a listener sees exactly the bytes
// the Result will hold, in the order the supervisor read them.
//
// on_output runs on the thread that runs Executor::run, between two reads of the cell's pipes:
// it must be short (copy the bytes, wake someone) and must not throw.
#pragma once

#include <string_view>

namespace cellblock {

enum class OutputStream { out, err };

class OutputListener {
 public:
  virtual ~OutputListener() = default;
  virtual void on_output(OutputStream stream, std::string_view chunk) noexcept = 0;
};

}  // namespace cellblock
