"""lstm.torch.LSTM/GRU/RNN against torch.nn.LSTM/GRU/RNN (PyTorch is the reference): outputs,
final states and every gradient, over a grid of options; construction, state_dict, copies."""
import copy
import io

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence

import lstm.torch as lt

TOLERANCE = 2e-5  # float32: max |ours - torch| <= TOLERANCE * max(1, max |torch|)

# (class name, kwargs): every option, in combinations that keep the run short.
GRID = [
    ("LSTM", dict()),
    ("LSTM", dict(num_layers=2, bidirectional=True)),
    ("LSTM", dict(proj_size=3)),
    ("LSTM", dict(num_layers=2, proj_size=2, bidirectional=True, batch_first=True)),
    ("LSTM", dict(bias=False, batch_first=True)),
    ("LSTM", dict(num_layers=3)),
    ("GRU", dict()),
    ("GRU", dict(num_layers=2, bidirectional=True, batch_first=True)),
    ("GRU", dict(bias=False)),
    ("RNN", dict()),
    ("RNN", dict(nonlinearity="relu", num_layers=2, bidirectional=True)),
    ("RNN", dict(nonlinearity="relu", bias=False, batch_first=True)),
]
INPUTS = ["tensor", "states", "packed", "packed_states"]
I, H, T, B = 4, 6, 5, 3


def make_pair(name, kwargs, dtype=torch.float32):
    torch.manual_seed(1)
    reference = getattr(torch.nn, name)(I, H, dtype=dtype, **kwargs)
    ours = getattr(lt, name)(I, H, dtype=dtype, **kwargs)
    ours.load_state_dict(reference.state_dict())
    return reference, ours


def close(ours, theirs, what, tolerance=TOLERANCE):
    assert ours.shape == theirs.shape, what
    scale = max(1.0, theirs.abs().max().item())
    error = (ours - theirs).abs().max().item()
    assert error <= tolerance * scale, f"{what}: max error {error:g} (scale {scale:g})"


def run(module, name, kwargs, mode, x, lengths, h0, c0):
    """Forward, a loss touching every output, and the gradients of x, states and parameters."""
    hx = None
    if "states" in mode:
        hx = (h0, c0) if name == "LSTM" else h0
    inp = x
    if mode.startswith("packed"):
        inp = pack_padded_sequence(x, lengths, batch_first=kwargs.get("batch_first", False),
                                   enforce_sorted=False)
    out, state = module(inp, hx)
    if mode.startswith("packed"):
        out = out.data
    states = list(state) if name == "LSTM" else [state]
    torch.manual_seed(7)
    loss = (out * torch.randn_like(out)).sum() + sum((s * torch.randn_like(s)).sum() for s in states)
    leaves = [x] + ([h0] + ([c0] if name == "LSTM" else []) if hx is not None else [])
    grads = torch.autograd.grad(loss, leaves + list(module.parameters()))
    return [out] + states, grads


@pytest.mark.parametrize("mode", INPUTS)
@pytest.mark.parametrize("name,kwargs", GRID, ids=[f"{n}-{k}" for n, k in GRID])
def test_matches_torch(name, kwargs, mode):
    reference, ours = make_pair(name, kwargs)
    rows = kwargs.get("num_layers", 1) * (2 if kwargs.get("bidirectional") else 1)
    h_width = kwargs.get("proj_size", 0) or H
    torch.manual_seed(3)
    x = torch.randn((B, T, I) if kwargs.get("batch_first") else (T, B, I), requires_grad=True)
    h0 = torch.randn(rows, B, h_width, requires_grad=True)
    c0 = torch.randn(rows, B, H, requires_grad=True)
    lengths = torch.tensor([3, T, 1])
    want_values, want_grads = run(reference, name, kwargs, mode, x, lengths, h0, c0)
    got_values, got_grads = run(ours, name, kwargs, mode, x, lengths, h0, c0)
    for k, (got, want) in enumerate(zip(got_values, want_values)):
        close(got, want, f"output {k}")
    names = ["x", "h0", "c0"][: len(got_grads) - len(list(ours.parameters()))]
    names += [n for n, _ in ours.named_parameters()]
    for what, got, want in zip(names, got_grads, want_grads):
        close(got, want, f"gradient of {what}")


def test_unbatched_input():
    reference, ours = make_pair("GRU", dict(num_layers=2))
    x = torch.randn(T, I)
    h0 = torch.randn(2, H)
    want, want_h = reference(x, h0)
    got, got_h = ours(x, h0)
    close(got, want, "output")
    close(got_h, want_h, "h_n")


