"""Times one PyTorch training step (forward, loss, backward, Adam) and one inference call under
torch.no_grad() with lstm.torch.LSTM against torch.nn.LSTM, same process, same threads; and the
per-call cost of the Python layer at batch 1, 10 steps. A benchmark, run by hand:
    PYTHONPATH=build/python /usr/bin/python3 python/benchmarks/train_step.py [--threads 2]
"""
import argparse
import ctypes
import statistics
import time

import numpy as np
import torch
from torch import nn

import lstm
import lstm.torch


# torch and lstm share Debian's OpenBLAS. lstm keeps it single-threaded (its own team splits the
# work), which would also slow torch's products: nn.LSTM runs with OpenBLAS at `threads`.
_OPENBLAS = ctypes.CDLL("libopenblas.so.0")


def median_ms(function, repeats, warmup=3):
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


class LanguageModel(nn.Module):
    """Embedding 64 -> LSTM 512 -> linear head over the characters."""

    def __init__(self, rnn_class, vocabulary=96):
        super().__init__()
        self.embedding = nn.Embedding(vocabulary, 64)
        self.rnn = rnn_class(64, 512)
        self.head = nn.Linear(512, vocabulary)

    def forward(self, tokens):  # [T, B] -> [T, B, V]
        return self.head(self.rnn(self.embedding(tokens))[0])


class Regressor(nn.Module):
    def __init__(self, rnn_class, input_size, hidden_size):
        super().__init__()
        self.rnn = rnn_class(input_size, hidden_size)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x):
        return self.head(self.rnn(x)[0])


def step_timer(model, inputs, targets, loss_function):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        optimizer.zero_grad()
        loss = loss_function(model(inputs), targets)
        loss.backward()
        optimizer.step()

    def infer():
        with torch.no_grad():
            model(inputs)
    return step, infer


# bench/run_suite.py's shapes: (cell, input, hidden, batch, steps).
SUITE = [("lstm", 512, 512, 64, 50), ("lstm", 128, 128, 32, 100), ("lstm", 256, 256, 1, 100),
         ("lstm", 1024, 1024, 1, 25), ("lstm", 1024, 1024, 64, 25), ("gru", 512, 512, 64, 50),
         ("gru", 256, 256, 1, 100)]


class BareLayer(nn.Module):
    """The recurrent layer alone; the loss is the mean square of its output."""

    def __init__(self, rnn_class, input_size, hidden_size):
        super().__init__()
        self.rnn = rnn_class(input_size, hidden_size)

    def forward(self, x):
        return self.rnn(x)[0]


def suite_shapes():
    torch.manual_seed(0)
    for cell, i, h, b, t in SUITE:
        yield (f"{cell} {i}/{h}/{b}/{t} (bare layer)", (cell, lambda cls, i=i, h=h: BareLayer(cls, i, h)),
               torch.randn(t, b, i), None, lambda y, _: y.pow(2).mean())


