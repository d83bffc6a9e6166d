// Times one unidirectional LSTM/GRU layer with oneDNN's RNN primitives (the reference peer of `lstm bench`).
#include <oneapi/dnnl/dnnl.hpp>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
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

// User-side memory descriptors; weights use format `any` so each primitive picks its layout.
struct Descs {
  memory::desc src_layer;     // [T, B, I]
  memory::desc state;         // [1, 1, B, H] h (and c) in and out
  memory::desc weights_layer; // [1, 1, I, G, H] any
  memory::desc weights_iter;  // [1, 1, H, G, H] any
  memory::desc bias;          // [1, 1, Gb, H] (Gb = 4 for lbr_gru: the extra b_hn)
  memory::desc dst_layer;     // [T, B, H]
};

Layer make_lstm(const Descs& d, bool train, const dnnl::engine& eng) {
  using namespace dnnl;
  const auto dir = rnn_direction::unidirectional_left2right;
  const auto kind = train ? prop_kind::forward_training : prop_kind::forward_inference;
  Layer layer;
  lstm_forward::primitive_desc fwd_pd(
      lstm_forward::desc(kind, dir, d.src_layer, d.state, d.state, d.weights_layer, d.weights_iter, d.bias,
                         d.dst_layer, d.state, d.state),
      eng);
  layer.fwd_pd = fwd_pd;
  layer.fwd = lstm_forward(fwd_pd);
  if (train) {
    lstm_backward::primitive_desc bwd_pd(
        lstm_backward::desc(prop_kind::backward, dir, d.src_layer, d.state, d.state, d.weights_layer,
                            d.weights_iter, d.bias, d.dst_layer, d.state, d.state, d.src_layer, d.state, d.state,
                            d.weights_layer, d.weights_iter, d.bias, d.dst_layer, d.state, d.state),
        eng, fwd_pd);
    layer.bwd_pd = bwd_pd;
    layer.bwd = lstm_backward(bwd_pd);
  }
  return layer;
}

Layer make_gru(const Descs& d, bool train, const dnnl::engine& eng) {
  using namespace dnnl;
  const auto dir = rnn_direction::unidirectional_left2right;
  const auto kind = train ? prop_kind::forward_training : prop_kind::forward_inference;
  Layer layer;
  lbr_gru_forward::primitive_desc fwd_pd(
      lbr_gru_forward::desc(kind, dir, d.src_layer, d.state, d.weights_layer, d.weights_iter, d.bias, d.dst_layer,
                            d.state),
      eng);
  layer.fwd_pd = fwd_pd;
  layer.fwd = lbr_gru_forward(fwd_pd);
  if (train) {
    lbr_gru_backward::primitive_desc bwd_pd(
        lbr_gru_backward::desc(prop_kind::backward, dir, d.src_layer, d.state, d.weights_layer, d.weights_iter,
                               d.bias, d.dst_layer, d.state, d.src_layer, d.state, d.weights_layer,
                               d.weights_iter, d.bias, d.dst_layer, d.state),
        eng, fwd_pd);
    layer.bwd_pd = bwd_pd;
    layer.bwd = lbr_gru_backward(bwd_pd);
  }
  return layer;
}

float* data_of(const memory& m) { return static_cast<float*>(m.get_data_handle()); }

// Allocates memory for `md` filled with uniform(-scale, scale) values (scale 0 gives zeros).
memory filled(const memory::desc& md, const dnnl::engine& eng, std::mt19937& rng, float scale) {
  memory m(md, eng);
  const size_t n = md.get_size() / sizeof(float);
  std::uniform_real_distribution<float> dist(-scale, scale);
  float* p = data_of(m);
  for (size_t i = 0; i < n; ++i) p[i] = scale > 0 ? dist(rng) : 0.0f;
  return m;
}

// Copies `src` into a new memory with the layout `md` (done once, outside the timed region).
memory reordered(const memory& src, const memory::desc& md, const dnnl::engine& eng, dnnl::stream& strm) {
  memory from = src, dst(md, eng);
  dnnl::reorder(from, dst).execute(strm, from, dst);
  strm.wait();
  return dst;
}

