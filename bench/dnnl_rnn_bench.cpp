// Times one unidirectional LSTM/GRU layer with oneDNN's RNN primitives, fp32, bf16 or int8 (the peer of `lstm bench`).
#include "dnnl_int8.hpp"

#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <random>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using Dt = memory::data_type;
using Args = std::unordered_map<int, memory>;

struct Options {
  std::string cell = "lstm";  // lstm | gru (oneDNN's lbr_gru = PyTorch's GRU)
  std::string mode = "infer"; // infer | train
  std::string precision = "fp32"; // fp32 | bf16 (bf16 data and weights, f32 c state, bias and weight gradients)
                                  // | int8 (inference: u8 data and h, s8 weights, f32 c, bias and output)
  memory::dim input = 512, hidden = 512, batch = 64, steps = 50;
  int threads = 1, iters = 20, warmup = 3;
  bool json = false;
};

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      o.json = true;
      continue;
    }
    if (i + 1 >= argc) throw std::runtime_error("missing value after " + arg);
    const std::string value = argv[++i];
    if (arg == "--cell") o.cell = value;
    else if (arg == "--mode") o.mode = value;
    else if (arg == "--precision") o.precision = value;
    else if (arg == "--input-size") o.input = std::stoll(value);
    else if (arg == "--hidden-size") o.hidden = std::stoll(value);
    else if (arg == "--batch") o.batch = std::stoll(value);
    else if (arg == "--seq-len") o.steps = std::stoll(value);
    else if (arg == "--threads") o.threads = std::stoi(value);
    else if (arg == "--iters") o.iters = std::stoi(value);
    else if (arg == "--warmup") o.warmup = std::stoi(value);
    else throw std::runtime_error("unknown option " + arg);
  }
  if (o.cell != "lstm" && o.cell != "gru") throw std::runtime_error("--cell must be lstm or gru");
  if (o.mode != "infer" && o.mode != "train") throw std::runtime_error("--mode must be infer or train");
  if (o.precision != "fp32" && o.precision != "bf16" && o.precision != "int8")
    throw std::runtime_error("--precision must be fp32, bf16 or int8");
  if (o.precision == "int8" && o.mode != "infer")
    throw std::runtime_error("--precision int8 is inference only (oneDNN has no int8 RNN backward): use --mode infer");
  if (o.input < 1 || o.hidden < 1 || o.batch < 1 || o.steps < 1 || o.threads < 1 || o.iters < 1 ||
      o.warmup < 0)
    throw std::runtime_error("sizes, --threads and --iters must be positive");
  return o;
}

// The primitives of one layer: forward always, backward only for training.
struct Layer {
  dnnl::rnn_primitive_desc_base fwd_pd, bwd_pd;
  dnnl::primitive fwd, bwd;
};

// Memory descriptors; weights (and their gradients) use format `any` so each primitive picks its layout.
// With bf16, the layer data, h states and weights are bf16; c states, bias and every gradient
// stay f32 (oneDNN 2.6 creates its bf16 backward with f32 gradients only).
struct Descs {
  memory::desc src_layer;          // [T, B, I]
  memory::desc state_h;            // [1, 1, B, H] h in and out
  memory::desc state_c;            // [1, 1, B, H] c in and out (LSTM)
  memory::desc weights_layer;      // [1, 1, I, G, H] any
  memory::desc weights_iter;       // [1, 1, H, G, H] any
  memory::desc bias;               // [1, 1, Gb, H] (Gb = 4 for lbr_gru: the extra b_hn)
  memory::desc dst_layer;          // [T, B, H]
  memory::desc diff_src_layer;     // [T, B, I] f32
  memory::desc diff_state_h;       // [1, 1, B, H] f32
  memory::desc diff_dst_layer;     // [T, B, H] f32
  memory::desc diff_weights_layer; // [1, 1, I, G, H] any, f32
  memory::desc diff_weights_iter;  // [1, 1, H, G, H] any, f32
};

