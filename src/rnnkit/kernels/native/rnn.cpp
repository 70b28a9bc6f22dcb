// Simple-RNN inference scan (rnnkit.kernels.rnn's forward loop without saving, float32):
//   h'_{t-1} = MLP(m h_{t-1}),  h~ = act(xp_t + h'_{t-1} W_hh^T),  h_t = k h_{t-1} + (1 - k) h~
// with act tanh or relu and MLP the identity or a deep transition.
#include <torch/library.h>

#include <tuple>

#include "scan.h"

namespace rnnkit {
namespace {

std::tuple<at::Tensor, at::Tensor> rnn_forward(const at::Tensor& xp, const at::Tensor& h0,
                                               const at::Tensor& weight_hh_t, int64_t nonlinearity,
                                               const std::optional<at::Tensor>& keep,
                                               const std::optional<at::Tensor>& recurrent_mask,
                                               std::vector<at::Tensor> transition_weights_t,
                                               std::vector<at::Tensor> transition_biases,
                                               int64_t transition_activation, bool transition_skip) {
  for (const auto& [t, name] : {std::pair{&xp, "xp"}, {&h0, "h0"}}) {
    check_float32(*t, name);
  }
  check_float32(weight_hh_t, "weight_hh_t", false);
  TORCH_CHECK(nonlinearity == kTanh || nonlinearity == kRelu, "rnnkit native scan: nonlinearity must be tanh or relu");
  const int64_t T = xp.size(0), B = xp.size(1), H = xp.size(2);
  data_or_null(recurrent_mask, "recurrent_mask");
  const Keep k(keep, "keep");
  TransitionMLP mlp(transition_weights_t, transition_biases, transition_activation, transition_skip, B);

  auto ys = at::empty({T, B, H}, xp.options());
  auto a = at::empty({B, H}, xp.options());
  auto h_in_scratch = at::empty({B, H}, xp.options());
  const float* pa = a.data_ptr<float>();

  at::Tensor h_prev = h0;
  for (int64_t t = 0; t < T; ++t) {
    at::Tensor h_in = masked(h_prev, recurrent_mask, h_in_scratch);
    if (!mlp.empty()) h_in = mlp.step(h_in);
    at::Tensor y = ys.select(0, t);
    if (!k) {  // h_t = act(a_t), computed in place in the output row
      at::addmm_out(y, xp.select(0, t), h_in, weight_hh_t);
      activate(y.data_ptr<float>(), B * H, nonlinearity);
    } else {
      at::addmm_out(a, xp.select(0, t), h_in, weight_hh_t);
      float* h = y.data_ptr<float>();
      const float* hp = h_prev.data_ptr<float>();
      for (int64_t b = 0; b < B; ++b) {
        const float* __restrict ab = pa + b * H;
        const float* __restrict hpb = hp + b * H;
        float* __restrict hb = h + b * H;
        const float* kb = k.at(t, b);
        if (nonlinearity == kTanh) {
          for (int64_t j = 0; j < H; ++j) {
            const float h_tilde = tanh_approx(ab[j]);
            hb[j] = h_tilde + kb[j * k.unit] * (hpb[j] - h_tilde);
          }
        } else {
          for (int64_t j = 0; j < H; ++j) {
            const float h_tilde = relu(ab[j]);
            hb[j] = h_tilde + kb[j * k.unit] * (hpb[j] - h_tilde);
          }
        }
      }
    }
    h_prev = y;
  }
  return {ys, h_prev.clone()};
}

}  // namespace
}  // namespace rnnkit

TORCH_LIBRARY_FRAGMENT(rnnkit, m) {
  m.def(
      "rnn_forward(Tensor xp, Tensor h0, Tensor weight_hh_t, int nonlinearity, Tensor? keep, "
      "Tensor? recurrent_mask, Tensor[] transition_weights_t, Tensor[] transition_biases, "
      "int transition_activation, bool transition_skip) -> (Tensor, Tensor)",
      &rnnkit::rnn_forward);
}
