"""ONNX's GRU with linear_before_reset=0 and LSTM with input_forget=1, in and out of lstm.

Hand-built single-node models (random weights, bidirectional, sequence_lens, initial states,
peepholes for the LSTM) are run by `lstm forward` and compared with a NumPy implementation of
ONNX's equations written here from the operator's documentation:

  GRU, linear_before_reset = 0 (gate blocks z, r, h):
    z = σ(x Wzᵀ + h Rzᵀ + Wbz + Rbz)   r = σ(x Wrᵀ + h Rrᵀ + Wbr + Rbr)
    n = tanh(x Whᵀ + (r ⊙ h) Rhᵀ + Rbh + Wbh)   h' = (1 − z) ⊙ n + z ⊙ h
  LSTM, input_forget = 1 (gate blocks i, o, f, c; peepholes i, o, f), as onnxruntime computes
  it (the ONNX documentation does not spell it out; onnxruntime couples f = 1 − i and ignores
  the f block's weights, which are random here to show that they do not matter):
    i = σ(x Wiᵀ + h Riᵀ + Wbi + Rbi + Pi ⊙ c)   f = 1 − i   g = tanh(x Wcᵀ + h Rcᵀ + Wbc + Rbc)
    c' = f ⊙ c + i ⊙ g   o = σ(x Woᵀ + h Roᵀ + Wbo + Rbo + Po ⊙ c')   h' = o ⊙ tanh(c')

Where onnxruntime-node is installed, the same models also run in onnxruntime against the NumPy
reference (so that the reference is onnxruntime's reading of the operator), and lstm's exports of
the imported models (`convert M.safetensors M.onnx --sequence-lens --initial-states`) run in
onnxruntime against `lstm forward`; the round trips are bit-identical.
Usage: check_onnx_variants.py LSTM_CLI WORK_DIR
"""
import filecmp
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from onnx_check_util import check_close, fail, read_safetensors, run, write_safetensors

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_MODULES = os.environ.get("LSTM_NPM_MODULES", "/opt/lstm-npm/node_modules")
T, B, I, H, D = 5, 3, 4, 6, 2
LENGTHS = np.array([5, 2, 4], dtype=np.int32)


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def gru_step(x, h, W, R, Wb, Rb):
    """ONNX GRU, linear_before_reset = 0. W [3H, I], R [3H, H] in blocks z, r, h."""
    Wz, Wr, Wh = np.split(W, 3)
    Rz, Rr, Rh = np.split(R, 3)
    Wbz, Wbr, Wbh = np.split(Wb, 3)
    Rbz, Rbr, Rbh = np.split(Rb, 3)
    z = sigmoid(x @ Wz.T + h @ Rz.T + Wbz + Rbz)
    r = sigmoid(x @ Wr.T + h @ Rr.T + Wbr + Rbr)
    n = np.tanh(x @ Wh.T + (r * h) @ Rh.T + Rbh + Wbh)
    return (1 - z) * n + z * h, None


def lstm_step(x, h, c, W, R, Wb, Rb, P):
    """LSTM with input_forget = 1 as onnxruntime computes it. Blocks i, o, f, c; P i, o, f."""
    a_i, a_o, _, a_c = np.split(x @ W.T + h @ R.T + Wb + Rb, 4)
    p_i, p_o, _ = np.split(P, 3)
    i = sigmoid(a_i + p_i * c)
    f = 1.0 - i
    c_new = f * c + i * np.tanh(a_c)
    o = sigmoid(a_o + p_o * c_new)
    return o * np.tanh(c_new), c_new


def reference(op, x, weights, h0, c0):
    """Y [T, B, D*H] (0 past each length), Y_h and Y_c [D, B, H], in float64."""
    y = np.zeros((T, B, D * H))
    h_n, c_n = np.zeros((D, B, H)), np.zeros((D, B, H))
    for d in range(D):
        W, R = weights["W"][d], weights["R"][d]
        Wb, Rb = np.split(weights["B"][d], 2)
        for b in range(B):
            h, c = h0[d, b].copy(), c0[d, b].copy()
            steps = range(LENGTHS[b]) if d == 0 else reversed(range(LENGTHS[b]))
            for t in steps:
                if op == "GRU":
                    h, _ = gru_step(x[t, b], h, W, R, Wb, Rb)
                else:
                    h, c = lstm_step(x[t, b], h, c, W, R, Wb, Rb, weights["P"][d])
                y[t, b, d * H:(d + 1) * H] = h
            h_n[d, b], c_n[d, b] = h, c
    return y, h_n, c_n


def make_model(op, weights, attributes):
    """One bidirectional node; weights as initializers; X, sequence_lens, initial states as inputs."""
    initializers = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in weights.items()]
    inputs = ["X", "W", "R", "B", "sequence_lens", "initial_h"]
    graph_inputs = [helper.make_tensor_value_info("X", TensorProto.FLOAT, [T, B, I]),
                    helper.make_tensor_value_info("sequence_lens", TensorProto.INT32, [B]),
                    helper.make_tensor_value_info("initial_h", TensorProto.FLOAT, [D, B, H])]
    outputs = ["Y", "Y_h"]
    if op == "LSTM":
        inputs += ["initial_c", "P"]
        graph_inputs.append(helper.make_tensor_value_info("initial_c", TensorProto.FLOAT, [D, B, H]))
        outputs.append("Y_c")
    node = helper.make_node(op, inputs, outputs, hidden_size=H, direction="bidirectional", **attributes)
    graph = helper.make_graph([node], "variant", graph_inputs,
                              [helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in outputs],
                              initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 14)])


