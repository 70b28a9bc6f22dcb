// bfloat16 pieces of rnnkit's native inference scans: conversions, the product of a few rows with a
// packed bfloat16 weight (AVX-512 BF16), and the deep-transition MLP on it.
//
// Why a product of our own: a bfloat16 scan at small batch makes one product of a few rows a step, and
// neither library serves it. oneDNN's bfloat16 call costs at least 14 us whatever its size (more than the
// GRU's whole float32 product at batch 1, about 8 us), and MKL's bfloat16 path is slower than its float32
// one, so such scans ran cast to float32, at 1.2-1.3x the float32 time. vdpbf16ps multiplies one 64-byte
// line of the weight, 16 columns x 2 consecutive k, with a pair of x broadcast to every lane, adding into
// 16 float32 sums: 32 multiply-adds an instruction. Measured, one thread, one row against (768, 256):
// 4.6 us, against 6.5-8 us for MKL's float32 product; (256, 256): 1.6 us against 2.5 us.
//
// Accumulators. vdpbf16ps runs about half an instruction a cycle (1.3 G/s here: 41 G multiply-adds a
// second, against 29 G for float32 FMAs; mixing both gains nothing, they share a port), and its latency
// needs several independent sums in flight (4 sums 0.9 G/s, 8 1.25 G/s, 16 1.3 G/s). A panel of the
// product is R rows x G groups of 64 columns (4 sums of 16 columns each) x S interleaved shares of k (S
// sums per output, added at the end): R G 4 S sums, 16 to 32. Measured, one row: (768, 256) 5.4 us with 8
// sums (G 2), 4.6 us with 24 (G 6); (256, 256), only 4 groups, 1.8 us with 8, 1.6 us with 32 (G 4, S 2).
// At 1.3 G instructions/s the product is bound by vdpbf16ps, not by reading the weight (a weight held in
// L1 runs no faster; neither a layout of one stream per panel nor software prefetches changed the time).
// With several rows each weight line loaded serves every row, but the instructions grow with the rows: 2
// rows 7.7 us, 4 rows 14.8 us against (768, 256), where MKL's float32 product, with two FMA ports, catches
// up (hence each kernel's BFLOAT16_NATIVE_ROWS).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__AVX512BF16__)
#include <immintrin.h>
#endif

#include "scan.h"

namespace rnnkit {

// Whether the bfloat16 loops are compiled in (the compiler targets AVX-512 BF16: -march=native on such a CPU).
#if defined(__AVX512BF16__)
constexpr bool kBF16Compiled = true;
#else
constexpr bool kBF16Compiled = false;
#endif

inline float bf16_to_float(uint16_t v) {
  const uint32_t bits = static_cast<uint32_t>(v) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Round to nearest, ties to even, NaN to 0x7FC0: as torch converts float32 to bfloat16.
inline uint16_t float_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  const uint32_t rounded = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
  return static_cast<uint16_t>((u & 0x7FFFFFFFu) > 0x7F800000u ? 0x7FC0u : rounded);
}

inline void check_bf16(const at::Tensor& t, const char* name) { check_cpu_tensor(t, name, at::kBFloat16, "bfloat16"); }

inline const uint16_t* bf16_data(const at::Tensor& t) {
  return reinterpret_cast<const uint16_t*>(t.data_ptr<at::BFloat16>());
}

inline uint16_t* bf16_data(at::Tensor& t) { return reinterpret_cast<uint16_t*>(t.data_ptr<at::BFloat16>()); }

// A weight (N, K) packed by rnnkit.kernels.native.packed_bf16: padded with zeros to (64 groups, 2 pairs)
// and stored as (groups, pairs, 64, 2), element [g, p, c, e] = W[64 g + c, 2 p + e]. For each group of 64
// output columns the k pairs follow each other: one group is one stream of 64-byte lines, each line
// 16 columns x 2 k, a vdpbf16ps operand.
struct PackedBF16 {
  const uint16_t* data = nullptr;
  int64_t groups = 0, pairs = 0;

