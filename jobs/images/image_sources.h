// Which images a job may name (docs/images.md, "In the service and the workers").
#pragma once

namespace cellblock::images {

// `cellblock run` and `batch` import whatever a job names: the operator wrote the job. The jobs
// of a service or a worker come from clients, who must not make it read host files they name:
// there a job may name only an image the operator imported with `cellblock image import`.
enum class ImageSources { any, imported_only };

}  // namespace cellblock::images
