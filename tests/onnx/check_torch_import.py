"""Import of what torch.onnx.export (PyTorch 1.13) writes for nn.LSTM/GRU/RNN.

For each module of torch_models.GRID: export it, `lstm convert` the .onnx to .safetensors (the
tensors must equal the state_dict exactly), and `lstm forward` the .onnx (output and final
states must equal PyTorch's). Also: a module with a Linear head is refused with one clear line.
Usage: check_torch_import.py LSTM_CLI WORK_DIR
"""
import os
import sys
import warnings

import numpy as np
import torch

from onnx_check_util import check_close, check_refused, fail, read_safetensors, run, write_safetensors
import torch_models

warnings.filterwarnings("ignore")


def check_module(lstm, work, spec):
    cell, layers, bidirectional, batch_first, folding, opset = spec
    module = torch_models.make_module(cell, layers, bidirectional, batch_first)
    x = torch_models.random_input(batch_first)
    base = os.path.join(work, torch_models.name(*spec))
    torch_models.export(module, base + ".onnx", x, folding, opset)
    expected = torch_models.reference(module, x)

    run([lstm, "convert", base + ".onnx", base + ".safetensors"])
    tensors, metadata = read_safetensors(base + ".safetensors")
    state = {k: v.numpy() for k, v in module.state_dict().items()}
    if sorted(tensors) != sorted(state):
        fail(f"{base}: imported tensors {sorted(tensors)}, state_dict has {sorted(state)}")
    for key, value in state.items():
        if not np.array_equal(tensors[key], value):
            fail(f"{base}: imported {key} differs from the state_dict")
    if cell == "RNN_RELU" and '"rnn_relu"' not in metadata.get("config", ""):
        fail(f"{base}: the imported config does not say rnn_relu: {metadata}")

    np.save(base + "_x.npy", x.numpy())
    args = [lstm, "forward", "--model", base + ".onnx", "--input", base + "_x.npy",
            "--output", base + "_y.npy", "--state-out", base + "_state.safetensors"]
    run(args + (["--batch-first"] if batch_first else []))
    final, _ = read_safetensors(base + "_state.safetensors")
    check_close(base + " output", np.load(base + "_y.npy"), expected[0])
    check_close(base + " h_n", final["h"], expected[1])
    if cell == "LSTM":
        check_close(base + " c_n", final["c"], expected[2])


def check_sequence_module(lstm, work, spec):
    """Embedding (optional) + network + linear head: imported under PyTorch's module names."""
    cell, layers, bidirectional, vocab, folding, opset = spec
    torch.manual_seed(3)
    module = torch_models.SequenceModule(cell, layers, bidirectional, vocab)
    base = os.path.join(work, f"module_{cell.lower()}_l{layers}{'_bi' if bidirectional else ''}"
                              f"_v{vocab}{'' if folding else '_nofold'}_op{opset}")
    x = torch.randint(0, vocab, (6, 2)) if vocab else torch_models.random_input(False)
    torch.onnx.export(module, (x,), base + ".onnx", opset_version=opset, do_constant_folding=folding,
                      input_names=["input"], output_names=["output"])
    run([lstm, "convert", base + ".onnx", base + ".safetensors"])
    tensors, _ = read_safetensors(base + ".safetensors")
    state = {k: v.numpy() for k, v in module.state_dict().items()}
    if sorted(tensors) != sorted(state):
        fail(f"{base}: imported tensors {sorted(tensors)}, state_dict has {sorted(state)}")
    for key, value in state.items():
        if not np.array_equal(tensors[key], value):
            fail(f"{base}: imported {key} differs from the state_dict")
    # lstm forward runs the recurrent network of the model (its input is the embedded sequence).
    with torch.no_grad():
        embedded = module.embedding(x) if vocab else x
        expected = module.rnn(embedded)[0].numpy()
    np.save(base + "_x.npy", embedded.numpy())
    run([lstm, "forward", "--model", base + ".onnx", "--input", base + "_x.npy", "--output", base + "_y.npy"])
    check_close(base + " network output", np.load(base + "_y.npy"), expected)
    return base


def check_initial_states(lstm, work, cell, opset):
    """A module exported with its initial states as graph inputs (Slice/Squeeze per layer)."""
    module = torch_models.make_module(cell, 2, True, False)
    x = torch_models.random_input(False)
    generator = torch.Generator().manual_seed(5)
    h0 = torch.randn(4, 2, 5, generator=generator)
    c0 = torch.randn(4, 2, 5, generator=generator)
    states = (h0, c0) if cell == "LSTM" else h0
    base = os.path.join(work, f"states_{cell.lower()}_op{opset}")
    names = ["input", "h0", "c0"] if cell == "LSTM" else ["input", "h0"]
    torch.onnx.export(module, (x, states), base + ".onnx", opset_version=opset, input_names=names)
    with torch.no_grad():
        y, final = module(x, states)
    np.save(base + "_x.npy", x.numpy())
    write_safetensors(base + "_h0.safetensors", {"h": h0.numpy(), "c": c0.numpy()} if cell == "LSTM" else {"h": h0.numpy()})
    run([lstm, "forward", "--model", base + ".onnx", "--input", base + "_x.npy", "--output", base + "_y.npy",
         "--state-in", base + "_h0.safetensors", "--state-out", base + "_state.safetensors"])
    check_close(base + " output", np.load(base + "_y.npy"), y.numpy())
    ours, _ = read_safetensors(base + "_state.safetensors")
    check_close(base + " h_n", ours["h"], (final[0] if cell == "LSTM" else final).numpy())
    return base


class LastStepHead(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.LSTM(3, 4)
        self.head = torch.nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.rnn(x)[0][-1])


def check_refusals(lstm, work):
    path = os.path.join(work, "last_step_head.onnx")
    torch.onnx.export(LastStepHead(), (torch_models.random_input(False),), path, opset_version=14)
    out = os.path.join(work, "last_step_head.safetensors")
    check_refused([lstm, "convert", path, out], "is not supported here", out)


def main():
    lstm, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    for spec in torch_models.GRID:
        check_module(lstm, work, spec)
        print("ok", torch_models.name(*spec))
    for spec in torch_models.MODULE_GRID:
        print("ok", check_sequence_module(lstm, work, spec))
    for cell, opset in (("LSTM", 9), ("GRU", 14), ("RNN_TANH", 17)):
        print("ok", check_initial_states(lstm, work, cell, opset))
    check_refusals(lstm, work)
    print("ok refused: a head on the last step only")
    print(f"{len(torch_models.GRID) + len(torch_models.MODULE_GRID) + 3 + 1} passed, 0 failed")


if __name__ == "__main__":
    main()
