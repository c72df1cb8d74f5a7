// A running job's stdout and stderr as they come (executor/output_listener.h), for
// GET /v1/jobs/{id}/output: the executor's thread appends, the io thread hands new pieces to the
// streams that follow the job. Bounded by the job's own output cap (only what it keeps arrives).
#pragma once

#include <boost/asio/io_context.hpp>
#include <atomic>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "executor/output_listener.h"
#include "jobs/service/router.h"

namespace cellblock::service {

// Which streams a follower wants.
struct OutputFilter {
  bool out = true, err = true;
  bool wants(OutputStream s) const { return s == OutputStream::out ? out : err; }
};
// From the query's `stream` (stdout, stderr or both; both when absent). Throws FieldError.
OutputFilter output_filter_param(const Call& call);
// The head of a streamed output answer: 200, text, never cached or sniffed.
Response output_stream_head();
// What GET /v1/jobs/{id}/output answers for a done job: the result's stdout, then its stderr,
// as the filter says.
std::string result_output(const nlohmann::json& result, OutputFilter filter);

class LiveOutput : public OutputListener, public std::enable_shared_from_this<LiveOutput> {
 public:
  explicit LiveOutput(boost::asio::io_context& io) : io_(io) {}
  // Executor's thread.
  void on_output(OutputStream stream, std::string_view chunk) noexcept override;

  // io thread: a streamed answer that gets everything so far, then each new piece.
  void follow(ResponderPtr responder, OutputFilter filter);
  // io thread: the job is done; every follower gets what is left and the end of its stream.
  void close();

 private:
  struct Follower {
    ResponderPtr responder;
    OutputFilter filter;
    size_t next = 0;  // index into chunks_
  };
  void deliver();  // io thread

  boost::asio::io_context& io_;
  std::mutex mutex_;
  std::vector<std::pair<OutputStream, std::string>> chunks_;  // guarded by mutex_
  std::atomic<bool> delivery_posted_{false};
  std::vector<Follower> followers_;  // io thread
  bool closed_ = false;              // io thread
};

}  // namespace cellblock::service