  PackedBF16(const at::Tensor& packed, int64_t n, int64_t k, const char* name) {
    check_bf16(packed, name);
    TORCH_CHECK(packed.dim() == 4 && packed.size(0) == (n + 63) / 64 && packed.size(1) == (k + 1) / 2 &&
                    packed.size(2) == 64 && packed.size(3) == 2,
                "rnnkit native scan: ", name, " must be a (", n, ", ", k, ") weight packed as (", (n + 63) / 64,
                ", ", (k + 1) / 2, ", 64, 2), got ", packed.sizes());
    data = bf16_data(packed);
    groups = packed.size(0);
    pairs = packed.size(1);
  }
  int64_t n_pad() const { return groups * 64; }  // the product's row length
  int64_t k_pad() const { return pairs * 2; }    // the input's row length
};

#if defined(__AVX512BF16__)
#define RNNKIT_UNROLL _Pragma("GCC unroll 32")

// out[r, 0:64 G] = x[r, :] W[group g0 .. g0 + G) for R rows: x rows of k_pad bfloat16 (ldx apart), w the
// first group's data, out rows ldo apart. S sums per output take turns over the k pairs.
template <int R, int G, int S>
inline void bf16_panel(float* out, int64_t ldo, const uint16_t* x, int64_t ldx, const uint16_t* w, int64_t pairs) {
  constexpr int J = 4 * G;  // 16-column blocks
  __m512 acc[S][R][J];
  RNNKIT_UNROLL for (int s = 0; s < S; ++s) {
    RNNKIT_UNROLL for (int r = 0; r < R; ++r) {
      RNNKIT_UNROLL for (int j = 0; j < J; ++j) acc[s][r][j] = _mm512_setzero_ps();
    }
  }
  auto step = [&](int s, int64_t p) __attribute__((always_inline)) {
    __m512bh xb[R];
    RNNKIT_UNROLL for (int r = 0; r < R; ++r) {
      int32_t pair;
      std::memcpy(&pair, x + r * ldx + 2 * p, sizeof pair);
      xb[r] = (__m512bh)_mm512_set1_epi32(pair);
    }
    RNNKIT_UNROLL for (int j = 0; j < J; ++j) {
      const __m512bh wv = (__m512bh)_mm512_loadu_si512(w + ((j / 4) * pairs + p) * 128 + (j % 4) * 32);
      RNNKIT_UNROLL for (int r = 0; r < R; ++r) acc[s][r][j] = _mm512_dpbf16_ps(acc[s][r][j], wv, xb[r]);
    }
  };
  int64_t p = 0;
  for (; p + S <= pairs; p += S) {
    RNNKIT_UNROLL for (int s = 0; s < S; ++s) step(s, p + s);
  }
  for (; p < pairs; ++p) step(0, p);
  RNNKIT_UNROLL for (int r = 0; r < R; ++r) {
    RNNKIT_UNROLL for (int j = 0; j < J; ++j) {
      __m512 sum = acc[0][r][j];
      RNNKIT_UNROLL for (int s = 1; s < S; ++s) sum = _mm512_add_ps(sum, acc[s][r][j]);
      _mm512_storeu_ps(out + r * ldo + j * 16, sum);
    }
  }
}
#undef RNNKIT_UNROLL

// R rows against every group: panels as wide as keep about 24 sums in flight, narrower ones (with more
// shares of k) for the groups left over.
template <int R>
inline void bf16_rows(float* out, int64_t ldo, const uint16_t* x, int64_t ldx, const PackedBF16& w) {
  const int64_t stride = w.pairs * 128, groups = w.groups, pairs = w.pairs;
  int64_t g = 0;
  auto at = [&](int64_t group) { return std::pair{out + group * 64, w.data + group * stride}; };
  if constexpr (R == 1) {
    for (; g + 6 <= groups; g += 6) bf16_panel<1, 6, 1>(at(g).first, ldo, x, ldx, at(g).second, pairs);
    for (; g + 4 <= groups; g += 4) bf16_panel<1, 4, 2>(at(g).first, ldo, x, ldx, at(g).second, pairs);
    for (; g + 2 <= groups; g += 2) bf16_panel<1, 2, 3>(at(g).first, ldo, x, ldx, at(g).second, pairs);
    for (; g < groups; ++g) bf16_panel<1, 1, 6>(at(g).first, ldo, x, ldx, at(g).second, pairs);
  } else if constexpr (R == 2 || R == 3) {
    for (; g + 2 <= groups; g += 2) bf16_panel<R, 2, 1>(at(g).first, ldo, x, ldx, at(g).second, pairs);
    for (; g < groups; ++g) bf16_panel<R, 1, 2>(at(g).first, ldo, x, ldx, at(g).second, pairs);
  } else {
    for (; g < groups; ++g) bf16_panel<R, 1, 1>(at(g).first, ldo, x, ldx, at(g).second, pairs);
  }
}
#endif

// out (rows, n_pad) float32 = x (rows, k_pad) bfloat16 @ W^T, rows ldo and ldx apart (x's padding zero).
inline void bf16_matmul(float* out, int64_t ldo, const uint16_t* x, int64_t ldx, int64_t rows, const PackedBF16& w) {
#if defined(__AVX512BF16__)
  for (int64_t r = 0; r < rows; r += 4) {
    float* o = out + r * ldo;
    const uint16_t* xr = x + r * ldx;
    switch (rows - r) {
      case 1: bf16_rows<1>(o, ldo, xr, ldx, w); break;
      case 2: bf16_rows<2>(o, ldo, xr, ldx, w); break;
      case 3: bf16_rows<3>(o, ldo, xr, ldx, w); break;
      default: bf16_rows<4>(o, ldo, xr, ldx, w); break;
    }
  }
#else
  (void)out, (void)ldo, (void)x, (void)ldx, (void)rows, (void)w;
  TORCH_CHECK(false, "rnnkit native scan: the bfloat16 loops need a CPU with AVX-512 BF16 (bf16_supported() is false)");
#endif
}

inline void round_to_bf16(uint16_t* __restrict out, const float* __restrict in, int64_t n) {
  for (int64_t j = 0; j < n; ++j) out[j] = float_to_bf16(in[j]);
}

// The product's input from h_{t-1} in bfloat16 (the outputs' rounding): m h_{t-1} rounded to bfloat16
// again with a recurrent mask (as bfloat16 tensors multiply), h_{t-1} itself without.
inline void product_input(uint16_t* __restrict x, const uint16_t* __restrict h, const float* m, int64_t n) {
  if (m == nullptr) {
    std::memcpy(x, h, n * sizeof(uint16_t));
    return;
  }
  for (int64_t j = 0; j < n; ++j) x[j] = float_to_bf16(bf16_to_float(h[j]) * m[j]);
}

// The deep-transition MLP on bfloat16 weights: u_k = phi(u_{k-1} W_k^T + b_k), each product in float32
// from bfloat16 inputs, phi in float32, u_k rounded to bfloat16 as the next product's input; h' = u_L
// rounded, or with skip u_0 + u_L rounded once (rnnkit.kernels.transition's bfloat16 inference loop).
struct TransitionBF16 {
  std::vector<PackedBF16> weights;
  std::vector<const float*> biases;  // null for none
  int64_t activation = kTanh;
  bool skip = false;
  int64_t batch = 0, size = 0, ld = 0;  // ld: k_pad of the inputs, n_pad of the products
  std::vector<float> z;                 // (B, n_pad)
  std::vector<uint16_t> u, h_prime;     // (B, ld) each: u_k rounded, h'

