#!/usr/bin/env python3
"""Scores a text with a language model that lstm wrote, in PyTorch, the way `lstm eval` documents.

usage: charlm_torch_check.py MODEL.safetensors TEXT [WINDOW]
Builds nn.Embedding -> nn.LSTM/GRU/RNN -> nn.Linear from the file (load_state_dict(strict=True)
with the file's names), maps the text's characters through the vocabulary in the metadata, cuts
the ids into windows of W + 1 that overlap by one (W from the metadata, or WINDOW), runs each window from a
zero state, and prints the mean cross-entropy over every predicted character in bits.
"""
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_load_check import read_safetensors  # noqa: E402


class CharModel(torch.nn.Module):
    def __init__(self, tensors, config):
        super().__init__()
        vocab, width = tensors["embedding.weight"].shape
        self.embedding = torch.nn.Embedding(vocab, width)
        kinds = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}
        common = dict(input_size=config["input_size"], hidden_size=config["hidden_size"],
                      num_layers=config["num_layers"], bidirectional=config["bidirectional"])
        if config["cell"] in kinds:
            self.rnn = kinds[config["cell"]](**common)
        else:
            self.rnn = torch.nn.RNN(nonlinearity=config["cell"][4:], **common)
        self.head = torch.nn.Linear(*reversed(tensors["head.weight"].shape))

    def forward(self, ids):  # ids [T] -> logits [T, V]
        output, _ = self.rnn(self.embedding(ids).unsqueeze(1))
        return self.head(output.squeeze(1))


def main(model_path, text_path, window=None):
    tensors, metadata = read_safetensors(model_path)
    model = CharModel(tensors, json.loads(metadata["config"]))
    model.load_state_dict(tensors, strict=True)
    charlm = json.loads(metadata["charlm"])
    window = int(window) if window else charlm["window"]
    symbols = charlm["vocabulary"]["symbols"]
    index = {chr(s): i for i, s in enumerate(symbols)}
    with open(text_path, encoding="utf-8") as f:
        ids = torch.tensor([index[ch] for ch in f.read()])
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(ids) - 1, window):
            piece = ids[start:start + window + 1]
            logits = model(piece[:-1])
            total += torch.nn.functional.cross_entropy(
                logits.double(), piece[1:], reduction="sum").item()
            count += len(piece) - 1
    print(total / count / math.log(2))


if __name__ == "__main__":
    main(*sys.argv[1:])
