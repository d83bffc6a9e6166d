"""torch.autograd.gradcheck in double on small configurations of each class (finite differences
are the reference), the peephole LSTM against the equations written with torch ops, and 50 Adam
steps with lstm.torch.LSTM against torch.nn.LSTM."""
import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import lstm.torch as lt

CONFIGS = [
    ("LSTM", dict(num_layers=2, bidirectional=True)),
    ("LSTM", dict(proj_size=2, batch_first=True)),
    ("LSTM", dict(peephole=True, num_layers=2)),
    ("LSTM", dict(peephole=True, bidirectional=True)),
    ("GRU", dict(num_layers=2, bidirectional=True)),
    ("RNN", dict(nonlinearity="relu", num_layers=2)),
    ("RNN", dict(bias=False, bidirectional=True)),
]


@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=[f"{n}-{k}" for n, k in CONFIGS])
def test_gradcheck(name, kwargs, packed):
    torch.manual_seed(0)
    module = getattr(lt, name)(2, 3, dtype=torch.float64, **kwargs)
    with torch.no_grad():
        for p in module.parameters():
            p.uniform_(-0.8, 0.8)
    rows = module.num_layers * (2 if module.bidirectional else 1)
    h_width = module.proj_size or module.hidden_size
    batch_first = kwargs.get("batch_first", False)
    x = torch.randn((2, 3, 2) if batch_first else (3, 2, 2), dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(rows, 2, h_width, dtype=torch.float64, requires_grad=True)
    c0 = torch.randn(rows, 2, 3, dtype=torch.float64, requires_grad=True)
    params = list(module.parameters())

    def function(x, h0, c0, *weights):
        # gradcheck perturbs `weights` in place: they are the module's parameters themselves.
        assert all(w is p for w, p in zip(weights, params))
        inp = pack_padded_sequence(x, torch.tensor([3, 2]), batch_first=batch_first) if packed else x
        out, state = module(inp, (h0, c0) if name == "LSTM" else h0)
        out = out.data if packed else out
        return (out,) + (tuple(state) if name == "LSTM" else (state,))

    assert torch.autograd.gradcheck(function, (x, h0, c0, *params), eps=1e-6, atol=1e-6)


def peephole_reference(x, h, c, w_ih, w_hh, b_ih, b_hh, p):
    """The peephole LSTM equations (SPEC.md §2) with torch ops, one direction, one layer."""
    outputs = []
    hidden = h.shape[-1]
    p_i, p_f, p_o = p[:hidden], p[hidden:2 * hidden], p[2 * hidden:]
    for t in range(x.shape[0]):
        a = x[t] @ w_ih.T + b_ih + h @ w_hh.T + b_hh
        a_i, a_f, a_g, a_o = a.split(hidden, dim=-1)
        i = torch.sigmoid(a_i + p_i * c)
        f = torch.sigmoid(a_f + p_f * c)
        c = f * c + i * torch.tanh(a_g)
        o = torch.sigmoid(a_o + p_o * c)
        h = o * torch.tanh(c)
        outputs.append(h)
    return torch.stack(outputs), h, c


def test_peephole_forward_matches_the_equations():
    torch.manual_seed(2)
    module = lt.LSTM(3, 4, peephole=True, dtype=torch.float64)
    with torch.no_grad():
        module.weight_peephole_l0.uniform_(-1, 1)
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    h0 = torch.randn(1, 2, 4, dtype=torch.float64)
    c0 = torch.randn(1, 2, 4, dtype=torch.float64)
    y, (h_n, c_n) = module(x, (h0, c0))
    want_y, want_h, want_c = peephole_reference(
        x, h0[0], c0[0], module.weight_ih_l0, module.weight_hh_l0, module.bias_ih_l0,
        module.bias_hh_l0, module.weight_peephole_l0)
    assert torch.allclose(y, want_y, atol=1e-12)
    assert torch.allclose(h_n[0], want_h, atol=1e-12)
    assert torch.allclose(c_n[0], want_c, atol=1e-12)


def test_dropout_gradcheck_with_a_fixed_mask():
    torch.manual_seed(0)
    module = lt.LSTM(2, 3, num_layers=3, dropout=0.4, dtype=torch.float64).train()
    x = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)

    def function(x):
        torch.manual_seed(11)  # the same masks at every evaluation
        return module(x)[0]

    assert torch.autograd.gradcheck(function, (x,), eps=1e-6, atol=1e-6)


def train(module, head, data, targets, steps=50):
    optimizer = torch.optim.Adam(list(module.parameters()) + list(head.parameters()), lr=1e-2)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        out, _ = module(data)
        loss = torch.nn.functional.mse_loss(head(out), targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
        optimizer.step()
        losses.append(loss.item())
    return losses


def test_fifty_adam_steps_match_torch():
    torch.manual_seed(4)
    data = torch.randn(20, 8, 5)
    targets = torch.randn(20, 8, 1)
    torch.manual_seed(9)
    reference = torch.nn.LSTM(5, 16, num_layers=2)
    head_reference = torch.nn.Linear(16, 1)
    torch.manual_seed(9)
    ours = lt.LSTM(5, 16, num_layers=2)
    head_ours = torch.nn.Linear(16, 1)
    want = train(reference, head_reference, data, targets)
    got = train(ours, head_ours, data, targets)
    assert got[-1] < 0.8 * got[0], "the loss must go down"
    for step, (g, w) in enumerate(zip(got, want)):
        assert abs(g - w) <= 1e-4 * max(1.0, abs(w)), f"step {step}: loss {g} vs torch {w}"
    for (name, p), q in zip(ours.named_parameters(), reference.parameters()):
        assert torch.allclose(p, q, atol=2e-4), name
