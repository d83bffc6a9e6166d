#!/usr/bin/env python3
"""Loads a model file that lstm wrote into PyTorch and checks PyTorch computes the same output.

usage: torch_load_check.py MODEL.safetensors INPUT.npy EXPECTED_OUTPUT.npy
Builds nn.LSTM / nn.GRU / nn.RNN from the file's "config" metadata, calls
load_state_dict(strict=True) on the tensors exactly as named in the file, runs the input and
compares with the output lstm computed. Exit status 0 on agreement; 1 with a message otherwise.
(The safetensors Python package is not in Debian, so the file is read here by hand.)
"""
import json
import struct
import sys

import numpy as np
import torch


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    metadata = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, entry in header.items():
        assert entry["dtype"] == "F32", f"{name}: dtype {entry['dtype']}"
        begin, end = entry["data_offsets"]
        array = np.frombuffer(raw[base + begin:base + end], dtype="<f4").reshape(entry["shape"])
        tensors[name] = torch.from_numpy(array.copy())
    return tensors, metadata


def main(model_path, input_path, expected_path):
    tensors, metadata = read_safetensors(model_path)
    config = json.loads(metadata["config"])
    common = dict(input_size=config["input_size"], hidden_size=config["hidden_size"],
                  num_layers=config["num_layers"], bidirectional=config["bidirectional"],
                  bias=config["bias"])
    cell = config["cell"]
    if cell == "lstm":
        module = torch.nn.LSTM(proj_size=config["proj_size"], **common)
    elif cell == "gru":
        module = torch.nn.GRU(**common)
    else:
        module = torch.nn.RNN(nonlinearity="relu" if cell == "rnn_relu" else "tanh", **common)
    module.load_state_dict(tensors, strict=True)
    x = torch.from_numpy(np.load(input_path))
    with torch.no_grad():
        y, _ = module(x)
    expected = np.load(expected_path)
    error = float(np.abs(y.numpy() - expected).max())
    if y.shape != expected.shape or error > 1e-5:
        print(f"{model_path}: PyTorch output differs from lstm's by {error} (shape {tuple(y.shape)})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
