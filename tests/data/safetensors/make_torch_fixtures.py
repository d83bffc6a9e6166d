#!/usr/bin/python3
"""Writes PyTorch state_dicts as safetensors.torch.save_file would, for tests/model_file_test.cpp.

The `safetensors` package is not installed here, so the format is written by hand exactly as its
save_file does: tensors sorted by name, data contiguous in that order, compact JSON header
(keys dtype, shape, data_offsets) padded with spaces to a multiple of 8 bytes.
Run: /usr/bin/python3 THIS
"""
import json
import os
import struct

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))


def save_file(tensors, name, metadata=None):
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for key in sorted(tensors):
        data = tensors[key].detach().contiguous().numpy().astype("<f4").tobytes()
        header[key] = {"dtype": "F32", "shape": list(tensors[key].shape),
                       "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


torch.manual_seed(0)
lstm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
save_file(lstm.state_dict(), "torch_lstm_proj_bidir.safetensors")
np.save(os.path.join(HERE, "torch_lstm_proj_bidir.weight_hh_l1_reverse.npy"),
        lstm.weight_hh_l1_reverse.detach().numpy())

gru = torch.nn.GRU(2, 3, bias=False)
save_file(gru.state_dict(), "torch_gru_nobias.safetensors")

rnn = torch.nn.RNN(2, 3, nonlinearity="relu")
save_file(rnn.state_dict(), "torch_rnn_relu.safetensors")
save_file(rnn.state_dict(), "torch_rnn_relu_config.safetensors",
          metadata={"config": json.dumps({"cell": "rnn_relu"})})