void zero(const memory& m) { std::memset(m.get_data_handle(), 0, m.get_desc().get_size()); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int run(const Options& o) {
  omp_set_num_threads(o.threads); // Debian's libdnnl uses the GNU OpenMP runtime
  const bool train = o.mode == "train";
  const bool lstm = o.cell == "lstm";
  const memory::dim gates = lstm ? 4 : 3, bias_gates = 4; // lbr_gru has 3 gates + b_hn
  const memory::dim T = o.steps, B = o.batch, I = o.input, H = o.hidden;

  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  const Descs d{
      {{T, B, I}, Dt::f32, Tag::tnc},         {{1, 1, B, H}, Dt::f32, Tag::ldnc},
      {{1, 1, I, gates, H}, Dt::f32, Tag::any}, {{1, 1, H, gates, H}, Dt::f32, Tag::any},
      {{1, 1, bias_gates, H}, Dt::f32, Tag::ldgo}, {{T, B, H}, Dt::f32, Tag::tnc},
  };
  const Layer layer = lstm ? make_lstm(d, train, eng) : make_gru(d, train, eng);

  std::mt19937 rng(42);
  const float w_scale = 1.0f / static_cast<float>(std::sqrt(static_cast<double>(H)));
  const memory user_wl = filled({{1, 1, I, gates, H}, Dt::f32, Tag::ldigo}, eng, rng, w_scale);
  const memory user_wi = filled({{1, 1, H, gates, H}, Dt::f32, Tag::ldigo}, eng, rng, w_scale);
  const memory bias = filled(d.bias, eng, rng, w_scale);
  const memory src = filled(d.src_layer, eng, rng, 1.0f);
  const memory h0 = filled(d.state, eng, rng, 0.0f), c0 = filled(d.state, eng, rng, 0.0f);
  const memory dst(d.dst_layer, eng), hn(d.state, eng), cn(d.state, eng);

  Args fwd_args{{DNNL_ARG_SRC_LAYER, src},
                {DNNL_ARG_SRC_ITER, h0},
                {DNNL_ARG_WEIGHTS_LAYER, reordered(user_wl, layer.fwd_pd.weights_layer_desc(), eng, strm)},
                {DNNL_ARG_WEIGHTS_ITER, reordered(user_wi, layer.fwd_pd.weights_iter_desc(), eng, strm)},
                {DNNL_ARG_BIAS, bias},
                {DNNL_ARG_DST_LAYER, dst},
                {DNNL_ARG_DST_ITER, hn}};
  if (lstm) {
    fwd_args[DNNL_ARG_SRC_ITER_C] = c0;
    fwd_args[DNNL_ARG_DST_ITER_C] = cn;
  }

  Args bwd_args;
  std::vector<memory> weight_grads; // accumulated by oneDNN: zeroed before every timed iteration
  if (train) {
    const memory workspace(layer.fwd_pd.workspace_desc(), eng);
    fwd_args[DNNL_ARG_WORKSPACE] = workspace;
    const auto& bpd = layer.bwd_pd;
    bwd_args = fwd_args;
    bwd_args[DNNL_ARG_WEIGHTS_LAYER] = reordered(user_wl, bpd.weights_layer_desc(), eng, strm);
    bwd_args[DNNL_ARG_WEIGHTS_ITER] = reordered(user_wi, bpd.weights_iter_desc(), eng, strm);
    bwd_args[DNNL_ARG_DIFF_DST_LAYER] = filled(bpd.diff_dst_layer_desc(), eng, rng, 1.0f);
    bwd_args[DNNL_ARG_DIFF_DST_ITER] = filled(bpd.diff_dst_iter_desc(), eng, rng, 0.0f);
    bwd_args[DNNL_ARG_DIFF_SRC_LAYER] = memory(bpd.diff_src_layer_desc(), eng);
    bwd_args[DNNL_ARG_DIFF_SRC_ITER] = memory(bpd.diff_src_iter_desc(), eng);
    weight_grads = {memory(bpd.diff_weights_layer_desc(), eng), memory(bpd.diff_weights_iter_desc(), eng),
                    memory(bpd.diff_bias_desc(), eng)};
    bwd_args[DNNL_ARG_DIFF_WEIGHTS_LAYER] = weight_grads[0];
    bwd_args[DNNL_ARG_DIFF_WEIGHTS_ITER] = weight_grads[1];
    bwd_args[DNNL_ARG_DIFF_BIAS] = weight_grads[2];
    if (lstm) {
      bwd_args[DNNL_ARG_DIFF_DST_ITER_C] = filled(bpd.diff_dst_iter_c_desc(), eng, rng, 0.0f);
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

  const double ms_median = median(times_ms);
  const double ms_min = *std::min_element(times_ms.begin(), times_ms.end());
  const double flops = 2.0 * static_cast<double>(gates * H * (I + H) * B * T) * (train ? 3.0 : 1.0);
  const double gflops = flops / (ms_median * 1e6);
  if (o.json) {
    const dnnl_version_t* v = dnnl_version();
    std::printf("{\"peer\": \"onednn\", \"version\": \"%d.%d.%d\", \"cell\": \"%s\", \"mode\": \"%s\", \"input_size\": %lld, "
                "\"hidden_size\": %lld, \"batch\": %lld, \"seq_len\": %lld, \"threads\": %d, \"iters\": %d, "
                "\"ms_median\": %.4f, \"ms_min\": %.4f, \"gflops\": %.3f}\n",
                v->major, v->minor, v->patch, o.cell.c_str(), o.mode.c_str(), static_cast<long long>(I),
                static_cast<long long>(H), static_cast<long long>(B), static_cast<long long>(T), o.threads, o.iters,
                ms_median, ms_min,
                gflops);
  } else {
    std::printf("oneDNN %s %s I=%lld H=%lld B=%lld T=%lld threads=%d: median %.3f ms, min %.3f ms, %.1f GFLOP/s\n",
                o.cell.c_str(), o.mode.c_str(), static_cast<long long>(I), static_cast<long long>(H),
                static_cast<long long>(B), static_cast<long long>(T), o.threads, ms_median, ms_min, gflops);
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
