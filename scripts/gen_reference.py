#!/usr/bin/python3
"""Generates tests/data/reference/<case>/: PyTorch's float32 outputs and gradients for lstm's parity tests.

Run with Debian's Python, which has PyTorch:  /usr/bin/python3 scripts/gen_reference.py
Deterministic: every case has its own fixed seed, so re-running rewrites identical files.

Per case directory:
  model.safetensors     the module's state_dict (plus weight_peephole_l{k}{s} [3H] for peephole;
                        weight_ln_ih/weight_ln_hh [4H], weight_ln_c/bias_ln_c [H] for layer norm;
                        __metadata__ {"config": "{\"cell\":\"rnn_relu\"}"} for rnn_relu)
  input.npy             [T, B, I] float32
  lengths.npy           [B] int32 or int64 (absent when every sequence has T steps)
  state_in.safetensors  h [L*D, B, Hout], c [L*D, B, H] (LSTM) (absent when initial states are zero)
  grad_output.npy       [T, B, D*Hout] float32
  expected.safetensors  output, h_n, c_n (LSTM);
                        grad.<param>, grad.input, grad.h0, grad.c0 for the loss sum(Y * dY);
                        grad_h_n, grad_c_n and grad_full.<...> for sum(Y * dY) + sum(h_n * dh_n) + sum(c_n * dc_n)
"""

import json
import os
import shutil
import struct
import sys
import zlib

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "tests", "data", "reference")


# ---------------------------------------------------------------------------------------------
# File writers (safetensors as safetensors.torch.save_file writes it; .npy via numpy)

def write_safetensors(path, tensors, metadata=None):
    """tensors: dict name -> torch.Tensor (stored as F32), laid out in name order."""
    header = {}
    if metadata:
        header["__metadata__"] = metadata
    blobs = []
    offset = 0
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name].detach().cpu().numpy().astype("<f4"))
        blob = array.tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def write_npy(path, array):
    np.save(path, np.ascontiguousarray(array))


# ---------------------------------------------------------------------------------------------
# Peephole and layer-normalised LSTMs as explicit loops of torch ops; autograd supplies the gradients.

def suffix(layer, direction):
    return f"{layer}{'_reverse' if direction else ''}"


def run_lstm(params, x, lengths, h0, c0, num_layers, bidirectional, make_step):
    """The loop over layers, directions and steps that the explicit LSTMs share.

    params: dict name -> tensor; x [T,B,I]; lengths [B] int64 tensor; h0 [L*D,B,Hout]; c0 [L*D,B,H].
    make_step(s) takes the parameter suffix s of one layer and direction ("0", "1_reverse", ...)
    and returns step(x_t, h, c) -> (o⊙tanh(·) [B,H], c_new [B,H]); the projection weight_hr, if
    any, is applied here. Returns output [T,B,D*Hout], h_n, c_n. Steps t >= lengths[b] give
    output 0 and keep the state.
    """
    seq_len = x.shape[0]
    directions = 2 if bidirectional else 1
    layer_input = x
    h_finals, c_finals = [], []
    for layer in range(num_layers):
        outputs = []
        for direction in range(directions):
            s = suffix(layer, direction)
            step = make_step(s)
            w_hr = params.get(f"weight_hr_l{s}")
            row = layer * directions + direction
            h, c = h0[row], c0[row]
            steps = range(seq_len - 1, -1, -1) if direction else range(seq_len)
            out = [None] * seq_len
            for t in steps:
                h_new, c_new = step(layer_input[t], h, c)
                if w_hr is not None:
                    h_new = h_new @ w_hr.t()
                valid = (t < lengths).unsqueeze(1)
                h = torch.where(valid, h_new, h)
                c = torch.where(valid, c_new, c)
                out[t] = torch.where(valid, h_new, torch.zeros_like(h_new))
            outputs.append(torch.stack(out))
            h_finals.append(h)
            c_finals.append(c)
        layer_input = torch.cat(outputs, dim=2)
    return layer_input, torch.stack(h_finals), torch.stack(c_finals)