  TransitionBF16(const std::vector<at::Tensor>& packed, const std::vector<at::Tensor>& b, int64_t act, bool skip_,
                 int64_t batch_, int64_t size_)
      : activation(act), skip(skip_), batch(batch_), size(size_) {
    TORCH_CHECK(packed.size() == b.size(), "rnnkit native scan: one transition bias (or empty) per weight");
    for (size_t k = 0; k < packed.size(); ++k) {
      weights.emplace_back(packed[k], size, size, "transition weight");
      if (b[k].numel() > 0) {
        check_float32(b[k], "transition bias");
        TORCH_CHECK(b[k].numel() == size, "rnnkit native scan: transition bias must have ", size, " elements");
        biases.push_back(b[k].data_ptr<float>());
      } else {
        biases.push_back(nullptr);
      }
    }
    if (weights.empty()) return;
    ld = weights[0].k_pad();
    z.assign(batch * weights[0].n_pad(), 0.0f);
    u.assign(batch * ld, 0);
    h_prime.assign(batch * ld, 0);
  }
  bool empty() const { return weights.empty(); }

  // h'_{t-1} from u_0 = m h_{t-1} (B rows, ld apart), in bfloat16, rows ld apart
  const uint16_t* step(const uint16_t* u0) {
    const int64_t lz = weights[0].n_pad();
    const uint16_t* in = u0;
    for (size_t k = 0; k < weights.size(); ++k) {
      bf16_matmul(z.data(), lz, in, ld, batch, weights[k]);
      const bool last = k + 1 == weights.size();
      uint16_t* target = last ? h_prime.data() : u.data();
      for (int64_t b = 0; b < batch; ++b) {
        float* __restrict zb = z.data() + b * lz;
        if (biases[k] != nullptr) {
          for (int64_t j = 0; j < size; ++j) zb[j] += biases[k][j];
        }
        activate(zb, size, activation);
        uint16_t* __restrict tb = target + b * ld;
        if (last && skip) {
          const uint16_t* __restrict u0b = u0 + b * ld;
          for (int64_t j = 0; j < size; ++j) tb[j] = float_to_bf16(bf16_to_float(u0b[j]) + zb[j]);
        } else {
          for (int64_t j = 0; j < size; ++j) tb[j] = float_to_bf16(zb[j]);
        }
      }
      in = target;
    }
    return h_prime.data();
  }
};

}  // namespace rnnkit
