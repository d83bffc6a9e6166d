#!/usr/bin/python3
"""Times one unidirectional nn.LSTM/nn.GRU layer with PyTorch on the CPU, in float or dynamically
quantized to int8 (a peer of `lstm bench`)."""
import argparse
import json
import os
import statistics
import sys
import time


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--cell", choices=["lstm", "gru"], default="lstm")
    p.add_argument("--mode", choices=["infer", "train"], default="infer")
    p.add_argument("--precision", choices=["fp32", "int8"], default="fp32",
                   help="int8: quantize_dynamic with per_channel_dynamic_qconfig (inference only)")
    p.add_argument("--input-size", type=int, default=512)
    p.add_argument("--hidden-size", type=int, default=512)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seq-len", type=int, default=50)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    if min(a.input_size, a.hidden_size, a.batch, a.seq_len, a.threads, a.iters) < 1 or a.warmup < 0:
        p.error("sizes, --threads and --iters must be positive")
    if a.precision == "int8" and a.mode != "infer":
        p.error("--precision int8 is inference only (PyTorch's dynamic quantized RNNs have no backward): "
                "use --mode infer")
    return a


def quantized(torch, rnn, cls, x):
    """PyTorch's dynamic quantization of `rnn`: int8 weights with one scale per output row
    (per_channel_dynamic_qconfig), activations quantized at run time. quantize_dynamic replaces
    children, not the module it is given, hence the holder. Returns the quantized holder and the
    JSON extras: the module and engine in use and the largest |int8 - fp32| of the output on `x`."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    class Holder(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.rnn = inner

        def forward(self, inputs):
            return self.rnn(inputs)

    holder = Holder(rnn).eval()
    q = quantize_dynamic(holder, {cls: per_channel_dynamic_qconfig}, dtype=torch.qint8)
    if isinstance(q.rnn, cls):  # the guard: never time the float module as int8
        sys.exit(f"torch_rnn_bench: quantize_dynamic left {cls.__name__} in float")
    with torch.no_grad():
        err = (q(x)[0] - holder(x)[0]).abs().max().item()
    return q, {"precision": "int8", "quantized_engine": torch.backends.quantized.engine,
               "quantized_module": type(q.rnn).__module__ + "." + type(q.rnn).__name__,
               "max_abs_err_vs_fp32": round(err, 6)}


def main(argv):
    a = parse_args(argv)
    # Debian's torch runs GEMMs in OpenBLAS (pthread build), which torch.set_num_threads does not
    # reach: pin both thread pools to --threads before the libraries load.
    os.environ["OMP_NUM_THREADS"] = os.environ["OPENBLAS_NUM_THREADS"] = str(a.threads)
    try:
        import torch
    except ImportError as e:
        sys.exit(f"torch_rnn_bench: cannot import torch ({e}); run with /usr/bin/python3")
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    gates = 4 if a.cell == "lstm" else 3
    cls = torch.nn.LSTM if a.cell == "lstm" else torch.nn.GRU
    model = cls(a.input_size, a.hidden_size)
    x = torch.randn(a.seq_len, a.batch, a.input_size)  # [T, B, I]
    train = a.mode == "train"
    extra = {"precision": a.precision}
    if a.precision == "int8":
        model, extra = quantized(torch, model, cls, x)
    if train:
        x.requires_grad_(True)
        dy = torch.randn(a.seq_len, a.batch, a.hidden_size)  # [T, B, H]

    def step():
        if train:
            y, _ = model(x)
            y.backward(dy)  # gradients of sum(y * dy) for all parameters and the input
        else:
            with torch.no_grad():
                model(x)

    times_ms = []
    for it in range(a.warmup + a.iters):
        model.zero_grad(set_to_none=True)
        x.grad = None
        start = time.perf_counter()
        step()
        stop = time.perf_counter()
        if it >= a.warmup:
            times_ms.append((stop - start) * 1e3)

    ms_median, ms_min = statistics.median(times_ms), min(times_ms)
    flops = 2.0 * gates * a.hidden_size * (a.input_size + a.hidden_size) * a.batch * a.seq_len
    flops *= 3.0 if train else 1.0
    gflops = flops / (ms_median * 1e6)
    if a.json:
        print(json.dumps({"peer": "pytorch", "torch_version": torch.__version__, "cell": a.cell, "mode": a.mode,
                          "input_size": a.input_size, "hidden_size": a.hidden_size, "batch": a.batch,
                          "seq_len": a.seq_len, "threads": a.threads, "iters": a.iters,
                          "ms_median": round(ms_median, 4), "ms_min": round(ms_min, 4), "gflops": round(gflops, 3),
                          **extra}))
    else:
        print(f"PyTorch {torch.__version__} {a.precision} {a.cell} {a.mode} I={a.input_size} H={a.hidden_size} "
              f"B={a.batch} T={a.seq_len} threads={a.threads}: median {ms_median:.3f} ms, min {ms_min:.3f} ms, "
              f"{gflops:.1f} GFLOP/s")
        if "max_abs_err_vs_fp32" in extra:
            print(f"{extra['quantized_module']} on the {extra['quantized_engine']} engine; "
                  f"largest |int8 - fp32| of the output: {extra['max_abs_err_vs_fp32']:.3g}")


if __name__ == "__main__":
    main(sys.argv[1:])