def peephole_lstm(params, x, lengths, h0, c0, num_layers, bidirectional, hidden, proj):
    """The peephole LSTM (SPEC §2); arguments and results as run_lstm's."""
    def make_step(s):
        w_ih, w_hh = params[f"weight_ih_l{s}"], params[f"weight_hh_l{s}"]
        b = params.get(f"bias_ih_l{s}")
        b_sum = None if b is None else b + params[f"bias_hh_l{s}"]
        p_i, p_f, p_o = params[f"weight_peephole_l{s}"].split(hidden)

        def step(x_t, h, c):
            a = x_t @ w_ih.t() + h @ w_hh.t()
            if b_sum is not None:
                a = a + b_sum
            a_i, a_f, a_g, a_o = a.split(hidden, dim=1)
            i = torch.sigmoid(a_i + p_i * c)
            f = torch.sigmoid(a_f + p_f * c)
            g = torch.tanh(a_g)
            c_new = f * c + i * g
            o = torch.sigmoid(a_o + p_o * c_new)
            return o * torch.tanh(c_new), c_new
        return step
    return run_lstm(params, x, lengths, h0, c0, num_layers, bidirectional, make_step)


def layer_norm_lstm(params, x, lengths, h0, c0, num_layers, bidirectional, hidden, proj):
    """The layer-normalised LSTM (README "Layer-normalised LSTM"), arguments and results as run_lstm's:
    a = LN(x W_ihᵀ; γ_ih, b_ih) + LN(h W_hhᵀ; γ_hh, b_hh), c = f c + i g, h = o tanh(LN(c; γ_c, β_c))."""
    layer_norm = torch.nn.functional.layer_norm

    def make_step(s):
        w_ih, w_hh = params[f"weight_ih_l{s}"], params[f"weight_hh_l{s}"]
        b_ih, b_hh = params.get(f"bias_ih_l{s}"), params.get(f"bias_hh_l{s}")
        gain_ih, gain_hh = params[f"weight_ln_ih_l{s}"], params[f"weight_ln_hh_l{s}"]
        gain_c, bias_c = params[f"weight_ln_c_l{s}"], params[f"bias_ln_c_l{s}"]

        def step(x_t, h, c):
            a = layer_norm(x_t @ w_ih.t(), (4 * hidden,), gain_ih, b_ih, eps=1e-5) + \
                layer_norm(h @ w_hh.t(), (4 * hidden,), gain_hh, b_hh, eps=1e-5)
            a_i, a_f, a_g, a_o = a.split(hidden, dim=1)
            i, f, g, o = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.tanh(a_g), torch.sigmoid(a_o)
            c_new = f * c + i * g
            return o * torch.tanh(layer_norm(c_new, (hidden,), gain_c, bias_c, eps=1e-5)), c_new
        return step
    return run_lstm(params, x, lengths, h0, c0, num_layers, bidirectional, make_step)


# ---------------------------------------------------------------------------------------------
# The cases

def case(name, cell, I=4, H=5, T=6, B=3, layers=1, bi=False, lengths=None, states=False,
         bias=True, proj=0, peephole=False, layer_norm=False, lengths_dtype=np.int64):
    return dict(name=name, cell=cell, I=I, H=H, T=T, B=B, layers=layers, bi=bi, lengths=lengths,
                states=states, bias=bias, proj=proj, peephole=peephole, layer_norm=layer_norm,
                lengths_dtype=lengths_dtype)


