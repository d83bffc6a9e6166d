"""The cell variants from Python: the NumPy layers against the equations written in NumPy here
(coupled gates, layer normalisation, the GRU's reset gate before the product, residual stacks),
lstm.torch's variants under torch.autograd.gradcheck in double, zoneout in training and eval
mode, model files that keep the variants, and refused combinations."""
import numpy as np
import pytest
import torch

import lstm
import lstm.torch as lt


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def layer_norm(v, gain, bias, eps=1e-5):
    return gain * (v - v.mean()) / np.sqrt(v.var() + eps) + bias


def reference(layer, x):
    """y [T, B, H] of a one-direction stack, step by step, from the state_dict."""
    p = {k: v.astype(np.float64) for k, v in layer.state_dict().items()}
    v = layer.variants
    H, inputs = layer.hidden_size, x.astype(np.float64)
    for k in range(layer.num_layers):
        w_ih, w_hh = p[f"weight_ih_l{k}"], p[f"weight_hh_l{k}"]
        b_ih, b_hh = p[f"bias_ih_l{k}"], p[f"bias_hh_l{k}"]
        out = np.zeros(inputs.shape[:2] + (H,))
        for b in range(inputs.shape[1]):
            h, c = np.zeros(H), np.zeros(H)
            for t in range(inputs.shape[0]):
                xi = w_ih @ inputs[t, b]
                if layer.cell == "gru":
                    hh = w_hh @ h + b_hh
                    r = sigmoid(xi[:H] + b_ih[:H] + hh[:H])
                    z = sigmoid(xi[H:2 * H] + b_ih[H:2 * H] + hh[H:2 * H])
                    if v["reset_before"]:
                        n = np.tanh(xi[2 * H:] + b_ih[2 * H:] + w_hh[2 * H:] @ (r * h) + b_hh[2 * H:])
                    else:
                        n = np.tanh(xi[2 * H:] + b_ih[2 * H:] + r * hh[2 * H:])
                    h = (1 - z) * n + z * h
                else:  # LSTM: gates i, f, g, o, or f, g, o and i = 1 - f with coupled gates
                    if v["layer_norm"]:  # each part normalised over all of its 4H (3H) values
                        a = (layer_norm(xi, p[f"weight_ln_ih_l{k}"], b_ih)
                             + layer_norm(w_hh @ h, p[f"weight_ln_hh_l{k}"], b_hh))
                    else:
                        a = xi + b_ih + w_hh @ h + b_hh
                    if v["coupled_gates"]:
                        f, g, o = sigmoid(a[:H]), np.tanh(a[H:2 * H]), sigmoid(a[2 * H:])
                        i = 1 - f
                    else:
                        i, f = sigmoid(a[:H]), sigmoid(a[H:2 * H])
                        g, o = np.tanh(a[2 * H:3 * H]), sigmoid(a[3 * H:])
                    c = f * c + i * g
                    shown = layer_norm(c, p[f"weight_ln_c_l{k}"], p[f"bias_ln_c_l{k}"]) if v["layer_norm"] else c
                    h = o * np.tanh(shown)
                out[t, b] = h
        if v["highway"] and k > 0:  # y = t h + (1 - t) x, t = sigmoid(x W_t^T + b_t)
            gate = sigmoid(inputs @ p[f"weight_highway_l{k}"].T + p[f"bias_highway_l{k}"])
            out = gate * out + (1 - gate) * inputs
        inputs = out + inputs if v["residual"] and k > 0 else out
    return inputs


NUMPY_CASES = [
    (lstm.LSTM, dict(coupled_gates=True)),
    (lstm.LSTM, dict(layer_norm=True, num_layers=2)),
    (lstm.LSTM, dict(coupled_gates=True, residual=True, num_layers=3)),
    (lstm.GRU, dict(reset_before=True, num_layers=2, residual=True)),
    (lstm.LSTM, dict(layer_norm=True, num_layers=3, highway=True)),
    (lstm.LSTM, dict(coupled_gates=True, layer_norm=True)),
    (lstm.LSTM, dict(coupled_gates=True, layer_norm=True, num_layers=2, residual=True)),
]


@pytest.mark.parametrize("layer_class,kwargs", NUMPY_CASES, ids=[str(k) for _, k in NUMPY_CASES])
def test_numpy_layers_follow_the_equations(layer_class, kwargs):
    input_size = 5 if kwargs.get("residual") else 3  # residual: layer 1 on adds H-wide inputs
    layer = layer_class(input_size, 5, seed=3, **kwargs)
    rng = np.random.default_rng(4)
    for values in layer.state_dict().values():  # gains and biases of layer norm away from 1, 0 too
        values[...] = rng.uniform(-0.9, 0.9, values.shape)
    x = rng.standard_normal((6, 2, input_size)).astype(np.float32)
    y, _ = layer(x)
    np.testing.assert_allclose(y, reference(layer, x), rtol=0, atol=2e-5)
    for name, value in kwargs.items():
        if name in layer.variants:
            assert layer.variants[name] == value


