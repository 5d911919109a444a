// HyenaDNA inference kernels for the CUDA path (compiled at run time by NVRTC).
// Layouts follow the CPU fused path (model/src/hyena/fused.rs):
//   p   [B, L, 3D]  in_proj output without its bias
//   prm [K+2, 3D]   short-conv taps (row K-1 multiplies the current step), short-conv bias,
//                   in_proj bias
//   u   [B*D, n]    the gated value v*x1, channels first, zero padded to the FFT size n
//   y   [B*D, n]    the long-convolution output (inverse FFT), first L steps valid
// Indices are 64-bit wherever a product can pass 2^31.

extern "C" __global__ void embed(const unsigned int* ids, const float* table, float* out,
                                 long long rows, int d, int vocab_rows) {
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i >= rows * d) return;
    long long r = i / d;
    int c = (int)(i % d);
    unsigned int id = ids[r];
    out[i] = id < (unsigned int)vocab_rows ? table[(long long)id * d + c] : 0.0f;
}

__device__ float block_sum(float v, float* shared) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
    __syncthreads();
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    v = lane < warps ? shared[lane] : 0.0f;
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
    return v;
}

// One block (a multiple of 32 threads) per row; two passes (mean, then variance of x - mean)
// like candle's CPU layer norm.
extern "C" __global__ void layer_norm(const float* x, const float* w, const float* b, float* y,
                                      int d, float eps) {
    __shared__ float shared[32];
    const float* xr = x + (long long)blockIdx.x * d;
    float* yr = y + (long long)blockIdx.x * d;
    float s = 0.0f;
    for (int c = threadIdx.x; c < d; c += blockDim.x) s += xr[c];
    float mean = block_sum(s, shared) / d;
    float s2 = 0.0f;
    for (int c = threadIdx.x; c < d; c += blockDim.x) {
        float v = xr[c] - mean;
        s2 += v * v;
    }
    float inv = rsqrtf(block_sum(s2, shared) / d + eps);
    for (int c = threadIdx.x; c < d; c += blockDim.x) yr[c] = (xr[c] - mean) * inv * w[c] + b[c];
}

// Batch row, step and channel of a flat index over [B, L, D] (channels fastest).
struct Step {
    int b, t, c;
};

__device__ Step split_step(long long i, int len, int d) {
    Step s;
    s.c = (int)(i % d);
    long long bt = i / d;
    s.t = (int)(bt % len);
    s.b = (int)(bt / len);
    return s;
}

// Short-conv output of channel `ch` at step `t` of one sequence `p` ([L, c3]).
__device__ float short_conv(const float* p, const float* prm, int t, int ch, int c3, int k) {
    float in_bias = prm[(long long)(k + 1) * c3 + ch];
    float acc = prm[(long long)k * c3 + ch];
    for (int j = 0; j < k; j++) {
        int src = t + j - (k - 1);
        if (src >= 0) acc += prm[(long long)j * c3 + ch] * (p[(long long)src * c3 + ch] + in_bias);
    }
    return acc;
}

extern "C" __global__ void gate_in(const float* p, const float* prm, float* u,
                                   int batch, int len, int d, int k, int n) {
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i >= (long long)batch * len * d) return;
    Step s = split_step(i, len, d);
    const float* pb = p + (long long)s.b * len * 3 * d;
    float v = short_conv(pb, prm, s.t, 2 * d + s.c, 3 * d, k) * short_conv(pb, prm, s.t, d + s.c, 3 * d, k);
    u[((long long)s.b * d + s.c) * n + s.t] = v;
}

// U[row, f] *= K[row % d, f]; the spectra K carry the 1/n of the inverse FFT.
extern "C" __global__ void spectral_mul(float2* spec, const float2* filt, long long rows,
                                        int d, int bins) {
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i >= rows * bins) return;
    int f = (int)(i % bins);
    int c = (int)((i / bins) % d);
    float2 a = spec[i];
    float2 b = filt[(long long)c * bins + f];
    spec[i] = make_float2(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}

extern "C" __global__ void gate_out(const float* y, const float* p, const float* prm, float* z,
                                    int batch, int len, int d, int k, int n) {
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i >= (long long)batch * len * d) return;
    Step s = split_step(i, len, d);
    const float* pb = p + (long long)s.b * len * 3 * d;
    z[i] = y[((long long)s.b * d + s.c) * n + s.t] * short_conv(pb, prm, s.t, s.c, 3 * d, k);
}

// x[row, c] += bias[c] over rows of `width`.
extern "C" __global__ void add_bias(float* x, const float* bias, long long total, int width) {
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i >= total) return;
    x[i] += bias[i % width];
}

// x = gelu_tanh(x + bias) in place.
extern "C" __global__ void bias_gelu(float* x, const float* bias, long long total, int width) {
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i >= total) return;
    float v = x[i] + bias[i % width];
    x[i] = 0.5f * v * (1.0f + tanhf(0.7978845608f * (v + 0.044715f * v * v * v)));
}

// bf16 (round to nearest even) copies of f32 activations for the bf16 matmuls.
extern "C" __global__ void to_bf16(const float* x, unsigned short* y, long long total) {
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i >= total) return;
    unsigned int u = __float_as_uint(x[i]);
    if ((u & 0x7fffffffu) > 0x7f800000u) {
        y[i] = 0x7fc0;  // NaN
        return;
    }
    u += 0x7fffu + ((u >> 16) & 1u);
    y[i] = (unsigned short)(u >> 16);
}

// out[b, c] = mean over t of x[b, t, c].
extern "C" __global__ void mean_pool(const float* x, float* out, int batch, int len, int d) {
    long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x;
    if (i >= (long long)batch * d) return;
    int c = (int)(i % d);
    int b = (int)(i / d);
    const float* xb = x + (long long)b * len * d;
    float s = 0.0f;
    for (int t = 0; t < len; t++) s += xb[(long long)t * d + c];
    out[i] = s / len;
}
