#include "jobs/cli/image_command.h"

#include <unistd.h>

#include <iomanip>
#include <iostream>
#include <memory>
#include <mutex>
#include <sstream>

#include "executor/base/sys_error.h"
#include "jobs/cli/job_flags.h"
#include "jobs/format/json_reader.h"
#include "jobs/images/image_gc.h"
#include "jobs/images/image_import.h"
#include "jobs/images/image_job.h"

namespace cellblock {
namespace {

using namespace images;

// One line, redrawn in place, only on a terminal: a log file gets no carriage returns.
std::function<void(const std::string&)> terminal_progress(bool quiet) {
  if (quiet || !::isatty(STDERR_FILENO)) return {};
  return [](const std::string& line) { std::cerr << "\r\033[K" << line << std::flush; };
}

void end_progress(bool quiet) {
  if (!quiet && ::isatty(STDERR_FILENO)) std::cerr << "\r\033[K" << std::flush;
}

std::string human(uint64_t bytes) {
  std::ostringstream s;
  if (bytes >= (1ull << 30)) s << std::fixed << std::setprecision(1) << bytes / double(1ull << 30) << "G";
  else if (bytes >= (1u << 20)) s << std::fixed << std::setprecision(1) << bytes / double(1u << 20) << "M";
  else if (bytes >= 1024) s << std::fixed << std::setprecision(1) << bytes / 1024.0 << "K";
  else s << bytes << "B";
  return s.str();
}

int import_command(const ImageOptions& o) {
  ImportOptions options;
  if (o.max_layer_bytes) options.limits.max_bytes = parse_size(*o.max_layer_bytes);
  if (o.max_layer_entries) options.limits.max_entries = *o.max_layer_entries;
  if (o.setid == "refuse") options.limits.setid = SetIdBits::refuse;
  else if (o.setid != "strip") throw FieldError("--setid", cellblock::quoted(o.setid) + " is not strip or refuse");
  options.progress = terminal_progress(o.quiet);
  ImageRef ref;
  try {
    ref = parse_image_ref(o.source);
  } catch (const std::invalid_argument& e) {
    throw FieldError("SRC", e.what());
  }
  LayerCache cache(o.state_dir);
  ImageStore store(o.state_dir);
  ImportResult r;
  try {
    r = import_image(ref, cache, store, options);
  } catch (...) {
    end_progress(o.quiet);
    throw;
  }
  end_progress(o.quiet);
  std::cout << r.record.name << " " << r.record.manifest_digest << " " << r.record.layers.size() << " layers ("
            << r.layers_unpacked << " unpacked, " << r.record.layers.size() - r.layers_unpacked << " cached) "
            << human(r.record.bytes) << "\n";
  return 0;
}

int ls_command(const ImageOptions& o) {
  ImageStore store(o.state_dir);
  std::vector<ImageRecord> images = store.list();
  size_t width = 4;
  for (const ImageRecord& r : images) width = std::max(width, r.name.size());
  std::cout << std::left << std::setw(static_cast<int>(width)) << "NAME" << "  " << std::setw(19) << "DIGEST"
            << "  " << std::setw(8) << "SIZE" << "  LAYERS\n";
  for (const ImageRecord& r : images)
    std::cout << std::left << std::setw(static_cast<int>(width)) << r.name << "  " << std::setw(19)
              << r.manifest_digest.substr(0, 19) << "  " << std::setw(8) << human(r.bytes) << "  " << r.layers.size()
              << "\n";
  return 0;
}

int rm_command(const ImageOptions& o) {
  ImageStore store(o.state_dir);
  std::string name = o.source;
  try {
    name = parse_image_ref(o.source).text();
  } catch (const std::invalid_argument&) {
    // Not a reference we can canonicalise: try it as the stored name itself.
  }
  if (!store.remove(name)) {
    std::cerr << "cellblock image rm: no image " << cellblock::quoted(o.source) << " (see `cellblock image ls`)\n";
    return 1;
  }
  std::cout << "removed " << name << " (its layers go at the next `cellblock image gc`)\n";
  return 0;
}

int gc_command(const ImageOptions& o) {
  std::optional<uint64_t> max;
  if (o.max_bytes) {
    try {
      max = parse_size(*o.max_bytes);
    } catch (const std::invalid_argument& e) {
      throw FieldError("--max-bytes", e.what());
    }
  }
  ImageStore store(o.state_dir);
  LayerCache cache(o.state_dir);
  GcReport r = collect_garbage(store, cache, max);
  for (const std::string& name : r.images_removed) std::cout << "image removed: " << name << "\n";
  for (const std::string& id : r.layers_removed) std::cout << "layer removed: sha256:" << id << "\n";
  for (const std::string& id : r.layers_busy) std::cout << "layer in use, kept: sha256:" << id << "\n";
  std::cout << "freed " << human(r.bytes_freed) << ", kept " << human(r.bytes_kept) << "\n";
  return 0;
}

}  // namespace

void add_image_command(CLI::App& app, ImageOptions& o) {
  CLI::App* image = app.add_subcommand("image", "Import, list, remove and collect container images");
  image->require_subcommand(1);
  o.import = image->add_subcommand("import", "Unpack an image into the layer cache");
  o.import->add_option("SRC", o.source, "oci:/layout[:tag] or docker-archive:/file.tar[:repo:tag]")->required();
  o.import->add_option("--max-layer-bytes", o.max_layer_bytes, "Refuse a layer that unpacks to more, e.g. 2G (default 16G)");
  o.import->add_option("--max-layer-entries", o.max_layer_entries, "Refuse a layer with more entries (default 1000000)");
  o.import->add_option("--setid", o.setid, "Set-user-ID/set-group-ID files: strip the bits or refuse the layer")
      ->capture_default_str();
  o.import->add_flag("--quiet,-q", o.quiet, "No progress line");
  o.ls = image->add_subcommand("ls", "List imported images: name, digest, size, layers");
  o.rm = image->add_subcommand("rm", "Forget an image (its layers go at the next gc)");
  o.rm->add_option("REF", o.source, "The image's name as `image ls` shows it")->required();
  o.gc = image->add_subcommand("gc", "Remove layers no image uses; with --max-bytes, forget the least recently used images first");
  o.gc->add_option("--max-bytes", o.max_bytes, "Keep the most recently used images within this size, e.g. 10G");
}

int image_command(const ImageOptions& o) {
  try {
    if (o.import->parsed()) return import_command(o);
    if (o.ls->parsed()) return ls_command(o);
    if (o.rm->parsed()) return rm_command(o);
    if (o.gc->parsed()) return gc_command(o);
  } catch (const std::exception& e) {
    std::cerr << "cellblock image: " << e.what() << "\n";
    return 1;
  }
  return 2;
}

std::function<void(JobSpec&)> image_job_resolver(const std::string& state_dir, bool quiet, ImageSources sources) {
  // Made at the first image job, once, whichever thread asks first (serve's image thread, a
  // worker's reader): a process without image jobs never touches the image store.
  struct Lazy {
    std::once_flag once;
    std::unique_ptr<ImageResolver> resolver;
  };
  auto lazy = std::make_shared<Lazy>();
  return [state_dir, quiet, sources, lazy](JobSpec& job) {
    try {
      std::call_once(lazy->once, [&] {
        lazy->resolver = std::make_unique<ImageResolver>(state_dir, ImportOptions{{}, terminal_progress(quiet)}, sources);
      });
      lazy->resolver->resolve(job);
      end_progress(quiet);
    } catch (const FieldError&) {
      end_progress(quiet);
      throw;
    } catch (const std::exception& e) {
      end_progress(quiet);
      throw FieldError("image", job.image + ": " + e.what());
    }
  };
}

}  // namespace cellblock
