"""Our ONNX exports run in an independent runtime (onnxruntime-node) and give our outputs.

For each module of torch_models.GRID (imported from torch's export into a model file written by
lstm) and for peephole and bias-free models: `lstm convert M.safetensors M.onnx
--sequence-lens --initial-states`, run it in onnxruntime with random X, lengths and initial
states, and compare with `lstm forward`; the plain export (input only) must also match PyTorch.
The round trip .safetensors -> .onnx -> .safetensors must be bit-identical, and a projection
LSTM is refused. Usage: check_onnx_export.py LSTM_CLI WORK_DIR. Exit 77 (skipped) if node or
onnxruntime-node is missing (scripts/setup.sh installs them).
"""
import filecmp
import json
import os
import shutil
import subprocess
import sys
import warnings

import numpy as np

from onnx_check_util import check_close, check_refused, fail, read_safetensors, run, run_output, write_safetensors

warnings.filterwarnings("ignore")
HERE = os.path.dirname(os.path.abspath(__file__))
NODE_MODULES = os.environ.get("LSTM_NPM_MODULES", "/opt/lstm-npm/node_modules")


def onnxruntime(model, out_dir, feeds):
    env = dict(os.environ, NODE_PATH=NODE_MODULES)
    args = ["node", os.path.join(HERE, "run_onnxruntime.js"), model, out_dir] + \
           [f"{name}={path}" for name, path in feeds.items()]
    result = subprocess.run(args, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        fail(f"onnxruntime failed on {model}: {result.stderr}")
    return {name: np.load(os.path.join(out_dir, name + ".npy")) for name in ("output", "h_n", "c_n")
            if os.path.exists(os.path.join(out_dir, name + ".npy"))}


def check_model(lstm, base, model_file, opset, config, is_lstm, torch_reference=None):
    """Exports model_file; runs onnxruntime and lstm forward on the same inputs."""
    layers, directions, hidden, input_size = config
    rng = np.random.default_rng(7)
    steps, batch = 6, 3
    os.makedirs(base, exist_ok=True)
    x = rng.standard_normal((steps, batch, input_size)).astype(np.float32)
    lengths = np.array([steps, 2, 4], dtype=np.int32)
    h0 = rng.standard_normal((layers * directions, batch, hidden)).astype(np.float32)
    c0 = rng.standard_normal((layers * directions, batch, hidden)).astype(np.float32)
    paths = {name: os.path.join(base, name + ".npy") for name in ("input", "sequence_lens", "h0", "c0")}
    np.save(paths["input"], x)
    np.save(paths["sequence_lens"], lengths)
    np.save(paths["h0"], h0)
    np.save(paths["c0"], c0)
    states = {"h": h0, "c": c0} if is_lstm else {"h": h0}
    write_safetensors(os.path.join(base, "states.safetensors"), states)

    onnx_path = os.path.join(base, "full.onnx")
    run([lstm, "convert", model_file, onnx_path, "--opset", opset, "--sequence-lens", "--initial-states"])
    feeds = {k: v for k, v in paths.items() if k != "c0" or is_lstm}
    theirs = onnxruntime(onnx_path, base, feeds)
    run([lstm, "forward", "--model", model_file, "--input", paths["input"], "--output",
         os.path.join(base, "ours.npy"), "--lengths", paths["sequence_lens"], "--state-in",
         os.path.join(base, "states.safetensors"), "--state-out", os.path.join(base, "ours_state.safetensors")])
    ours, _ = read_safetensors(os.path.join(base, "ours_state.safetensors"))
    check_close(base + " output (onnxruntime vs lstm forward)", theirs["output"], np.load(os.path.join(base, "ours.npy")))
    check_close(base + " h_n (onnxruntime vs lstm forward)", theirs["h_n"], ours["h"])
    if is_lstm:
        check_close(base + " c_n (onnxruntime vs lstm forward)", theirs["c_n"], ours["c"])

    # The export with lengths and states imports back to the same tensors.
    run([lstm, "convert", onnx_path, os.path.join(base, "full_back.safetensors")])
    original, _ = read_safetensors(model_file)
    again, _ = read_safetensors(os.path.join(base, "full_back.safetensors"))
    if sorted(original) != sorted(again) or any(not np.array_equal(original[k], again[k]) for k in original):
        fail(f"{base}: importing the export with sequence_lens and initial states changed the tensors")

    # The plain export (input only) against PyTorch, and the round trip back to safetensors.
    plain = os.path.join(base, "plain.onnx")
    run([lstm, "convert", model_file, plain, "--opset", opset])
    if torch_reference is not None:
        plain_out = os.path.join(base, "plain_out")
        os.makedirs(plain_out, exist_ok=True)
        theirs = onnxruntime(plain, plain_out, {"input": torch_reference["x_path"]})
        for name in ("output", "h_n", "c_n"):
            if name in torch_reference:
                check_close(f"{base} {name} (onnxruntime vs PyTorch)", theirs[name], torch_reference[name])
    back = os.path.join(base, "back.safetensors")
    run([lstm, "convert", plain, back])
    original, original_meta = read_safetensors(model_file)
    again, _ = read_safetensors(back)
    if sorted(original) != sorted(again) or any(not np.array_equal(original[k], again[k]) for k in original):
        fail(f"{base}: the round trip .safetensors -> .onnx -> .safetensors changed the tensors")
    # A file lstm wrote (with its config metadata) comes back byte for byte.
    if "config" in original_meta and not filecmp.cmp(model_file, back, shallow=False):
        fail(f"{base}: the round trip is not bit-identical")


def random_model(path, cell_gates, layers, bidirectional, hidden, input_size, peephole, bias, proj=0):
    """A model file with PyTorch's names and random weights (ours: peepholes, projection)."""
    rng = np.random.default_rng(11)
    tensors = {}
    out = proj or hidden
    for k in range(layers):
        for suffix in ("", "_reverse") if bidirectional else ("",):
            width = input_size if k == 0 else out * (2 if bidirectional else 1)
            tensors[f"weight_ih_l{k}{suffix}"] = rng.uniform(-0.5, 0.5, (cell_gates * hidden, width))
            tensors[f"weight_hh_l{k}{suffix}"] = rng.uniform(-0.5, 0.5, (cell_gates * hidden, out))
            if bias:
                tensors[f"bias_ih_l{k}{suffix}"] = rng.uniform(-0.5, 0.5, (cell_gates * hidden,))
                tensors[f"bias_hh_l{k}{suffix}"] = rng.uniform(-0.5, 0.5, (cell_gates * hidden,))
            if proj:
                tensors[f"weight_hr_l{k}{suffix}"] = rng.uniform(-0.5, 0.5, (proj, hidden))
            if peephole:
                tensors[f"weight_peephole_l{k}{suffix}"] = rng.uniform(-0.5, 0.5, (3 * hidden,))
    write_safetensors(path, tensors)


def trained_model(path, cell, gates, layers, bidirectional, vocab, outputs, last_step):
    """A trained model file as lstm writes them: embedding.weight (if vocab), rnn.*, head.*."""
    rng = np.random.default_rng(5)
    hidden, width = 4, 3
    directions = 2 if bidirectional else 1
    random_model(path, gates, layers, bidirectional, hidden, width, peephole=False, bias=True)
    tensors, _ = read_safetensors(path)
    tensors = {"rnn." + k: v for k, v in tensors.items()}
    if vocab:
        tensors["embedding.weight"] = rng.uniform(-1, 1, (vocab, width))
    tensors["head.weight"] = rng.uniform(-1, 1, (outputs, directions * hidden))
    tensors["head.bias"] = rng.uniform(-1, 1, (outputs,))
    metadata = {"config": json.dumps({"cell": cell}),
                "sequence_model": json.dumps({"head_mode": "last_step" if last_step else "every_step"}),
                "normalisation": json.dumps({"mean": [0.5], "std": [2.0]})}
    write_safetensors(path, tensors, metadata)
    return tensors


def check_trained(lstm, work, name, cell, gates, layers, bidirectional, vocab, outputs, last_step):
    """Export with head (and embedding); onnxruntime against numpy's head over lstm forward."""
    base = os.path.join(work, name)
    os.makedirs(base, exist_ok=True)
    tensors = trained_model(base + ".safetensors", cell, gates, layers, bidirectional, vocab, outputs, last_step)
    run([lstm, "convert", base + ".safetensors", base + ".onnx"])
    rng = np.random.default_rng(9)
    steps, batch = 5, 3
    feeds = {}
    if vocab:
        tokens = rng.integers(0, vocab, (steps, batch)).astype(np.int64)
        np.save(os.path.join(base, "tokens.npy"), tokens)
        feeds["tokens"] = os.path.join(base, "tokens.npy")
        x = np.asarray(tensors["embedding.weight"], np.float32)[tokens]
    else:
        x = rng.standard_normal((steps, batch, 3)).astype(np.float32)
        feeds["input"] = os.path.join(base, "x.npy")
    np.save(os.path.join(base, "x.npy"), x)
    theirs = onnxruntime(base + ".onnx", base, feeds)
    run([lstm, "forward", "--model", base + ".safetensors", "--input", os.path.join(base, "x.npy"),
         "--output", os.path.join(base, "rnn.npy"), "--state-out", os.path.join(base, "state.safetensors")])
    features = np.load(os.path.join(base, "rnn.npy"))  # [T, B, D*H]
    if last_step:  # the last layer's final h: [forward | reverse] -> [B, D*H]
        h_n, _ = read_safetensors(os.path.join(base, "state.safetensors"))
        directions = 2 if bidirectional else 1
        features = np.concatenate(list(h_n["h"][-directions:]), axis=-1)
    weight = np.asarray(tensors["head.weight"], np.float32)
    expected = features @ weight.T + np.asarray(tensors["head.bias"], np.float32)
    check_close(name + " head output (onnxruntime vs numpy over lstm forward)", theirs["output"], expected)
    # Import, and a second round trip from the file lstm wrote: bit-identical.
    run([lstm, "convert", base + ".onnx", base + "_back.safetensors"])
    again, metadata = read_safetensors(base + "_back.safetensors")
    for key, value in tensors.items():
        if not np.array_equal(again[key], np.asarray(value, np.float32)):
            fail(f"{name}: {key} changed in the round trip")
    if json.loads(metadata["normalisation"]) != {"mean": [0.5], "std": [2.0]}:
        fail(f"{name}: the metadata did not survive the round trip: {metadata}")
    run([lstm, "convert", base + "_back.safetensors", base + "_again.onnx"])
    run([lstm, "convert", base + "_again.onnx", base + "_again.safetensors"])
    if not filecmp.cmp(base + "_back.safetensors", base + "_again.safetensors", shallow=False):
        fail(f"{name}: the round trip of a file lstm wrote is not bit-identical")


def check_trained_by_lstm(lstm, work):
    """Models that `lstm train` wrote: forecast and generate give the same from the .onnx, and
    the round trip is bit-identical."""
    data = os.path.join(HERE, "..", "..", "data")
    # The last 300 weeks of the CO2 series: on all 2284, the classical methods' seasonal search
    # (m = 52) takes most of this test's time, and it is not what the test checks.
    with open(os.path.join(data, "co2.csv")) as full:
        rows = full.read().splitlines()
    series = os.path.join(work, "co2_last_300.csv")
    with open(series, "w") as short:
        short.write("\n".join([rows[0]] + rows[-300:]) + "\n")
    forecaster, lm = os.path.join(work, "forecaster.safetensors"), os.path.join(work, "charlm.safetensors")
    run([lstm, "train", "--task", "forecast", "--data", series, "--target", "co2",
         "--out", forecaster, "--epochs", "1", "--hidden", "8", "--layers", "2", "--threads", "1"])
    run([lstm, "train", "--task", "charlm", "--data", os.path.join(data, "kjv_genesis.txt"), "--out", lm,
         "--time-limit", "1", "--hidden", "16", "--threads", "1"])
    for model in (forecaster, lm):
        exported = model[:-len(".safetensors")] + ".onnx"
        run([lstm, "convert", model, exported])
        run([lstm, "convert", exported, model[:-len(".safetensors")] + "_back.safetensors"])
        if not filecmp.cmp(model, model[:-len(".safetensors")] + "_back.safetensors", shallow=False):
            fail(f"{model}: the round trip through {exported} is not bit-identical")
    outputs = []
    for model in (forecaster, forecaster[:-len(".safetensors")] + ".onnx"):
        out = model + ".csv"
        # --model-choice lstm: the network's forecast, which is what the export must reproduce
        # (the default may write a classical method's).
        run([lstm, "forecast", "--model", model, "--data", series, "--steps", "4", "--model-choice", "lstm",
             "--output", out])
        outputs.append(open(out).read())
    if outputs[0] != outputs[1]:
        fail("lstm forecast gives different forecasts from the .onnx export")
    texts = [run_output([lstm, "generate", "--model", model, "--prompt", "In the", "--length", "30", "--seed", "3"])
             for model in (lm, lm[:-len(".safetensors")] + ".onnx")]
    if texts[0] != texts[1]:
        fail("lstm generate gives different text from the .onnx export")


def main():
    lstm, work = sys.argv[1], sys.argv[2]
    if shutil.which("node") is None or not os.path.isdir(os.path.join(NODE_MODULES, "onnxruntime-node")):
        print(f"SKIPPED: node or {NODE_MODULES}/onnxruntime-node is missing (run scripts/setup.sh)")
        sys.exit(77)
    import torch  # after the skip check: slow to import
    import torch_models
    os.makedirs(work, exist_ok=True)
    count = 0
    for spec in torch_models.GRID:
        cell, layers, bidirectional, batch_first, folding, opset = spec
        name = torch_models.name(*spec)
        base = os.path.join(work, name)
        module = torch_models.make_module(cell, layers, bidirectional, False)
        x = torch_models.random_input(False)
        torch_models.export(module, base + "_torch.onnx", x, True, 14)
        run([lstm, "convert", base + "_torch.onnx", base + ".safetensors"])  # written by lstm
        y = torch_models.reference(module, x)
        os.makedirs(base, exist_ok=True)
        np.save(os.path.join(base, "torch_x.npy"), x.numpy())
        reference = {"x_path": os.path.join(base, "torch_x.npy"), "output": y[0], "h_n": y[1]}
        if cell == "LSTM":
            reference["c_n"] = y[2]
        check_model(lstm, base, base + ".safetensors", opset,
                    (layers, 2 if bidirectional else 1, 5, 3), cell == "LSTM", reference)
        count += 1
        print("ok", name)
    for name, layers, bidirectional, bias in (("peephole_l1", 1, False, True),
                                              ("peephole_l2_bi", 2, True, True),
                                              ("peephole_nobias", 1, False, False)):
        path = os.path.join(work, name + ".safetensors")
        random_model(path, 4, layers, bidirectional, 4, 3, peephole=True, bias=bias)
        check_model(lstm, os.path.join(work, name), path, 14,
                    (layers, 2 if bidirectional else 1, 4, 3), True)
        count += 1
        print("ok", name)
    for spec in (("forecaster_lstm_last_step", "lstm", 4, 1, False, 0, 1, True),
                 ("forecaster_rnn_bi_every_step", "rnn_relu", 1, 2, True, 0, 2, False),
                 ("charlm_gru_l2_bi", "gru", 3, 2, True, 6, 6, False),
                 ("charlm_lstm_last_step", "lstm", 4, 1, False, 5, 5, True)):
        check_trained(lstm, work, *spec)
        count += 1
        print("ok", spec[0])
    check_trained_by_lstm(lstm, work)
    count += 1
    print("ok trained by lstm train: forecast and generate from the export, round trips")
    projection = os.path.join(work, "projection.safetensors")
    random_model(projection, 4, 1, False, 4, 3, peephole=False, bias=True, proj=2)
    check_refused([lstm, "convert", projection, os.path.join(work, "projection.onnx")], "projection",
                  os.path.join(work, "projection.onnx"))
    print("ok refused: projection")
    print(f"{count + 1} passed, 0 failed")


if __name__ == "__main__":
    main()
