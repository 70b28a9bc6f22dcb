// LSTM inference scan (rnnkit.kernels.lstm's forward loop without saving, float32): the same equations,
// with each step's elementwise work one pass over the units. Peepholes, the gate and cell layer norms,
// the keep masks (zoneout, lengths), the recurrent mask and a deep transition are each optional.
#include <torch/library.h>

#include <cmath>
#include <tuple>

#include "scan.h"

namespace rnnkit {
namespace {

// A keep mask's row at step t, batch row b, as H contiguous values, so that the loops reading it vectorize:
// the mask's own row (T, B, H), its one value spread over scratch (T, B, 1), or zeros without a mask.
inline const float* keep_row(const Keep& k, int64_t t, int64_t b, float* scratch, const float* zeros, int64_t H) {
  if (!k) return zeros;
  const float* row = k.at(t, b);
  if (k.unit == 1) return row;
  std::fill(scratch, scratch + H, row[0]);
  return scratch;
}

// x = gamma * (x - mean) / sqrt(var + eps) + beta over n units (biased variance, as torch's layer norm).
inline void layer_norm(float* __restrict x, int64_t n, const float* gamma, const float* beta, double eps) {
  float mean = 0.0f;
#pragma omp simd reduction(+ : mean)
  for (int64_t j = 0; j < n; ++j) mean += x[j];
  mean /= static_cast<float>(n);
  float var = 0.0f;
#pragma omp simd reduction(+ : var)
  for (int64_t j = 0; j < n; ++j) var += (x[j] - mean) * (x[j] - mean);
  var /= static_cast<float>(n);
  const float rstd = 1.0f / std::sqrt(var + static_cast<float>(eps));
  for (int64_t j = 0; j < n; ++j) x[j] = (x[j] - mean) * rstd * gamma[j] + beta[j];
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> lstm_forward(
    const at::Tensor& xp, const at::Tensor& h0, const at::Tensor& c0, const at::Tensor& weight_hh_t,
    const std::optional<at::Tensor>& w_ci, const std::optional<at::Tensor>& w_cf,
    const std::optional<at::Tensor>& w_co, const std::optional<at::Tensor>& gamma_g,
    const std::optional<at::Tensor>& beta_g, const std::optional<at::Tensor>& gamma_c,
    const std::optional<at::Tensor>& beta_c, double eps, const std::optional<at::Tensor>& keep_h,
    const std::optional<at::Tensor>& keep_c, const std::optional<at::Tensor>& recurrent_mask,
    std::vector<at::Tensor> transition_weights_t, std::vector<at::Tensor> transition_biases,
    int64_t transition_activation, bool transition_skip) {
  check_float32(xp, "xp");
  check_float32(h0, "h0");
  check_float32(c0, "c0");
  check_float32(weight_hh_t, "weight_hh_t");
  const int64_t T = xp.size(0), B = xp.size(1), H4 = xp.size(2), H = H4 / 4;
  // Missing peepholes read as zeros: loops without branches vectorize (a load under a condition does not).
  auto zeros = at::zeros({H}, xp.options());
  const float* zero = zeros.data_ptr<float>();
  const float* ci = w_ci.has_value() ? data_or_null(w_ci, "w_ci") : zero;
  const float* cf = w_cf.has_value() ? data_or_null(w_cf, "w_cf") : zero;
  const float* co = w_co.has_value() ? data_or_null(w_co, "w_co") : zero;
  const float *gg = data_or_null(gamma_g, "gamma_g"), *bg = data_or_null(beta_g, "beta_g");
  const float *gc = data_or_null(gamma_c, "gamma_c"), *bc = data_or_null(beta_c, "beta_c");
  const float* m = data_or_null(recurrent_mask, "recurrent_mask");
  const Keep kh(keep_h, "keep_h"), kc(keep_c, "keep_c");
  TransitionMLP mlp(transition_weights_t, transition_biases, transition_activation, transition_skip, B);

  auto ys = at::empty({T, B, H}, xp.options());
  auto gates = at::empty({B, H4}, xp.options());  // a_t, then i, f, g, o in place
  auto c = c0.clone();                              // c_{t-1}, then c_t in place
  auto c_tilde = at::empty({B, H}, xp.options());
  auto h_in_scratch = at::empty({B, H}, xp.options());
  auto keep_scratch = at::empty({2, H}, xp.options());  // keep_row's rows for k^c, k^h
  float* keep_rows = keep_scratch.data_ptr<float>();
  float* a = gates.data_ptr<float>();
  float* cs = c.data_ptr<float>();
  float* ct = c_tilde.data_ptr<float>();
  const float* x = xp.data_ptr<float>();
  const float* w = weight_hh_t.data_ptr<float>();
  float* ys_data = ys.data_ptr<float>();

  const float* hp = h0.data_ptr<float>();  // h_{t-1}
  for (int64_t t = 0; t < T; ++t) {
    // a_t = xp_t + h'_{t-1} W_hh^T,  h'_{t-1} = MLP(m h_{t-1})
    const float* h_in = masked(hp, m, h_in_scratch.data_ptr<float>(), B * H);
    if (!mlp.empty()) h_in = mlp.step(h_in);
    std::memcpy(a, x + t * B * H4, B * H4 * sizeof(float));
    matmul(a, h_in, w, B, H, H4, true);
    float* h = ys_data + t * B * H;
    for (int64_t b = 0; b < B; ++b) {
      float* __restrict ai = a + b * H4;
      float* __restrict af = ai + H;
      float* __restrict ag = af + H;
      float* __restrict ao = ag + H;
      float* __restrict cb = cs + b * H;
      float* __restrict ctb = ct + b * H;
      if (gg != nullptr) {  // a'_t = gamma_g LN(a_t) + beta_g, per gate block
        for (int64_t k = 0; k < 4; ++k) layer_norm(ai + k * H, H, gg + k * H, bg + k * H, eps);
      }
      // i, f (with peepholes on c_{t-1}), g; c~_t = f c_{t-1} + i g
      for (int64_t j = 0; j < H; ++j) {
        const float i = sigmoid_approx(ai[j] + ci[j] * cb[j]);
        const float f = sigmoid_approx(af[j] + cf[j] * cb[j]);
        ctb[j] = f * cb[j] + i * tanh_approx(ag[j]);
      }
      // o (with its peephole on c~_t); n_t = LN_c(c~_t) into ag, which is free now
      for (int64_t j = 0; j < H; ++j) ao[j] = sigmoid_approx(ao[j] + co[j] * ctb[j]);
      if (gc != nullptr) {
        std::memcpy(ag, ctb, H * sizeof(float));
        layer_norm(ag, H, gc, bc, eps);
      }
      const float* __restrict n = gc != nullptr ? ag : ctb;
      // h~_t = o tanh(n_t); c_t, h_t with the keep masks
      float* __restrict hb = h + b * H;
      const float* __restrict hpb = hp + b * H;
      const float* __restrict kcb = keep_row(kc, t, b, keep_rows, zero, H);
      const float* __restrict khb = keep_row(kh, t, b, keep_rows + H, zero, H);
      for (int64_t j = 0; j < H; ++j) ao[j] *= tanh_approx(n[j]);  // h~_t, over o
#pragma omp simd
      for (int64_t j = 0; j < H; ++j) {
        cb[j] = ctb[j] + kcb[j] * (cb[j] - ctb[j]);
        hb[j] = ao[j] + khb[j] * (hpb[j] - ao[j]);
      }
    }
    hp = h;
  }
  return {ys, last_state(ys, h0), c};
}

}  // namespace
}  // namespace rnnkit

TORCH_LIBRARY_FRAGMENT(rnnkit, m) {
  m.def(
      "lstm_forward(Tensor xp, Tensor h0, Tensor c0, Tensor weight_hh_t, Tensor? w_ci, Tensor? w_cf, "
      "Tensor? w_co, Tensor? gamma_g, Tensor? beta_g, Tensor? gamma_c, Tensor? beta_c, float eps, "
      "Tensor? keep_h, Tensor? keep_c, Tensor? recurrent_mask, Tensor[] transition_weights_t, "
      "Tensor[] transition_biases, int transition_activation, bool transition_skip) -> (Tensor, Tensor, Tensor)",
      &rnnkit::lstm_forward);
}
