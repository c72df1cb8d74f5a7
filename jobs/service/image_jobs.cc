#include "jobs/service/image_jobs.h"

#include <boost/asio/post.hpp>

#include "jobs/format/json_reader.h"
#include "jobs/format/policy_json.h"
#include "jobs/service/route_helpers.h"

namespace cellblock::service {

ImageJobs::ImageJobs(boost::asio::io_context& io, ImageResolve resolve) : io_(io), resolve_(std::move(resolve)) {}

ImageJobs::~ImageJobs() { stop(); }

void ImageJobs::stop() {
  pool_.stop();
  pool_.join();
}

void ImageJobs::resolve_now(JobSpec& job) const {
  if (resolve_ && names_image(job)) resolve_(job);
}

void ImageJobs::prepare(std::vector<JobRequest> jobs, bool batch, PolicyRegistry& policies, Then then) {
  boost::asio::post(pool_, [this, jobs = std::move(jobs), batch, &policies, then = std::move(then)]() mutable {
    std::exception_ptr error;
    for (size_t i = 0; i < jobs.size() && !error; ++i) {
      if (!names_image(jobs[i].job)) continue;
      try {
        resolve_now(jobs[i].job);
        prepare_job(jobs[i].job, policies);
      } catch (const FieldError& e) {
        error = batch ? std::make_exception_ptr(in_batch_job(e, i)) : std::current_exception();
      } catch (const std::exception&) {
        error = std::current_exception();
      }
    }
    boost::asio::post(io_, [jobs = std::move(jobs), error, then = std::move(then)]() mutable {
      then(std::move(jobs), error);
    });
  });
}

}  // namespace cellblock::service