Layer make_lstm(const Descs& d, bool train, const dnnl::primitive_attr& attr, const dnnl::engine& eng) {
  using namespace dnnl;
  const auto dir = rnn_direction::unidirectional_left2right;
  const auto kind = train ? prop_kind::forward_training : prop_kind::forward_inference;
  Layer layer;
  lstm_forward::primitive_desc fwd_pd(
      lstm_forward::desc(kind, dir, d.src_layer, d.state_h, d.state_c, d.weights_layer, d.weights_iter, d.bias,
                         d.dst_layer, d.state_h, d.state_c),
      attr, eng);
  layer.fwd_pd = fwd_pd;
  layer.fwd = lstm_forward(fwd_pd);
  if (train) {
    lstm_backward::primitive_desc bwd_pd(
        lstm_backward::desc(prop_kind::backward, dir, d.src_layer, d.state_h, d.state_c, d.weights_layer,
                            d.weights_iter, d.bias, d.dst_layer, d.state_h, d.state_c, d.diff_src_layer,
                            d.diff_state_h, d.state_c, d.diff_weights_layer, d.diff_weights_iter, d.bias,
                            d.diff_dst_layer, d.diff_state_h, d.state_c),
        eng, fwd_pd);
    layer.bwd_pd = bwd_pd;
    layer.bwd = lstm_backward(bwd_pd);
  }
  return layer;
}

Layer make_gru(const Descs& d, bool train, const dnnl::primitive_attr& attr, const dnnl::engine& eng) {
  using namespace dnnl;
  const auto dir = rnn_direction::unidirectional_left2right;
  const auto kind = train ? prop_kind::forward_training : prop_kind::forward_inference;
  Layer layer;
  lbr_gru_forward::primitive_desc fwd_pd(
      lbr_gru_forward::desc(kind, dir, d.src_layer, d.state_h, d.weights_layer, d.weights_iter, d.bias,
                            d.dst_layer, d.state_h),
      attr, eng);
  layer.fwd_pd = fwd_pd;
  layer.fwd = lbr_gru_forward(fwd_pd);
  if (train) {
    lbr_gru_backward::primitive_desc bwd_pd(
        lbr_gru_backward::desc(prop_kind::backward, dir, d.src_layer, d.state_h, d.weights_layer, d.weights_iter,
                               d.bias, d.dst_layer, d.state_h, d.diff_src_layer, d.diff_state_h,
                               d.diff_weights_layer, d.diff_weights_iter, d.bias, d.diff_dst_layer,
                               d.diff_state_h),
        eng, fwd_pd);
    layer.bwd_pd = bwd_pd;
    layer.bwd = lbr_gru_backward(bwd_pd);
  }
  return layer;
}

// Copies `src` into a new memory with the layout `md` (done once, outside the timed region).
memory reordered(const memory& src, const memory::desc& md, const dnnl::engine& eng, dnnl::stream& strm) {
  memory from = src, dst(md, eng);
  dnnl::reorder(from, dst).execute(strm, from, dst);
  strm.wait();
  return dst;
}

// Memory of `dims` in the plain layout `tag` and type `dt`, filled with uniform(-scale, scale)
// values (scale 0 gives zeros); other types than f32 are converted from f32 by a reorder.
memory filled(const memory::dims& dims, Dt dt, Tag tag, const dnnl::engine& eng, dnnl::stream& strm,
              std::mt19937& rng, float scale) {
  memory f32(memory::desc(dims, Dt::f32, tag), eng);
  const size_t n = f32.get_desc().get_size() / sizeof(float);
  std::uniform_real_distribution<float> dist(-scale, scale);
  float* p = static_cast<float*>(f32.get_data_handle());
  for (size_t i = 0; i < n; ++i) p[i] = scale > 0 ? dist(rng) : 0.0f;
  return dt == Dt::f32 ? f32 : reordered(f32, memory::desc(dims, dt, tag), eng, strm);
}

