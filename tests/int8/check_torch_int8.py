"""Our int8 inference against PyTorch's dynamic quantization of the same weights.

For nn.LSTM and nn.GRU modules (layers, directions), PyTorch's quantize_dynamic with a
per-channel weight config (fbgemm: int8 weights per output row, activations uint8 per tensor)
and `lstm forward --precision int8` both run the same input; each is compared with PyTorch's
fp32 output. Ours must stay within FACTOR times PyTorch's error (both are printed). Our fp32 must
match PyTorch's to float precision. Usage: check_torch_int8.py LSTM_CLI WORK_DIR.
"""
import os
import sys

import numpy as np
import torch
from torch import nn
from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "onnx"))
from onnx_check_util import check_close, fail, run, write_safetensors  # noqa: E402

FACTOR = 1.5  # ours may be at most this much farther from fp32 than PyTorch's int8

GRID = [
    ("lstm_1l", nn.LSTM, dict(input_size=32, hidden_size=64)),
    ("lstm_2l_bi", nn.LSTM, dict(input_size=40, hidden_size=96, num_layers=2, bidirectional=True)),
    ("lstm_wide", nn.LSTM, dict(input_size=256, hidden_size=256)),
    ("gru_2l", nn.GRU, dict(input_size=32, hidden_size=80, num_layers=2)),
    ("gru_bi", nn.GRU, dict(input_size=64, hidden_size=64, bidirectional=True)),
]


class Holder(nn.Module):  # quantize_dynamic replaces children, not the module it is given
    def __init__(self, rnn):
        super().__init__()
        self.rnn = rnn

    def forward(self, x):
        return self.rnn(x)[0]


def main():
    cli, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    torch.manual_seed(0)
    worst_ratio = 0.0
    for name, cls, kwargs in GRID:
        module = Holder(cls(**kwargs)).eval()
        x = torch.randn(30, 4, kwargs["input_size"]) * 1.5
        with torch.no_grad():
            exact = module(x).numpy()
            quantized = quantize_dynamic(module, {cls: per_channel_dynamic_qconfig}, dtype=torch.qint8)
            theirs = quantized(x).numpy()
        model = os.path.join(work, name + ".safetensors")
        write_safetensors(model, {k: v.detach().numpy() for k, v in module.rnn.state_dict().items()})
        x_path = os.path.join(work, name + "_x.npy")
        np.save(x_path, x.numpy())
        outputs = {}
        for precision in ("fp32", "int8"):
            y_path = os.path.join(work, f"{name}_{precision}.npy")
            run([cli, "forward", "--model", model, "--input", x_path, "--output", y_path, "--precision", precision])
            outputs[precision] = np.load(y_path)
        check_close(name + " fp32", outputs["fp32"], exact, 1e-5)
        ours = float(np.abs(outputs["int8"] - exact).max())
        pytorch = float(np.abs(theirs - exact).max())
        ours_mean = float(np.abs(outputs["int8"] - exact).mean())
        pytorch_mean = float(np.abs(theirs - exact).mean())
        print(f"{name}: max |int8 - fp32| ours {ours:.2e}, PyTorch {pytorch:.2e}; "
              f"mean ours {ours_mean:.2e}, PyTorch {pytorch_mean:.2e}")
        if ours == 0.0:
            fail(f"{name}: int8 output equals fp32 exactly; int8 did not run")
        if ours > FACTOR * pytorch or ours_mean > FACTOR * pytorch_mean:
            fail(f"{name}: our int8 error {ours:.3e} (mean {ours_mean:.3e}) exceeds {FACTOR} x PyTorch's "
                 f"{pytorch:.3e} (mean {pytorch_mean:.3e})")
        worst_ratio = max(worst_ratio, ours / pytorch)
    print(f"worst ratio of max errors (ours / PyTorch): {worst_ratio:.2f}")


if __name__ == "__main__":
    main()
