"""Swapping torch.nn.LSTM for lstm.torch.LSTM in an ordinary PyTorch training loop.

A two-layer LSTM learns to predict the next value of noisy sine waves. The loop is plain
PyTorch (Adam, MSE, gradient clipping); the only change is the class of `self.rnn`.
Run:  PYTHONPATH=build/python /usr/bin/python3 examples/python/swap_nn_lstm.py [--steps N] [--hidden H]
"""
import argparse
import time

import torch
from torch import nn

import lstm.torch


class Forecaster(nn.Module):
    def __init__(self, rnn_class, hidden_size):
        super().__init__()
        self.rnn = rnn_class(input_size=1, hidden_size=hidden_size, num_layers=2, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x):  # x: [B, T, 1] -> next value at every step [B, T, 1]
        out, _ = self.rnn(x)
        return self.head(out)


def batch(generator, size=32, steps=50):
    phase = torch.rand(size, 1, generator=generator) * 6.28
    t = torch.arange(steps + 1).float() * 0.2
    series = torch.sin(t + phase) + 0.05 * torch.randn(size, steps + 1, generator=generator)
    return series[:, :-1, None], series[:, 1:, None]


def train(rnn_class, steps, hidden_size):
    torch.manual_seed(0)
    model = Forecaster(rnn_class, hidden_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    generator = torch.Generator().manual_seed(1)
    start = time.perf_counter()
    for step in range(steps):
        x, y = batch(generator)
        loss = nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step == 0:
            first = loss.item()
    return first, loss.item(), (time.perf_counter() - start) / steps * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--hidden", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(2)
    lstm.set_num_threads(2)
    for name, rnn_class in [("torch.nn.LSTM", nn.LSTM), ("lstm.torch.LSTM", lstm.torch.LSTM)]:
        first, last, ms = train(rnn_class, args.steps, args.hidden)
        print(f"{name:16s} loss {first:.4f} -> {last:.4f}   {ms:.2f} ms/step")
        if not last < 0.5 * first:
            raise SystemExit(f"{name}: the loss did not fall ({first} -> {last})")


if __name__ == "__main__":
    main()