void zero(const memory& m) { std::memset(m.get_data_handle(), 0, m.get_desc().get_size()); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// The problem's sizes and the memory descriptors of one precision.
struct Problem {
  bool lstm;
  memory::dim gates, T, B, I, H; // G = 4 (LSTM) or 3 (GRU)
  memory::dims src_dims;   // [T, B, I]
  memory::dims state_dims; // [1, 1, B, H]
  memory::dims dst_dims;   // [T, B, H]
  memory::dims wl_dims;    // [1, 1, I, G, H]
  memory::dims wi_dims;    // [1, 1, H, G, H]
  memory::dims bias_dims;  // [1, 1, 4, H]: lbr_gru's bias has 3 gates + b_hn

  explicit Problem(const Options& o)
      : lstm(o.cell == "lstm"), gates(lstm ? 4 : 3), T(o.steps), B(o.batch), I(o.input), H(o.hidden),
        src_dims{T, B, I}, state_dims{1, 1, B, H}, dst_dims{T, B, H}, wl_dims{1, 1, I, gates, H},
        wi_dims{1, 1, H, gates, H}, bias_dims{1, 1, 4, H} {}

  // fp32 / bf16: layer data, h states and weights in that type. int8: u8 source and h states,
  // s8 weights, f32 output layer (what a last layer hands on), f32 c state and bias.
  Descs descs(const std::string& precision) const {
    const bool int8 = precision == "int8";
    const Dt data = precision == "bf16" ? Dt::bf16 : int8 ? Dt::u8 : Dt::f32;
    const Dt weights = int8 ? Dt::s8 : data, out = int8 ? Dt::f32 : data;
    return Descs{
        {src_dims, data, Tag::tnc},    {state_dims, data, Tag::ldnc},   {state_dims, Dt::f32, Tag::ldnc},
        {wl_dims, weights, Tag::any},  {wi_dims, weights, Tag::any},    {bias_dims, Dt::f32, Tag::ldgo},
        {dst_dims, out, Tag::tnc},     {src_dims, Dt::f32, Tag::tnc},   {state_dims, Dt::f32, Tag::ldnc},
        {dst_dims, Dt::f32, Tag::tnc}, {wl_dims, Dt::f32, Tag::any},    {wi_dims, Dt::f32, Tag::any},
    };
  }
};

Layer make_layer(const Problem& p, const Options& o, const dnnl::primitive_attr& attr, const dnnl::engine& eng) {
  const Descs d = p.descs(o.precision);
  const bool train = o.mode == "train";
  Layer layer;
  try {
    layer = p.lstm ? make_lstm(d, train, attr, eng) : make_gru(d, train, attr, eng);
  } catch (const dnnl::error& e) {
    const char* cap = std::getenv("ONEDNN_MAX_CPU_ISA");
    throw std::runtime_error("oneDNN has no " + o.precision + " " + o.cell + " " + o.mode + " primitive here (" +
                             e.what() + "; ONEDNN_MAX_CPU_ISA=" + (cap ? cap : "unset") + ")");
  }
  // oneDNN refuses descriptors it cannot run; this guards against ever timing an f32 primitive as bf16 or int8.
  const Dt weights = d.weights_layer.data_type();
  if (layer.fwd_pd.weights_layer_desc().data_type() != weights ||
      layer.fwd_pd.weights_iter_desc().data_type() != weights ||
      layer.fwd_pd.src_layer_desc().data_type() != d.src_layer.data_type() ||
      (train && layer.bwd_pd.weights_iter_desc().data_type() != weights))
    throw std::runtime_error("oneDNN created the primitive with other types than --precision " + o.precision);
  return layer;
}

// Forward arguments with the user's f32 weights reordered into the primitive's layouts (under
// int8 the reorder quantizes them with the per-row scales of `attr`).
Args forward_args(const Problem& p, const Layer& layer, const dnnl::primitive_attr& attr, const memory& user_wl,
                  const memory& user_wi, const memory& bias, const memory& src, const memory& h0, const memory& c0,
                  const dnnl::engine& eng, dnnl::stream& strm) {
  auto in_layout = [&](const memory& user, const memory::desc& md) {
    memory from = user, dst(md, eng);
    dnnl::reorder(dnnl::reorder::primitive_desc(eng, user.get_desc(), eng, md, attr)).execute(strm, from, dst);
    strm.wait();
    return dst;
  };
  Args args{{DNNL_ARG_SRC_LAYER, src},
            {DNNL_ARG_SRC_ITER, h0},
            {DNNL_ARG_WEIGHTS_LAYER, in_layout(user_wl, layer.fwd_pd.weights_layer_desc())},
            {DNNL_ARG_WEIGHTS_ITER, in_layout(user_wi, layer.fwd_pd.weights_iter_desc())},
            {DNNL_ARG_BIAS, bias},
            {DNNL_ARG_DST_LAYER, memory(layer.fwd_pd.dst_layer_desc(), eng)},
            {DNNL_ARG_DST_ITER, memory(layer.fwd_pd.dst_iter_desc(), eng)}};
  if (p.lstm) {
    args[DNNL_ARG_SRC_ITER_C] = c0;
    args[DNNL_ARG_DST_ITER_C] = memory(layer.fwd_pd.dst_iter_c_desc(), eng);
  }
  return args;
}

int run(const Options& o) {
  omp_set_num_threads(o.threads); // Debian's libdnnl uses the GNU OpenMP runtime
  const bool train = o.mode == "train", int8 = o.precision == "int8";
  const Problem p(o);
  const memory::dim T = p.T, B = p.B, I = p.I, H = p.H;

  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  const Descs d = p.descs(o.precision);
  const Dt data = d.src_layer.data_type();

  std::mt19937 rng(42);
  const float w_scale = 1.0f / static_cast<float>(std::sqrt(static_cast<double>(H)));
  const memory user_wl = filled(p.wl_dims, Dt::f32, Tag::ldigo, eng, strm, rng, w_scale);
  const memory user_wi = filled(p.wi_dims, Dt::f32, Tag::ldigo, eng, strm, rng, w_scale);
  const memory bias = filled(p.bias_dims, Dt::f32, Tag::ldgo, eng, strm, rng, w_scale);
  // int8: the f32 input and zero state are quantized here, outside the timed region (oneDNN's
  // example hands the primitive u8 data); the f32 originals feed the accuracy check below.
  const memory src_f32 = filled(p.src_dims, Dt::f32, Tag::tnc, eng, strm, rng, 1.0f);
  const memory h0_f32 = filled(p.state_dims, Dt::f32, Tag::ldnc, eng, strm, rng, 0.0f);
  const memory c0 = filled(p.state_dims, Dt::f32, Tag::ldnc, eng, strm, rng, 0.0f);
  const memory src = int8 ? dnnl_int8::quantized_data(src_f32, Tag::tnc, eng)
                     : data == Dt::f32 ? src_f32 : reordered(src_f32, d.src_layer, eng, strm);
  const memory h0 = int8 ? dnnl_int8::quantized_data(h0_f32, Tag::ldnc, eng)
                    : data == Dt::f32 ? h0_f32 : reordered(h0_f32, d.state_h, eng, strm);

  dnnl::primitive_attr attr;
  if (int8)
    attr = dnnl_int8::attributes(dnnl_int8::row_scales(static_cast<const float*>(user_wl.get_data_handle()),
                                                       static_cast<const float*>(user_wi.get_data_handle()), I, H,
                                                       p.gates));
  const Layer layer = make_layer(p, o, attr, eng);
  Args fwd_args = forward_args(p, layer, attr, user_wl, user_wi, bias, src, h0, c0, eng, strm);

  Args bwd_args;
  std::vector<memory> weight_grads; // accumulated by oneDNN: zeroed before every timed iteration
  if (train) {
    const memory workspace(layer.fwd_pd.workspace_desc(), eng);
    fwd_args[DNNL_ARG_WORKSPACE] = workspace;
    const auto& bpd = layer.bwd_pd;
    bwd_args = fwd_args;
    bwd_args[DNNL_ARG_WEIGHTS_LAYER] = reordered(user_wl, bpd.weights_layer_desc(), eng, strm);
    bwd_args[DNNL_ARG_WEIGHTS_ITER] = reordered(user_wi, bpd.weights_iter_desc(), eng, strm);
    bwd_args[DNNL_ARG_DIFF_DST_LAYER] = filled(p.dst_dims, Dt::f32, Tag::tnc, eng, strm, rng, 1.0f);
    bwd_args[DNNL_ARG_DIFF_DST_ITER] = filled(p.state_dims, Dt::f32, Tag::ldnc, eng, strm, rng, 0.0f);
    bwd_args[DNNL_ARG_DIFF_SRC_LAYER] = memory(bpd.diff_src_layer_desc(), eng);
    bwd_args[DNNL_ARG_DIFF_SRC_ITER] = memory(bpd.diff_src_iter_desc(), eng);
    weight_grads = {memory(bpd.diff_weights_layer_desc(), eng), memory(bpd.diff_weights_iter_desc(), eng),
                    memory(bpd.diff_bias_desc(), eng)};
    bwd_args[DNNL_ARG_DIFF_WEIGHTS_LAYER] = weight_grads[0];
    bwd_args[DNNL_ARG_DIFF_WEIGHTS_ITER] = weight_grads[1];
    bwd_args[DNNL_ARG_DIFF_BIAS] = weight_grads[2];
    if (p.lstm) {
      bwd_args[DNNL_ARG_DIFF_DST_ITER_C] = filled(p.state_dims, Dt::f32, Tag::ldnc, eng, strm, rng, 0.0f);
      bwd_args[DNNL_ARG_DIFF_SRC_ITER_C] = memory(bpd.diff_src_iter_c_desc(), eng);
    }
  }

  std::vector<double> times_ms;
  for (int it = 0; it < o.warmup + o.iters; ++it) {
    for (const memory& g : weight_grads) zero(g);
    const auto start = std::chrono::steady_clock::now();
    layer.fwd.execute(strm, fwd_args);
    if (train) layer.bwd.execute(strm, bwd_args);
    strm.wait();
    const auto stop = std::chrono::steady_clock::now();
    if (it >= o.warmup) times_ms.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
  }

  // int8: the same layer in f32 on the f32 input; the largest |int8 − f32| of the output shows
  // that the quantization (scales, shift, weights) is what oneDNN expects. -1 when not computed.
  double max_err = -1;
  if (int8) {
    Options f32_options = o;
    f32_options.precision = "fp32";
    const dnnl::primitive_attr no_attr;
    const Layer reference = make_layer(p, f32_options, no_attr, eng);
    const Args ref_args =
        forward_args(p, reference, no_attr, user_wl, user_wi, bias, src_f32, h0_f32, c0, eng, strm);
    reference.fwd.execute(strm, ref_args);
    strm.wait();
    max_err = dnnl_int8::max_abs_difference(fwd_args.at(DNNL_ARG_DST_LAYER), ref_args.at(DNNL_ARG_DST_LAYER));
  }

  const double ms_median = median(times_ms);
  const double ms_min = *std::min_element(times_ms.begin(), times_ms.end());
  const double flops = 2.0 * static_cast<double>(p.gates * H * (I + H) * B * T) * (train ? 3.0 : 1.0);
  const double gflops = flops / (ms_median * 1e6);
  if (o.json) {
    const dnnl_version_t* v = dnnl_version();
    std::printf("{\"peer\": \"onednn\", \"version\": \"%d.%d.%d\", \"precision\": \"%s\", \"impl\": \"%s\", "
                "\"impl_backward\": \"%s\", \"cell\": \"%s\", \"mode\": \"%s\", \"input_size\": %lld, "
                "\"hidden_size\": %lld, \"batch\": %lld, \"seq_len\": %lld, \"threads\": %d, \"iters\": %d, "
                "\"ms_median\": %.4f, \"ms_min\": %.4f, \"gflops\": %.3f",
                v->major, v->minor, v->patch, o.precision.c_str(), layer.fwd_pd.impl_info_str(),
                train ? layer.bwd_pd.impl_info_str() : "", o.cell.c_str(), o.mode.c_str(), static_cast<long long>(I),
                static_cast<long long>(H), static_cast<long long>(B), static_cast<long long>(T), o.threads, o.iters,
                ms_median, ms_min, gflops);
    if (int8) std::printf(", \"max_abs_err_vs_fp32\": %.6g", max_err);
    std::printf("}\n");
  } else {
    const std::string impl = std::string(layer.fwd_pd.impl_info_str()) +
                             (train ? std::string(" + ") + layer.bwd_pd.impl_info_str() : std::string());
    std::printf("oneDNN %s %s %s (%s) I=%lld H=%lld B=%lld T=%lld threads=%d: median %.3f ms, min %.3f ms, "
                "%.1f GFLOP/s\n",
                o.precision.c_str(), o.cell.c_str(), o.mode.c_str(), impl.c_str(), static_cast<long long>(I),
                static_cast<long long>(H), static_cast<long long>(B), static_cast<long long>(T), o.threads,
                ms_median, ms_min, gflops);
    if (int8) std::printf("largest |int8 - fp32| of the output: %.3g\n", max_err);
  }
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  try {
    return run(parse_options(argc, argv));
  } catch (const dnnl::error& e) {
    std::fprintf(stderr, "dnnl_rnn_bench: oneDNN error: %s (status %d)\n", e.what(), static_cast<int>(e.status));
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dnnl_rnn_bench: %s\n", e.what());
  }
  return 1;
}