def test_coupled_gates_have_three_gates():
    layer = lstm.LSTM(3, 4, coupled_gates=True, peephole=True)
    shapes = {k: v.shape for k, v in layer.state_dict().items()}
    assert shapes["weight_ih_l0"] == (12, 3) and shapes["weight_peephole_l0"] == (8,)
    normalised = lstm.LSTM(3, 4, coupled_gates=True, layer_norm=True)  # gains of the parts: 3H
    shapes = {k: v.shape for k, v in normalised.state_dict().items()}
    assert shapes["weight_ln_ih_l0"] == shapes["weight_ln_hh_l0"] == (12,)
    assert shapes["weight_ln_c_l0"] == shapes["bias_ln_c_l0"] == (4,)


GRADCHECK = [
    ("LSTM", dict(coupled_gates=True, peephole=True, bidirectional=True)),
    ("LSTM", dict(layer_norm=True, num_layers=2, residual=True)),
    ("GRU", dict(reset_before=True, bidirectional=True)),
    ("RNN", dict(num_layers=2, residual=True)),
    ("GRU", dict(num_layers=2, highway=True, bidirectional=True)),
    ("LSTM", dict(coupled_gates=True, layer_norm=True)),
    ("LSTM", dict(coupled_gates=True, layer_norm=True, num_layers=2, proj_size=2)),
]


@pytest.mark.parametrize("name,kwargs", GRADCHECK, ids=[f"{n}-{k}" for n, k in GRADCHECK])
def test_torch_variants_gradcheck(name, kwargs):
    torch.manual_seed(0)
    module = getattr(lt, name)(3, 3, dtype=torch.float64, **kwargs)
    with torch.no_grad():
        for p in module.parameters():
            p.uniform_(-0.8, 0.8)
    params = list(module.parameters())
    x = torch.randn(4, 2, 3, dtype=torch.float64, requires_grad=True)

    def function(x, *weights):
        assert all(w is p for w, p in zip(weights, params))
        y, state = module(x)
        return y, state[0] if isinstance(state, tuple) else state

    assert torch.autograd.gradcheck(function, (x, *params), eps=1e-6, atol=1e-6)


def test_torch_layer_norm_starts_with_unit_gains():
    module = lt.LSTM(3, 4, layer_norm=True)
    assert torch.equal(module.weight_ln_ih_l0, torch.ones(16))
    assert torch.equal(module.bias_ln_c_l0, torch.zeros(4))
    assert "layer_norm=True" in repr(module)
    coupled = lt.LSTM(3, 4, layer_norm=True, coupled_gates=True)
    assert torch.equal(coupled.weight_ln_ih_l0, torch.ones(12))
    assert torch.equal(coupled.weight_ln_hh_l0, torch.ones(12))
    assert torch.equal(coupled.weight_ln_c_l0, torch.ones(4))
    assert torch.equal(coupled.bias_ln_c_l0, torch.zeros(4))
    assert coupled.bias_ih_l0.shape == (12,)
    gated = lt.GRU(3, 4, num_layers=2, highway=True)
    assert torch.equal(gated.bias_highway_l1, torch.full((4,), -1.0))


def test_zoneout_only_in_training_mode():
    torch.manual_seed(1)
    module = lt.LSTM(3, 4, zoneout=0.3, num_layers=2)
    plain = lt.LSTM(3, 4, num_layers=2)
    plain.load_state_dict(module.state_dict())
    x = torch.randn(8, 2, 3, requires_grad=True)
    module.eval()
    assert torch.equal(module(x)[0], plain(x)[0])  # with autograd
    with torch.no_grad():
        assert torch.equal(module(x)[0], plain(x)[0])
    module.train()
    trained, _ = module(x)
    assert not torch.allclose(trained, plain(x)[0])
    trained.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()

    layer = lstm.LSTM(3, 4, zoneout=0.3, seed=2)
    xs = np.random.default_rng(5).standard_normal((8, 2, 3)).astype(np.float32)
    assert not np.allclose(layer(xs, training=True)[0], layer(xs)[0])


def test_model_files_keep_the_variants(tmp_path):
    layer = lstm.GRU(3, 4, reset_before=True, num_layers=2, residual=True, seed=1)
    layer.save(tmp_path / "gru.safetensors")
    for dtype in (np.float32, np.float64):
        again = lstm.load(tmp_path / "gru.safetensors", dtype=dtype)
        assert again.variants["reset_before"] and again.variants["residual"]
        x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(dtype)
        np.testing.assert_allclose(again(x)[0], layer(x.astype(np.float32))[0], rtol=0, atol=1e-6)


def test_model_files_keep_layer_norm_with_coupled_gates(tmp_path):
    layer = lstm.LSTM(3, 4, coupled_gates=True, layer_norm=True, bidirectional=True, seed=1)
    layer.save(tmp_path / "cifg_ln.safetensors")
    again = lstm.load(tmp_path / "cifg_ln.safetensors")
    assert again.variants["coupled_gates"] and again.variants["layer_norm"]
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    np.testing.assert_array_equal(again(x)[0], layer(x)[0])


@pytest.mark.parametrize("make,words", [
    (lambda: lstm.LSTM(3, 4, layer_norm=True, peephole=True), "peephole"),
    (lambda: lt.GRU(3, 4, layer_norm=True), "layer_norm"),
    (lambda: lt.LSTM(3, 4, reset_before=True), "reset"),
    (lambda: lstm.RNN(3, 4, zoneout=1.5), "zoneout"),
    (lambda: lstm.RNN(3, 4, num_layers=2, highway=True, residual=True), "residual"),
])
def test_refused_combinations(make, words):
    with pytest.raises(ValueError, match=words):
        make()