def build_cases():
    cases = []
    # Per cell: every option appears, and all of them together (2 layers + bi + lengths + states).
    shapes = {"lstm": (4, 5), "gru": (3, 6), "rnn_tanh": (5, 4), "rnn_relu": (4, 6)}
    for cell, (I, H) in shapes.items():
        cases += [
            case(f"{cell}_l1_uni", cell, I=I, H=H, T=5),
            case(f"{cell}_l1_uni_len_state", cell, I=I, H=H, T=6, lengths=[6, 1, 4], states=True,
                 lengths_dtype=np.int32),
            case(f"{cell}_l1_bi", cell, I=I, H=H, T=5, bi=True),
            case(f"{cell}_l1_bi_len", cell, I=I, H=H, T=7, bi=True, lengths=[3, 7, 1]),
            case(f"{cell}_l2_uni_state", cell, I=I, H=H, T=5, layers=2, states=True),
            case(f"{cell}_l2_uni_len", cell, I=I, H=H, T=6, layers=2, lengths=[1, 5, 6], lengths_dtype=np.int32),
            case(f"{cell}_l2_bi_len_state", cell, I=I, H=H, T=6, layers=2, bi=True, lengths=[4, 1, 6],
                 states=True),
        ]
    cases += [
        # LSTM with projection.
        case("lstm_proj_l1_uni_len_state", "lstm", I=4, H=6, proj=3, T=6, lengths=[2, 6, 1], states=True),
        case("lstm_proj_l1_bi", "lstm", I=3, H=5, proj=2, T=5, bi=True),
        case("lstm_proj_l2_bi_len_state", "lstm", I=4, H=6, proj=4, T=6, layers=2, bi=True,
             lengths=[6, 3, 1], states=True, lengths_dtype=np.int32),
        # No biases.
        case("lstm_nobias_l2_bi_len", "lstm", I=4, H=5, T=6, layers=2, bi=True, lengths=[5, 1, 6], bias=False),
        case("gru_nobias_l1_uni_state", "gru", I=3, H=4, T=5, states=True, bias=False),
        case("rnn_tanh_nobias_l1_bi_len_state", "rnn_tanh", I=3, H=4, T=5, bi=True, lengths=[5, 2, 1],
             states=True, bias=False),
        # Real GEMM sizes.
        case("lstm_large_l2_bi_len_state", "lstm", I=16, H=32, T=20, B=4, layers=2, bi=True,
             lengths=[20, 7, 1, 13], states=True),
        # Peephole LSTM (our explicit loop, validated against nn.LSTM with zero peepholes).
        case("peephole_l1_uni", "lstm", I=4, H=5, T=5, peephole=True),
        case("peephole_l1_uni_len_state", "lstm", I=3, H=4, T=6, lengths=[6, 1, 3], states=True,
             peephole=True, lengths_dtype=np.int32),
        case("peephole_l2_bi_len_state", "lstm", I=4, H=5, T=6, layers=2, bi=True, lengths=[2, 6, 1],
             states=True, peephole=True),
        case("peephole_proj_l1_bi_len", "lstm", I=4, H=6, proj=3, T=5, bi=True, lengths=[5, 1, 3],
             peephole=True),
        # Layer-normalised LSTM (layer_norm_lstm above: torch ops and F.layer_norm).
        case("lnlstm_l1_uni", "lstm", I=4, H=5, T=5, layer_norm=True),
        case("lnlstm_l1_uni_len_state", "lstm", I=3, H=4, T=6, lengths=[6, 1, 3], states=True,
             layer_norm=True, lengths_dtype=np.int32),
        case("lnlstm_l2_bi_len_state", "lstm", I=4, H=5, T=6, layers=2, bi=True, lengths=[2, 6, 1],
             states=True, layer_norm=True),
        case("lnlstm_proj_l1_bi_len", "lstm", I=4, H=6, proj=3, T=5, bi=True, lengths=[5, 1, 3],
             layer_norm=True),
        case("lnlstm_nobias_l1_uni_state", "lstm", I=3, H=4, T=5, states=True, bias=False, layer_norm=True),
        case("lnlstm_large_l2_bi_len_state", "lstm", I=16, H=32, T=20, B=4, layers=2, bi=True,
             lengths=[20, 7, 1, 13], states=True, layer_norm=True),
    ]
    return cases


def make_module(c):
    common = dict(input_size=c["I"], hidden_size=c["H"], num_layers=c["layers"], bias=c["bias"],
                  bidirectional=c["bi"])
    if c["cell"] == "lstm":
        return torch.nn.LSTM(proj_size=c["proj"], **common)
    if c["cell"] == "gru":
        return torch.nn.GRU(**common)
    return torch.nn.RNN(nonlinearity="relu" if c["cell"] == "rnn_relu" else "tanh", **common)