def shapes():
    torch.manual_seed(0)
    tokens = torch.randint(0, 96, (100, 32))
    next_tokens = torch.randint(0, 96, (100, 32))
    cross_entropy = lambda logits, y: nn.functional.cross_entropy(logits.reshape(-1, 96), y.reshape(-1))
    yield ("language model: embedding 64 -> LSTM 512, B 32, T 100",
           ("lstm", lambda cls: LanguageModel(cls)), tokens, next_tokens, cross_entropy)
    x = torch.randn(100, 32, 128)
    yield ("lstm 128/128/32/100", ("lstm", lambda cls: Regressor(cls, 128, 128)), x,
           torch.randn(100, 32, 1), nn.functional.mse_loss)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--suite", action="store_true", help="also every shape of bench/run_suite.py")
    parser.add_argument("--shape", help="only the shapes whose name contains this text")
    parser.add_argument("--calls", type=int, default=2000, help="repeats of each per-call timing")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lstm.set_num_threads(args.threads)
    print(f"threads {args.threads}; median ms")
    print("| shape | train step torch.nn | lstm.torch | speed-up | no_grad torch.nn | lstm.torch | speed-up |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    cases = list(shapes()) + (list(suite_shapes()) if args.suite else [])
    cases = [case for case in cases if args.shape is None or args.shape in case[0]]
    for name, (cell, build), inputs, targets, loss in cases:
        results = {}
        classes = (nn.LSTM, lstm.torch.LSTM) if cell == "lstm" else (nn.GRU, lstm.torch.GRU)
        for label, cls in zip(("nn", "ours"), classes):
            _OPENBLAS.openblas_set_num_threads(args.threads if label == "nn" else 1)
            torch.manual_seed(1)
            step, infer = step_timer(build(cls), inputs, targets, loss)
            results[label] = (median_ms(step, args.repeats), median_ms(infer, args.repeats))
        (nt, ni), (ot, oi) = results["nn"], results["ours"]
        print(f"| {name} | {nt:.1f} | {ot:.1f} | {nt / ot:.2f}x | {ni:.1f} | {oi:.1f} | {ni / oi:.2f}x |")

    per_call(args.calls)


def per_call(repeats):
    """Per-call cost at batch 1, 10 steps (lstm 64/64): the module's calls against the bare
    binding's (outputs preallocated) and torch.nn.LSTM's. Three interleaved rounds; the lowest
    median of each is printed (the machine may be shared)."""
    module = lstm.torch.LSTM(64, 64)
    x = torch.randn(10, 1, 64)
    dy = torch.randn(10, 1, 64)
    backend = module._backend
    network = backend.network
    workspace = backend.take_slot().workspace
    y, h, c = torch.empty(10, 1, 64), torch.empty(1, 1, 64), torch.empty(1, 1, 64)
    grads = np.zeros(network.num_parameters, np.float32)
    grad_x = torch.empty_like(x)

    def raw_forward(training=False):
        network.forward_raw(workspace, training, 10, 1, x.data_ptr(), 0, 0, 0, y.data_ptr(),
                            h.data_ptr(), c.data_ptr(), 0)

    def raw_forward_backward():
        raw_forward(True)
        network.backward_raw(workspace, dy.data_ptr(), 0, 0, grads.ctypes.data, grad_x.data_ptr(), 0, 0)

    def no_grad_call(m):
        with torch.no_grad():
            m(x)

    def forward_backward(m):
        torch.autograd.backward([m(x_grad)[0]], [dy])

    x_grad = x.clone().requires_grad_()
    nn_module = nn.LSTM(64, 64)
    numpy_layer = lstm.LSTM(64, 64)
    x_numpy = x.numpy()
    calls = {"binding: forward_raw": raw_forward,
             "binding: forward_raw + backward_raw": raw_forward_backward,
             "lstm.torch.LSTM under no_grad": lambda: no_grad_call(module),
             "lstm.torch.LSTM forward with autograd": lambda: module(x_grad),
             "lstm.torch.LSTM forward + backward": lambda: forward_backward(module),
             "torch.nn.LSTM under no_grad": lambda: no_grad_call(nn_module),
             "torch.nn.LSTM forward + backward": lambda: forward_backward(nn_module),
             "lstm.LSTM (NumPy)": lambda: numpy_layer(x_numpy)}
    best = {}
    for _ in range(3):
        for label, function in calls.items():
            microseconds = median_ms(function, repeats, repeats // 10) * 1e3
            best[label] = min(best.get(label, microseconds), microseconds)
    print("\nbatch 1, 10 steps, lstm 64/64: median µs per call (lowest of 3 rounds)")
    for label, microseconds in best.items():
        print(f"  {label:40s} {microseconds:8.1f}")
    forward, both = best["binding: forward_raw"], best["binding: forward_raw + backward_raw"]
    print(f"  Python layer over the binding: no_grad +{best['lstm.torch.LSTM under no_grad'] - forward:.1f}, "
          f"forward with autograd +{best['lstm.torch.LSTM forward with autograd'] - forward:.1f}, "
          f"forward + backward +{best['lstm.torch.LSTM forward + backward'] - both:.1f}")

if __name__ == "__main__":
    main()
