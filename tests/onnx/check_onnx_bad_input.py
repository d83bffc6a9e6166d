"""Bad ONNX files: each is refused by `lstm convert`, `lstm info` and `lstm forward` with exit
status 1, one line on stderr that names the file and the fault, and no output file.
The good base model is checked first, so that every refusal comes from its one change.
Usage: check_onnx_bad_input.py LSTM_CLI WORK_DIR
"""
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from onnx_check_util import check_refused, fail, run

H, I = 3, 2


def lstm_model(attributes=None, weights=None, op="LSTM", gates=4, extra_nodes=(), drop=(), x_from="X"):
    """One recurrent node with weight initializers; arguments change one thing at a time."""
    rng = np.random.default_rng(0)
    tensors = {"W": rng.standard_normal((1, gates * H, I)), "R": rng.standard_normal((1, gates * H, H)),
               "B": rng.standard_normal((1, 2 * gates * H))}
    tensors.update(weights or {})
    initializers = [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in tensors.items()
                    if k not in drop]
    node = helper.make_node(op, [x_from, "W", "R", "B"], ["Y", "Y_h"], hidden_size=H, **(attributes or {}))
    graph = helper.make_graph(list(extra_nodes) + [node], "g",
                              [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["T", "N", I])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)], initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])


def cases():
    good = lstm_model().SerializeToString()
    yield "truncated", good[: len(good) // 2], "does not parse"
    yield "corrupt", bytes([0xFF] * 64) + good[64:], "does not parse"
    yield "empty", b"", "no graph"
    yield "missing_initializer", lstm_model(drop=("R",)).SerializeToString(), "input R ('R') is not a constant"
    yield "wrong_shape", lstm_model(weights={"R": np.zeros((1, 4 * H, H + 1))}).SerializeToString(), \
        "input R has shape [1, 12, 4], expected [1, 12, 3]"
    yield "wrong_gate_count", lstm_model(weights={"W": np.zeros((1, 3 * H, I))}).SerializeToString(), \
        "input W has shape [1, 9, 2], expected [1, 12, 2]"
    yield "activations", lstm_model({"activations": ["Sigmoid", "Relu", "Tanh"]}).SerializeToString(), \
        "attribute 'activations' = [Sigmoid, Relu, Tanh] is not supported"
    yield "clip", lstm_model({"clip": 3.0}).SerializeToString(), "attribute 'clip' = 3"
    yield "gru_input_forget", lstm_model({"input_forget": 1, "linear_before_reset": 1}, op="GRU", gates=3).SerializeToString(), \
        "unknown attribute 'input_forget'"
    yield "reverse", lstm_model({"direction": "reverse"}).SerializeToString(), "attribute 'direction' = 'reverse'"
    yield "unknown_attribute", lstm_model({"frobnicate": 1}).SerializeToString(), "unknown attribute 'frobnicate'"
    yield "operator", lstm_model(extra_nodes=[helper.make_node("Relu", ["X"], ["X2"])], x_from="X2").SerializeToString(), \
        "operator 'Relu' is not supported"
    no_rnn = helper.make_model(helper.make_graph(
        [helper.make_node("Relu", ["X"], ["Y"])], "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1])]))
    yield "no_recurrent_node", no_rnn.SerializeToString(), "operator 'Relu' is not supported"
    only_plumbing = helper.make_model(helper.make_graph(
        [helper.make_node("Identity", ["X"], ["Y"])], "g",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1])]))
    yield "only_identity", only_plumbing.SerializeToString(), "no LSTM, GRU or RNN node"
    yield "nan_weight", lstm_model(weights={"B": np.full((1, 8 * H), np.nan)}).SerializeToString(), "non-finite"


def main():
    lstm, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    good = os.path.join(work, "good.onnx")
    with open(good, "wb") as f:
        f.write(lstm_model().SerializeToString())
    run([lstm, "convert", good, os.path.join(work, "good.safetensors")])
    x = os.path.join(work, "x.npy")
    np.save(x, np.zeros((4, 1, I), np.float32))
    count = 0
    for name, data, needle in cases():
        path = os.path.join(work, name + ".onnx")
        with open(path, "wb") as f:
            f.write(data)
        out = os.path.join(work, name + ".safetensors")
        line = check_refused([lstm, "convert", path, out], needle, out)
        if path not in line:
            fail(f"{name}: the message does not name the file: {line}")
        y = os.path.join(work, name + "_y.npy")
        check_refused([lstm, "forward", "--model", path, "--input", x, "--output", y], needle, y)
        # info lists a readable file whose tensors are no network as 'network: none (why)'.
        result = subprocess.run([lstm, "info", path], capture_output=True, text=True)
        if name == "nan_weight":
            if result.returncode != 0 or "network:    none" not in result.stdout or needle not in result.stdout:
                fail(f"{name}: lstm info: exit {result.returncode}, {result.stdout!r}")
        elif result.returncode != 1 or needle not in result.stderr:
            fail(f"{name}: lstm info: exit {result.returncode}, {result.stderr!r}")
        count += 1
        print("ok refused:", name, "->", line)
    out = os.path.join(work, "same_kind.onnx")
    check_refused([lstm, "convert", good, out], "give one file of each kind", out)
    out = os.path.join(work, "not_safetensors.txt")
    check_refused([lstm, "convert", good, out], "give one file of each kind", out)
    print(f"{count + 2} passed, 0 failed")


if __name__ == "__main__":
    main()
