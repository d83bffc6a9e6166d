#!/usr/bin/env python3
"""Writes the demo's files with PyTorch: a 2-layer bidirectional LSTM saved as safetensors, a
variable-length batch, an output gradient, and what PyTorch computes for them (the demo's check).

Run with Debian's Python, which has PyTorch:  /usr/bin/python3 examples/data/make_demo_data.py
"""
import os
import sys

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "scripts"))
from gen_reference import write_npy, write_safetensors  # noqa: E402

torch.manual_seed(2024)
T, B, I, H = 20, 4, 8, 32
lstm = torch.nn.LSTM(I, H, num_layers=2, bidirectional=True)
x = torch.randn(T, B, I, requires_grad=True)
lengths = torch.tensor([20, 13, 1, 7], dtype=torch.int64)
dy = torch.randn(T, B, 2 * H)

packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
y, (h_n, c_n) = lstm(packed)
y, _ = pad_packed_sequence(y, total_length=T)
(y * dy).sum().backward()

write_safetensors(os.path.join(here, "demo_lstm.safetensors"),
                  dict(lstm.state_dict()))
write_npy(os.path.join(here, "demo_input.npy"), x.detach().numpy())
write_npy(os.path.join(here, "demo_lengths.npy"), lengths.numpy())
write_npy(os.path.join(here, "demo_grad_output.npy"), dy.numpy())
expected = {"output": y, "h": h_n, "c": c_n, "grad.input": x.grad}
expected.update({"grad." + k: p.grad for k, p in lstm.named_parameters()})
write_safetensors(os.path.join(here, "demo_expected.safetensors"), expected)
