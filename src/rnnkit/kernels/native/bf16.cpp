// Whether the bfloat16 inference loops (bf16.h) are compiled in: rnnkit.kernels.native asks before taking them.
#include <torch/library.h>

#include "bf16.h"

namespace rnnkit {
namespace {

bool bf16_supported() { return kBF16Compiled; }

}  // namespace
}  // namespace rnnkit

TORCH_LIBRARY_FRAGMENT(rnnkit, m) { m.def("bf16_supported() -> bool", &rnnkit::bf16_supported); }
