"""The ONNX operator tests that Debian's libonnx-testdata installs, run by `lstm forward`.

Each case's model takes its weights as graph inputs; we move W, R, B and P into initializers
(the values from test_data_set_0), import the model, feed X, sequence_lens and the initial
states, and compare with the expected outputs that ONNX's reference implementation wrote.
Usage: check_onnx_testdata.py LSTM_CLI WORK_DIR. Exit 77 (skipped) without the package.
"""
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper

from onnx_check_util import check_close, fail, read_safetensors, run, write_safetensors

DATA = "/usr/share/libonnx-testdata/data/node"
# The GRU cases use ONNX's default linear_before_reset = 0 (the reset gate before the recurrent
# product): lstm's gru_reset_before variant.
CASES = ["test_lstm_defaults", "test_lstm_with_initial_bias", "test_lstm_with_peepholes",
         "test_lstm_batchwise", "test_simple_rnn_defaults", "test_simple_rnn_with_initial_bias",
         "test_simple_rnn_batchwise", "test_rnn_seq_length", "test_gru_defaults",
         "test_gru_with_initial_bias", "test_gru_seq_length", "test_gru_batchwise"]
WEIGHT_INPUTS = {1: "W", 2: "R", 3: "B", 7: "P"}  # node input position -> role


def load_case(case):
    model = onnx.load(os.path.join(DATA, case, "model.onnx"))
    data_dir = os.path.join(DATA, case, "test_data_set_0")
    def tensors(prefix, count):
        out = []
        for k in range(count):
            proto = onnx.TensorProto()
            with open(os.path.join(data_dir, f"{prefix}_{k}.pb"), "rb") as f:
                proto.ParseFromString(f.read())
            out.append(numpy_helper.to_array(proto))
        return out
    inputs = dict(zip([i.name for i in model.graph.input], tensors("input", len(model.graph.input))))
    outputs = dict(zip([o.name for o in model.graph.output], tensors("output", len(model.graph.output))))
    return model, inputs, outputs


def with_weights_inside(model, inputs):
    """The model with its weight inputs turned into initializers."""
    node = model.graph.node[0]
    weights = {node.input[k] for k in WEIGHT_INPUTS if k < len(node.input) and node.input[k]}
    graph_inputs = [i for i in model.graph.input if i.name not in weights]
    del model.graph.input[:]
    model.graph.input.extend(graph_inputs)
    for name in sorted(weights):
        model.graph.initializer.append(numpy_helper.from_array(inputs[name].astype(np.float32), name))
    return model


def check_case(lstm, work, case):
    model, inputs, outputs = load_case(case)
    node = model.graph.node[0]
    attributes = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    batch_first = attributes.get("layout", 0) == 1
    model = with_weights_inside(model, inputs)
    onnx_path = os.path.join(work, case + ".onnx")
    onnx.save(model, onnx_path)
    role = lambda k: node.input[k] if k < len(node.input) and node.input[k] else None

    x = inputs[role(0)].astype(np.float32)  # [T, B, I] or [B, T, I]
    args = [lstm, "forward", "--model", onnx_path, "--input", os.path.join(work, case + "_x.npy"),
            "--output", os.path.join(work, case + "_y.npy"),
            "--state-out", os.path.join(work, case + "_state.safetensors")]
    np.save(args[5], x)
    if batch_first:
        args.append("--batch-first")
    if role(4):
        np.save(os.path.join(work, case + "_lengths.npy"), inputs[role(4)].astype(np.int32))
        args += ["--lengths", os.path.join(work, case + "_lengths.npy")]
    states = {}
    for position, name in ((5, "h"), (6, "c")):
        if role(position) and (position == 5 or node.op_type == "LSTM"):
            value = inputs[role(position)].astype(np.float32)
            states[name] = value.transpose(1, 0, 2) if batch_first else value  # -> [D, B, H]
    if states:
        write_safetensors(os.path.join(work, case + "_h0.safetensors"), states)
        args += ["--state-in", os.path.join(work, case + "_h0.safetensors")]
    run(args)
    y = np.load(args[7])
    final, _ = read_safetensors(args[9])

    names = list(node.output) + [""] * 3
    if names[0] in outputs:  # Y: [T, D, B, H] (layout 0) or [B, T, D, H] (layout 1)
        expected = outputs[names[0]]
        expected = expected.reshape(*expected.shape[:2], -1) if batch_first else \
            expected.transpose(0, 2, 1, 3).reshape(expected.shape[0], expected.shape[2], -1)
        check_close(case + " Y", y, expected)
    if names[1] in outputs:  # Y_h: [D, B, H] (layout 0) or [B, D, H] (layout 1)
        expected = outputs[names[1]]
        check_close(case + " Y_h", final["h"], expected.transpose(1, 0, 2) if batch_first else expected)
    if names[2] in outputs:
        expected = outputs[names[2]]
        check_close(case + " Y_c", final["c"], expected.transpose(1, 0, 2) if batch_first else expected)
    # The imported weights as a model file: convert gives the same forward.
    converted = os.path.join(work, case + ".safetensors")
    run([lstm, "convert", onnx_path, converted])
    args[3] = converted
    args[7] = os.path.join(work, case + "_y2.npy")
    run(args)
    if not np.array_equal(np.load(args[7]), y):
        fail(case + ": forward of the converted .safetensors differs from forward of the .onnx")


def main():
    lstm, work = sys.argv[1], sys.argv[2]
    if not os.path.isdir(DATA):
        print(f"SKIPPED: {DATA} is absent (install libonnx-testdata)")
        sys.exit(77)
    os.makedirs(work, exist_ok=True)
    for case in CASES:
        check_case(lstm, work, case)
        print("ok", case)
    print(f"{len(CASES)} passed, 0 failed")


if __name__ == "__main__":
    main()
