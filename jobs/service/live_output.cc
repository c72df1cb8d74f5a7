#include "jobs/service/live_output.h"

#include <boost/asio/post.hpp>
#include <algorithm>

#include "jobs/format/json_reader.h"

namespace cellblock::service {

OutputFilter output_filter_param(const Call& call) {
  OutputFilter filter;
  const std::string which = call.query_value("stream").value_or("both");
  if (which == "stdout") filter.err = false;
  else if (which == "stderr") filter.out = false;
  else if (which != "both")
    throw FieldError("stream", json_quoted(which) + " is not a stream (stdout, stderr or both)");
  return filter;
}

Response output_stream_head() {
  Response head = text_response(http::status::ok, "");
  head.set(http::field::cache_control, "no-store");
  head.set("X-Content-Type-Options", "nosniff");
  return head;
}

std::string result_output(const nlohmann::json& result, OutputFilter filter) {
  std::string text;
  if (filter.out) text += result.value("stdout", "");
  if (filter.err) text += result.value("stderr", "");
  return text;
}

void LiveOutput::on_output(OutputStream stream, std::string_view chunk) noexcept {
  try {
    {
      std::lock_guard lock(mutex_);
      chunks_.emplace_back(stream, std::string(chunk));
    }
    // One delivery in flight at a time: a flood of small reads becomes a few large chunks.
    if (!delivery_posted_.exchange(true))
      boost::asio::post(io_, [self = shared_from_this()] {
        self->delivery_posted_.store(false);
        self->deliver();
      });
  } catch (...) {
    // Out of memory: the stream misses a piece; the Result still has it.
  }
}

void LiveOutput::follow(ResponderPtr responder, OutputFilter filter) {
  responder->begin_stream(output_stream_head());
  followers_.push_back({std::move(responder), filter, 0});
  deliver();
  if (closed_) close();
}

void LiveOutput::deliver() {
  if (followers_.empty()) return;
  size_t from = followers_.front().next;
  for (const Follower& f : followers_) from = std::min(from, f.next);
  std::vector<std::pair<OutputStream, std::string>> fresh;  // chunks from `from` on
  {
    std::lock_guard lock(mutex_);
    fresh.assign(chunks_.begin() + static_cast<std::ptrdiff_t>(std::min(from, chunks_.size())), chunks_.end());
  }
  const size_t end = from + fresh.size();
  for (Follower& f : followers_) {
    std::string text;
    for (; f.next < end; ++f.next)
      if (f.filter.wants(fresh[f.next - from].first)) text += fresh[f.next - from].second;
    if (!text.empty()) f.responder->write_chunk(std::move(text));
  }
  std::erase_if(followers_, [](const Follower& f) { return f.responder->client_gone(); });
}

void LiveOutput::close() {
  closed_ = true;
  deliver();
  for (Follower& f : followers_) f.responder->end_stream();
  followers_.clear();
}

}  // namespace cellblock::service