def run_module(module, c, params, x, lengths, h0, c0):
    """Forward through nn.LSTM/GRU/RNN (or the peephole loop) with autograd-tracked inputs."""
    if c["peephole"]:
        return peephole_lstm(params, x, lengths, h0, c0, c["layers"], c["bi"], c["H"], c["proj"])
    if c["layer_norm"]:
        return layer_norm_lstm(params, x, lengths, h0, c0, c["layers"], c["bi"], c["H"], c["proj"])
    hx = (h0, c0) if c["cell"] == "lstm" else h0
    if c["lengths"] is None:
        y, state = module(x, hx)
    else:
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        y_packed, state = module(packed, hx)
        y, _ = pad_packed_sequence(y_packed, total_length=x.shape[0])
    if c["cell"] == "lstm":
        return y, state[0], state[1]
    return y, state, None


def check_peephole_loop():
    """With zero peephole weights the loop must reproduce nn.LSTM (outputs, states and grads)."""
    torch.manual_seed(1234)
    for bi, proj, layers in [(False, 0, 1), (True, 0, 2), (True, 3, 2)]:
        I, H, T, B, L, D = 4, 5, 6, 3, layers, 2 if bi else 1
        module = torch.nn.LSTM(I, H, num_layers=L, bidirectional=bi, proj_size=proj)
        hout = proj if proj else H
        x = torch.randn(T, B, I, requires_grad=True)
        lengths = torch.tensor([6, 1, 4])
        h0 = torch.randn(L * D, B, hout)
        c0 = torch.randn(L * D, B, H)
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        y_packed, (h_ref, c_ref) = module(packed, (h0, c0))
        y_ref, _ = pad_packed_sequence(y_packed, total_length=T)
        params = dict(module.named_parameters())
        for layer in range(L):
            for d in range(D):
                params[f"weight_peephole_l{suffix(layer, d)}"] = torch.zeros(3 * H)
        y, h_n, c_n = peephole_lstm(params, x, lengths, h0, c0, L, bi, H, proj)
        for name, ref, got in [("output", y_ref, y), ("h_n", h_ref, h_n), ("c_n", c_ref, c_n)]:
            err = (ref - got).abs().max().item()
            assert err <= 1e-6, f"peephole loop differs from nn.LSTM in {name}: {err}"
        dy = torch.randn_like(y)
        grads_ref = torch.autograd.grad((y_ref * dy).sum(), [x] + list(module.parameters()))
        grads = torch.autograd.grad((y * dy).sum(), [x] + list(module.parameters()))
        for ref, got in zip(grads_ref, grads):
            err = (ref - got).abs().max().item()
            assert err <= 1e-6, f"peephole loop gradient differs from nn.LSTM: {err}"