def test_same_initial_weights_as_torch_for_the_same_seed():
    torch.manual_seed(5)
    reference = torch.nn.LSTM(I, H, num_layers=2, bidirectional=True, proj_size=2)
    torch.manual_seed(5)
    ours = lt.LSTM(I, H, num_layers=2, bidirectional=True, proj_size=2)
    assert list(reference.state_dict()) == list(ours.state_dict())
    for (name, a), b in zip(reference.state_dict().items(), ours.state_dict().values()):
        assert torch.equal(a, b), name


def test_state_dict_loads_into_torch_and_round_trips_through_torch_save():
    reference, ours = make_pair("LSTM", dict(num_layers=2))
    with torch.no_grad():
        for p in ours.parameters():
            p.mul_(0.5)
    buffer = io.BytesIO()
    torch.save(ours.state_dict(), buffer)
    buffer.seek(0)
    reference.load_state_dict(torch.load(buffer))
    x = torch.randn(T, B, I)
    close(ours(x)[0], reference(x)[0], "output after loading ours into torch.nn")
    buffer = io.BytesIO()
    torch.save(ours, buffer)  # the whole module pickles too
    buffer.seek(0)
    restored = torch.load(buffer)
    close(restored(x)[0], reference(x)[0], "output of the unpickled module")


def test_double_deepcopy_and_optimizer_writes_reach_the_network():
    reference, ours = make_pair("LSTM", dict(bidirectional=True))
    x = torch.randn(T, B, I, dtype=torch.float64)
    reference, ours = reference.double(), ours.double()
    close(ours(x)[0], reference(x)[0], "float64 output", 1e-12)
    twin = copy.deepcopy(ours)
    with torch.no_grad():
        for p, q in zip(twin.parameters(), reference.parameters()):
            p.add_(0.25)
            q.add_(0.25)
    close(twin(x)[0], reference(x)[0], "output after in-place updates", 1e-12)
    assert not torch.allclose(ours(x)[0], twin(x)[0]), "the deep copy must not share parameters"


def test_dropout_in_training_mode_only():
    reference, ours = make_pair("LSTM", dict(num_layers=3, dropout=0.5))
    x = torch.randn(T, B, I)
    reference.eval()
    ours.eval()
    close(ours(x)[0], reference(x)[0], "eval mode ignores dropout")
    ours.train()
    torch.manual_seed(0)
    first = ours(x)[0]
    torch.manual_seed(0)
    again = ours(x)[0]
    torch.manual_seed(1)
    other = ours(x)[0]
    assert torch.equal(first, again), "masks follow torch's generator"
    assert not torch.allclose(first, other), "dropout is applied in training mode"
    assert not torch.allclose(first, reference(x)[0])


def test_retain_graph_backward_twice_after_other_forwards():
    reference, ours = make_pair("LSTM", dict())
    x = torch.randn(T, B, I, requires_grad=True)
    y = ours(x)[0].sum()
    for _ in range(5):  # other training forwards take the pooled workspaces meanwhile
        ours(torch.randn(T, B, I, requires_grad=True))
    first = torch.autograd.grad(y, x, retain_graph=True)[0]
    second = torch.autograd.grad(y, x)[0]
    want = torch.autograd.grad(reference(x)[0].sum(), x)[0]
    close(first, want, "first backward")
    close(second, want, "second backward")


def test_two_calls_in_one_graph():
    reference, ours = make_pair("GRU", dict())
    x = torch.randn(T, B, I, requires_grad=True)
    def loss(m):
        y1, h1 = m(x)
        y2, _ = m(x * 2, h1)  # the second call starts from the first's state
        return (y1 * y2).sum()
    want = torch.autograd.grad(loss(reference), [x] + list(reference.parameters()))
    got = torch.autograd.grad(loss(ours), [x] + list(ours.parameters()))
    for k, (g, w) in enumerate(zip(got, want)):
        close(g, w, f"gradient {k}")


def test_double_backward_is_a_clear_error():
    _, ours = make_pair("LSTM", dict())
    x = torch.randn(T, B, I, requires_grad=True)
    (grad,) = torch.autograd.grad(ours(x)[0].pow(2).sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable|differentiable"):
        grad.sum().backward()


def test_a_graph_dropped_without_backward_gives_its_workspace_back():
    # (Otherwise every forward with gradients enabled but no backward, e.g. validation without
    # torch.no_grad(), would allocate a new workspace.)
    _, ours = make_pair("LSTM", dict())
    pool = ours._backend.idle
    for _ in range(10):
        ours(torch.randn(T, B, I, requires_grad=True))  # the graph is freed at once
    assert len(pool) == 1  # one workspace, taken and given back by each call
    kept = [ours(torch.randn(T, B, I, requires_grad=True))[0] for _ in range(3)]
    assert len(pool) == 0  # each graph holds its own until backward or until it is freed
    del kept
    assert len(pool) == 3