def onnxruntime(model, out_dir, feeds):
    env = dict(os.environ, NODE_PATH=NODE_MODULES)
    args = ["node", os.path.join(HERE, "run_onnxruntime.js"), model, out_dir] + \
           [f"{name}={path}" for name, path in feeds.items()]
    result = subprocess.run(args, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        fail(f"onnxruntime failed on {model}: {result.stderr}")
    return {name[:-4]: np.load(os.path.join(out_dir, name)) for name in os.listdir(out_dir)
            if name.endswith(".npy") and name[:-4] in ("Y", "Y_h", "Y_c", "output", "h_n", "c_n")}


def check_variant(lstm, work, name, op, attributes, has_ort):
    base = os.path.join(work, name)
    os.makedirs(base, exist_ok=True)
    rng = np.random.default_rng(17)
    gates = 4 if op == "LSTM" else 3
    weights = {"W": rng.uniform(-0.8, 0.8, (D, gates * H, I)), "R": rng.uniform(-0.8, 0.8, (D, gates * H, H)),
               "B": rng.uniform(-0.5, 0.5, (D, 2 * gates * H))}
    if op == "LSTM":
        weights["P"] = rng.uniform(-0.8, 0.8, (D, 3 * H))
    weights = {k: v.astype(np.float32).astype(np.float64) for k, v in weights.items()}
    x = rng.standard_normal((T, B, I)).astype(np.float32)
    h0 = rng.standard_normal((D, B, H)).astype(np.float32)
    c0 = rng.standard_normal((D, B, H)).astype(np.float32)
    y, h_n, c_n = reference(op, x.astype(np.float64), weights, h0.astype(np.float64), c0.astype(np.float64))

    model = os.path.join(base, "hand.onnx")
    onnx.save(make_model(op, weights, attributes), model)
    paths = {k: os.path.join(base, k + ".npy") for k in ("X", "sequence_lens", "initial_h", "initial_c")}
    np.save(paths["X"], x)
    np.save(paths["sequence_lens"], LENGTHS)
    np.save(paths["initial_h"], h0)
    np.save(paths["initial_c"], c0)
    states = os.path.join(base, "states.safetensors")
    write_safetensors(states, {"h": h0, "c": c0} if op == "LSTM" else {"h": h0})

    def forward(model_path, tag):
        out, state_out = os.path.join(base, tag + "_y.npy"), os.path.join(base, tag + "_state.safetensors")
        run([lstm, "forward", "--model", model_path, "--input", paths["X"], "--output", out,
             "--lengths", paths["sequence_lens"], "--state-in", states, "--state-out", state_out])
        final, _ = read_safetensors(state_out)
        return np.load(out), final

    ours, final = forward(model, "ours")
    check_close(name + " Y (lstm forward vs NumPy)", ours, y)
    check_close(name + " Y_h (lstm forward vs NumPy)", final["h"], h_n)
    if op == "LSTM":
        check_close(name + " Y_c (lstm forward vs NumPy)", final["c"], c_n)

    converted = os.path.join(base, "imported.safetensors")
    run([lstm, "convert", model, converted])
    again, _ = forward(converted, "converted")
    if not np.array_equal(again, ours):
        fail(name + ": forward of the converted .safetensors differs from forward of the .onnx")
    exported = os.path.join(base, "exported.onnx")
    run([lstm, "convert", converted, exported, "--sequence-lens", "--initial-states"])
    back = os.path.join(base, "back.safetensors")
    run([lstm, "convert", exported, back])
    if not filecmp.cmp(converted, back, shallow=False):
        fail(name + ": the round trip .safetensors -> .onnx -> .safetensors is not bit-identical")
    if not has_ort:
        return "(onnxruntime-node missing: the onnxruntime checks skipped)"

    feeds = {k: v for k, v in paths.items() if k != "initial_c" or op == "LSTM"}
    theirs = onnxruntime(model, base, feeds)  # Y [T, D, B, H]
    check_close(name + " Y (onnxruntime vs NumPy)", theirs["Y"].transpose(0, 2, 1, 3).reshape(T, B, D * H), y)
    check_close(name + " Y_h (onnxruntime vs NumPy)", theirs["Y_h"], h_n)
    if op == "LSTM":
        check_close(name + " Y_c (onnxruntime vs NumPy)", theirs["Y_c"], c_n)
    export_dir = os.path.join(base, "export_run")
    os.makedirs(export_dir, exist_ok=True)
    feeds = {"input": paths["X"], "sequence_lens": paths["sequence_lens"], "h0": paths["initial_h"]}
    if op == "LSTM":
        feeds["c0"] = paths["initial_c"]
    theirs = onnxruntime(exported, export_dir, feeds)
    check_close(name + " export: output (onnxruntime vs lstm forward)", theirs["output"], ours)
    check_close(name + " export: h_n (onnxruntime vs lstm forward)", theirs["h_n"], final["h"])
    if op == "LSTM":
        check_close(name + " export: c_n (onnxruntime vs lstm forward)", theirs["c_n"], final["c"])
    return "(and in onnxruntime: the model, and lstm's export)"


def main():
    lstm, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    has_ort = shutil.which("node") is not None and os.path.isdir(os.path.join(NODE_MODULES, "onnxruntime-node"))
    count = 0
    for name, op, attributes in (("gru_linear_before_reset_0", "GRU", {"linear_before_reset": 0}),
                                 ("gru_default_attributes", "GRU", {}),
                                 ("lstm_input_forget_peepholes", "LSTM", {"input_forget": 1})):
        print("ok", name, check_variant(lstm, work, name, op, attributes, has_ort))
        count += 1
    print(f"{count} passed, 0 failed")


if __name__ == "__main__":
    main()
