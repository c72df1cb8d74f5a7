// Jobs that name a container image ("image", docs/images.md), in the service: resolving one
// reads the image's index, manifest and config and may unpack new layers for seconds, so a
// client's job is resolved on a thread of its own, not on the io thread, which serves every
// client and result. (A restart's journaled jobs are resolved at start, before anything is served.)
// Which images a client may name is the resolver's business (jobs/images/image_sources.h: only
// those the operator imported); without a resolver an image job is refused by prepare_job.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <exception>
#include <functional>
#include <vector>

#include "jobs/format/job_json.h"

namespace cellblock {
class PolicyRegistry;
}

namespace cellblock::service {

using ImageResolve = std::function<void(JobSpec&)>;

class ImageJobs {
 public:
  ImageJobs(boost::asio::io_context& io, ImageResolve resolve);
  ~ImageJobs();  // waits for an image being resolved; drops the ones not started

  // Resolves and prepares (prepare_job) each job of `jobs` that names an image, on the image
  // thread, then calls `then` on the io thread: with the jobs, or with the first error (a
  // FieldError naming "image", or "jobs[i].image" when `batch`).
  using Then = std::function<void(std::vector<JobRequest> jobs, std::exception_ptr error)>;
  void prepare(std::vector<JobRequest> jobs, bool batch, PolicyRegistry& policies, Then then);

  // The same on the calling thread (a restart's journaled jobs, before the service serves).
  void resolve_now(JobSpec& job) const;

  // Stops taking work and waits for the image in hand (the service's shutdown).
  void stop();

 private:
  boost::asio::io_context& io_;
  ImageResolve resolve_;
  boost::asio::thread_pool pool_{1};
};

// Whether a job still has an image to be resolved before prepare_job.
inline bool names_image(const JobSpec& job) { return !job.image.empty() && job.lower_dirs.empty(); }

}  // namespace cellblock::service