def generate(c, seed):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    is_lstm = c["cell"] == "lstm"
    T, B, I, H, L = c["T"], c["B"], c["I"], c["H"], c["layers"]
    D = 2 if c["bi"] else 1
    hout = c["proj"] if c["proj"] else H

    module = make_module(c)
    state = {k: v.detach().clone() for k, v in module.state_dict().items()}
    if c["peephole"]:
        for layer in range(L):
            for d in range(D):
                # Larger than PyTorch's init so the peephole terms clearly matter.
                state[f"weight_peephole_l{suffix(layer, d)}"] = torch.empty(3 * H).uniform_(-0.8, 0.8)
    if c["layer_norm"]:
        for layer in range(L):
            for d in range(D):
                # Gains around 1 and biases around 0, away from the identity so that each matters.
                state[f"weight_ln_ih_l{suffix(layer, d)}"] = torch.empty(4 * H).uniform_(0.5, 1.5)
                state[f"weight_ln_hh_l{suffix(layer, d)}"] = torch.empty(4 * H).uniform_(0.5, 1.5)
                state[f"weight_ln_c_l{suffix(layer, d)}"] = torch.empty(H).uniform_(0.5, 1.5)
                state[f"bias_ln_c_l{suffix(layer, d)}"] = torch.empty(H).uniform_(-0.5, 0.5)

    x_np = rng.standard_normal((T, B, I)).astype(np.float32)
    h0_np = rng.standard_normal((L * D, B, hout)).astype(np.float32) if c["states"] else \
        np.zeros((L * D, B, hout), np.float32)
    c0_np = rng.standard_normal((L * D, B, H)).astype(np.float32) if c["states"] else \
        np.zeros((L * D, B, H), np.float32)
    dy_np = rng.standard_normal((T, B, D * hout)).astype(np.float32)
    dh_np = rng.standard_normal((L * D, B, hout)).astype(np.float32)
    dc_np = rng.standard_normal((L * D, B, H)).astype(np.float32)
    lengths = torch.tensor(c["lengths"] if c["lengths"] is not None else [T] * B, dtype=torch.int64)

    # Layer-norm cases are computed in float64 from the float32 inputs and stored rounded to
    # float32: the normalisations amplify rounding, and two float32 computations would differ by
    # more than the parity test's tolerance (here only ours rounds).
    dtype = torch.float64 if c["layer_norm"] else torch.float32

    def run(with_state_grads):
        params = {k: v.clone().to(dtype).requires_grad_(True) for k, v in state.items()}
        explicit = c["peephole"] or c["layer_norm"]  # our loops of torch ops, not the module
        if not explicit:
            # Run the module on our leaf tensors so that their .grad is what we record.
            for name, p in module.named_parameters():
                p.data.copy_(params[name].data)
        x = torch.tensor(x_np, dtype=dtype, requires_grad=True)
        h0 = torch.tensor(h0_np, dtype=dtype, requires_grad=True)
        c0 = torch.tensor(c0_np, dtype=dtype, requires_grad=True)
        module.zero_grad(set_to_none=True)
        y, h_n, c_n = run_module(module, c, params, x, lengths, h0, c0 if is_lstm else None)
        loss = (y * torch.from_numpy(dy_np).to(dtype)).sum()
        if with_state_grads:
            loss = loss + (h_n * torch.from_numpy(dh_np).to(dtype)).sum()
            if is_lstm:
                loss = loss + (c_n * torch.from_numpy(dc_np).to(dtype)).sum()
        loss.backward()
        if explicit:
            grads = {name: params[name].grad for name in state}
        else:
            grads = {name: p.grad for name, p in module.named_parameters()}
        grads["input"] = x.grad
        grads["h0"] = h0.grad
        if is_lstm:
            grads["c0"] = c0.grad
        return y, h_n, c_n, grads

    y, h_n, c_n, grads = run(False)
    _, _, _, grads_full = run(True)
    for name, g in list(grads.items()) + list(grads_full.items()):
        assert g is not None, f"{c['name']}: no gradient for {name}"

    expected = {"output": y, "h_n": h_n, "grad_h_n": torch.from_numpy(dh_np)}
    if is_lstm:
        expected["c_n"] = c_n
        expected["grad_c_n"] = torch.from_numpy(dc_np)
    for name, g in grads.items():
        expected[f"grad.{name}"] = g
    for name, g in grads_full.items():
        expected[f"grad_full.{name}"] = g

    directory = os.path.join(OUT_DIR, c["name"])
    os.makedirs(directory)
    metadata = {"config": json.dumps({"cell": "rnn_relu"}, separators=(",", ":"))} \
        if c["cell"] == "rnn_relu" else None
    write_safetensors(os.path.join(directory, "model.safetensors"), state, metadata)
    write_npy(os.path.join(directory, "input.npy"), x_np)
    if c["lengths"] is not None:
        write_npy(os.path.join(directory, "lengths.npy"), np.array(c["lengths"], dtype=c["lengths_dtype"]))
    if c["states"]:
        initial = {"h": torch.from_numpy(h0_np)}
        if is_lstm:
            initial["c"] = torch.from_numpy(c0_np)
        write_safetensors(os.path.join(directory, "state_in.safetensors"), initial)
    write_npy(os.path.join(directory, "grad_output.npy"), dy_np)
    write_safetensors(os.path.join(directory, "expected.safetensors"), expected)


def main():
    torch.set_num_threads(1)  # bit-for-bit reproducible float32 sums
    check_peephole_loop()
    cases = build_cases()
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    if os.path.isdir(OUT_DIR):
        for entry in os.listdir(OUT_DIR):
            path = os.path.join(OUT_DIR, entry)
            if os.path.isdir(path):
                shutil.rmtree(path)
    os.makedirs(OUT_DIR, exist_ok=True)
    for c in cases:
        generate(c, seed=zlib.crc32(c["name"].encode()))  # a case's data does not depend on the others
    print(f"wrote {len(cases)} cases to {OUT_DIR}", file=sys.stderr)


if __name__ == "__main__":
    main()
