"""The NumPy layers lstm.LSTM/GRU/RNN: against torch.nn (the reference), against the CLI's
forward on the same files, state_dict views, save/load, bad inputs, and the GIL."""
import json
import os
import shutil
import struct
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch

import lstm


def read_safetensors(path):
    """A safetensors reader written here, independent of the library's."""
    with open(path, "rb") as f:
        raw = f.read()
    (size,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + size])
    header.pop("__metadata__", None)
    base = 8 + size
    return {name: np.frombuffer(raw[base + v["data_offsets"][0]:base + v["data_offsets"][1]],
                                dtype="<f4").reshape(v["shape"]) for name, v in header.items()}


def close(got, want, tolerance=2e-5):
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape
    assert np.abs(got - want).max() <= tolerance * max(1.0, np.abs(want).max())


@pytest.mark.parametrize("name,kwargs", [
    ("LSTM", dict(num_layers=2, bidirectional=True, proj_size=3)),
    ("GRU", dict(batch_first=True)),
    ("RNN", dict(nonlinearity="relu", num_layers=2)),
])
def test_matches_torch(name, kwargs):
    torch.manual_seed(0)
    reference = getattr(torch.nn, name)(4, 5, **kwargs)
    ours = getattr(lstm, name)(4, 5, **kwargs)
    ours.load_state_dict(reference.state_dict())
    rows = reference.num_layers * (2 if reference.bidirectional else 1)
    batch_first = kwargs.get("batch_first", False)
    x = torch.randn((3, 6, 4) if batch_first else (6, 3, 4), requires_grad=True)
    h0 = torch.randn(rows, 3, kwargs.get("proj_size", 0) or 5, requires_grad=True)
    c0 = torch.randn(rows, 3, 5, requires_grad=True)
    want_y, want_state = reference(x, (h0, c0) if name == "LSTM" else h0)
    dy = torch.randn_like(want_y)
    leaves = [x, h0] + ([c0] if name == "LSTM" else [])
    want_grads = torch.autograd.grad((want_y * dy).sum(), leaves + list(reference.parameters()))
    state = (h0.detach().numpy(), c0.detach().numpy()) if name == "LSTM" else h0.detach().numpy()
    y, got_state = ours(x.detach().numpy(), state, training=True)
    close(y, want_y.detach())
    for got, want in zip(got_state if name == "LSTM" else [got_state],
                         want_state if name == "LSTM" else [want_state]):
        close(got, want.detach())
    grads = ours.backward(dy.numpy())
    names = ["input", "h0"] + (["c0"] if name == "LSTM" else []) + [n for n, _ in reference.named_parameters()]
    for what, want in zip(names, want_grads):
        close(grads[what], want)


@pytest.fixture
def cli():
    path = os.environ.get("LSTM_CLI") or shutil.which("lstm")
    if not path:
        pytest.skip("LSTM_CLI is not set (ctest sets it)")
    return path


def test_matches_the_cli_forward_on_the_same_files(cli, tmp_path):
    model = lstm.LSTM(3, 4, num_layers=2, bidirectional=True, seed=3)
    model.save(tmp_path / "m.safetensors")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    dy = rng.standard_normal((5, 2, 8)).astype(np.float32)
    lengths = np.array([5, 2], dtype=np.int64)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "dy.npy", dy)
    np.save(tmp_path / "n.npy", lengths)
    subprocess.run([cli, "forward", "--model", str(tmp_path / "m.safetensors"), "--input",
                    str(tmp_path / "x.npy"), "--lengths", str(tmp_path / "n.npy"), "--output",
                    str(tmp_path / "y.npy"), "--state-out", str(tmp_path / "s.safetensors"),
                    "--grad-output", str(tmp_path / "dy.npy"), "--grads",
                    str(tmp_path / "g.safetensors")], check=True)
    loaded = lstm.load(tmp_path / "m.safetensors")
    y, (h_n, c_n) = loaded(x, lengths=lengths, training=True)
    grads = loaded.backward(dy)
    np.testing.assert_array_equal(y, np.load(tmp_path / "y.npy"))
    state = read_safetensors(tmp_path / "s.safetensors")
    np.testing.assert_array_equal(h_n, state["h"])
    np.testing.assert_array_equal(c_n, state["c"])
    cli_grads = read_safetensors(tmp_path / "g.safetensors")
    assert sorted(cli_grads) == sorted(grads)
    for name, value in cli_grads.items():
        close(grads[name], value, 1e-6)


def test_state_dict_views_alias_the_parameters():
    model = lstm.GRU(2, 3, seed=0)
    x = np.ones((2, 1, 2), np.float32)
    before = model(x)[0].copy()
    weights = model.state_dict()
    weights["bias_ih_l0"][:] += 1.0  # writes into the network
    assert not np.array_equal(model(x)[0], before)
    assert np.shares_memory(weights["weight_hh_l0"], model.state_dict()["weight_hh_l0"])
    model.load_state_dict({name: np.zeros_like(v) for name, v in weights.items()})
    assert not weights["bias_ih_l0"].any(), "load_state_dict writes through the same memory"
    np.testing.assert_array_equal(model(x)[0], 0.0)


def test_save_load_round_trip(tmp_path):
    model = lstm.RNN(3, 4, nonlinearity="relu", bidirectional=True, seed=5)
    model.save(tmp_path / "r.safetensors")
    loaded = lstm.load(tmp_path / "r.safetensors", dtype=np.float64)
    assert isinstance(loaded, lstm.RNN) and loaded.nonlinearity == "relu" and loaded.dtype == np.float64
    x = np.random.default_rng(0).standard_normal((4, 2, 3))
    close(loaded(x)[0], model(x.astype(np.float32))[0], 1e-6)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(read_safetensors(tmp_path / "r.safetensors")[name], value)


def test_float64_backward_matches_finite_differences():
    model = lstm.LSTM(2, 3, peephole=True, dtype=np.float64, seed=2)
    model.state_dict()["weight_peephole_l0"][:] = [0.3, -0.2, 0.5, 0.1, -0.4, 0.2, 0.6, -0.1, 0.05]
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 2, 2))
    dy = rng.standard_normal((4, 2, 3))
    model(x, training=True)
    grads = model.backward(dy)
    for name, value in model.state_dict().items():
        flat = value.reshape(-1)
        for index in range(flat.size):
            saved = flat[index]
            flat[index] = saved + 1e-6
            plus = (model(x)[0] * dy).sum()
            flat[index] = saved - 1e-6
            minus = (model(x)[0] * dy).sum()
            flat[index] = saved
            numeric = (plus - minus) / 2e-6
            assert abs(numeric - grads[name].reshape(-1)[index]) <= 1e-6 + 1e-5 * abs(numeric), name


def test_non_contiguous_input_is_copied():
    model = lstm.LSTM(3, 4, seed=1)
    x = np.random.default_rng(0).standard_normal((5, 2, 6)).astype(np.float32)[:, :, ::2]
    np.testing.assert_array_equal(model(x)[0], model(np.ascontiguousarray(x))[0])


def test_bad_inputs_raise_the_documented_exceptions(tmp_path):
    model = lstm.LSTM(3, 4, num_layers=2, seed=1)
    x = np.zeros((5, 2, 3), np.float32)
    with pytest.raises(TypeError, match="x: expected dtype float32"):
        model(x.astype(np.float64))
    with pytest.raises(TypeError, match="x: expected a NumPy array"):
        model(x.tolist())
    with pytest.raises(ValueError, match=r"x: expected shape \[T, B, 3\], got \[5, 2, 4\]"):
        model(np.zeros((5, 2, 4), np.float32))
    with pytest.raises(ValueError, match="x: expected shape"):
        model(np.zeros((5, 3), np.float32))
    bad = x.copy()
    bad[1, 1, 1] = np.nan
    with pytest.raises(ValueError, match="x: contains NaN"):
        model(bad)
    with pytest.raises(ValueError, match=r"h0: expected shape \[2, 2, 4\], got \[1, 2, 4\]"):
        model(x, (np.zeros((1, 2, 4), np.float32), None))
    with pytest.raises(ValueError, match=r"c0: expected shape \[2, 2, 4\]"):
        model(x, (None, np.zeros((2, 2, 5), np.float32)))
    with pytest.raises(TypeError, match=r"state: expected a tuple \(h0, c0\)"):
        model(x, np.zeros((2, 2, 4), np.float32))
    with pytest.raises(ValueError, match=r"lengths: every length must be in 1..5"):
        model(x, lengths=[6, 1])
    with pytest.raises(ValueError, match=r"lengths: expected shape \[2\]"):
        model(x, lengths=[5])
    with pytest.raises(TypeError, match="x: the tensor requires grad"):
        model(torch.zeros(5, 2, 3, requires_grad=True))
    with pytest.raises(ValueError, match="backward: call forward"):
        lstm.GRU(3, 4).backward(np.zeros((5, 2, 4), np.float32))
    model(x, training=True)
    with pytest.raises(ValueError, match=r"dy: expected shape \[T, B, 4\] as y"):
        model.backward(np.zeros((5, 2, 5), np.float32))
    with pytest.raises(lstm.Error, match="hidden size must be at least 1"):
        lstm.LSTM(3, 0)
    with pytest.raises(TypeError, match="hidden_size: expected an int"):
        lstm.LSTM(3, 2.5)
    with pytest.raises(TypeError, match="dtype"):
        lstm.LSTM(3, 4, dtype=np.int32)
    with pytest.raises(FileNotFoundError):
        lstm.load(tmp_path / "missing.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json}")
    with pytest.raises(OSError, match="bad.safetensors"):
        lstm.load(tmp_path / "bad.safetensors")
    with pytest.raises(OSError, match="no_such_dir"):
        model.save(tmp_path / "no_such_dir" / "m.safetensors")
    with pytest.raises(ValueError, match="load_state_dict: weight_ih_l0: expected shape"):
        model.load_state_dict({**model.state_dict(), "weight_ih_l0": np.zeros((3, 3))})
    with pytest.raises(ValueError, match="precision"):
        lstm.set_precision("fp8")


def test_torch_drop_in_bad_inputs():
    import lstm.torch as lt
    module = lt.LSTM(3, 4, num_layers=2)
    x = torch.zeros(5, 2, 3)
    with pytest.raises(RuntimeError, match="input must have the type torch.float32"):
        module(x.double())
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size"):
        module(torch.zeros(5, 2, 4))
    with pytest.raises(ValueError, match="Expected input to be 2-D or 3-D"):
        module(torch.zeros(5, 2, 3, 1))
    with pytest.raises(RuntimeError, match=r"Expected hidden\[0\] size \(2, 2, 4\)"):
        module(x, (torch.zeros(1, 2, 4), torch.zeros(2, 2, 4)))
    with pytest.raises(TypeError, match="hx must be a tuple"):
        module(x, torch.zeros(2, 2, 4))
    with pytest.raises(ValueError, match="CPU only"):
        lt.GRU(3, 4, device="meta")
    with pytest.raises(TypeError, match="float32 and float64"):
        lt.RNN(3, 4, dtype=torch.float16)
    with pytest.raises(ValueError, match="proj_size"):
        lt.GRU(3, 4, proj_size=2)


def test_forward_releases_the_gil():
    lstm.set_num_threads(1)
    try:
        model = lstm.LSTM(256, 256, seed=0)
        x = np.ones((200, 16, 256), np.float32)
        model(x)  # warm up
        running = threading.Event()
        done = threading.Event()
        ticks = []

        def count():
            running.wait()
            while not done.is_set():
                ticks.append(time.perf_counter())

        counter = threading.Thread(target=count)
        counter.start()
        running.set()
        start = time.perf_counter()
        model(x)  # about 0.1 s in C++: the counter can run meanwhile only if the GIL is released
        end = time.perf_counter()
        done.set()
        counter.join()
        # With the GIL held, the counter could run only at the call's edges (the interpreter
        # switches threads every 5 ms), never in the middle half of it.
        middle = [t for t in ticks if start + 0.25 * (end - start) < t < start + 0.75 * (end - start)]
        assert end - start > 0.02, "forward must take long enough for the check to mean something"
        assert len(middle) > 100, f"the other thread ran {len(middle)} steps in the middle of forward"

        # Two threads calling forward at once on separate layers both get the right answers.
        other = lstm.LSTM(256, 256, seed=1)
        want = [model(x[:20])[0], other(x[:20])[0]]
        got = [None, None]

        def run(k, layer):
            for _ in range(5):
                got[k] = layer(x[:20])[0]

        threads = [threading.Thread(target=run, args=(k, layer)) for k, layer in enumerate([model, other])]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
    finally:
        lstm.set_num_threads(0)


def test_precision_bf16_where_available():
    model = lstm.LSTM(64, 256, seed=0)
    x = np.random.default_rng(0).standard_normal((20, 16, 64)).astype(np.float32)
    exact = model(x)[0]
    if not lstm.bf16_available():
        with pytest.raises(lstm.Error):
            lstm.set_precision("bf16")
        return
    try:
        lstm.set_precision("bf16")
        assert lstm.precision() == "bf16"
        rounded = model(x)[0]
    finally:
        lstm.set_precision("fp32")
    assert not np.array_equal(rounded, exact), "bf16 products must change the result"
    assert np.abs(rounded - exact).max() < 2e-2  # about three significant digits per product
    np.testing.assert_array_equal(model(x)[0], exact)


def test_import_before_numpy_chooses_the_blas_kernels_as_the_cli():
    """`import lstm` opens OpenBLAS before NumPy does, so its kernels are the CLI's choice; imported
    after NumPy, lstm uses the OpenBLAS NumPy loaded (core/blas.cpp)."""
    cli = os.environ.get("LSTM_CLI") or shutil.which("lstm")
    if not cli:
        pytest.skip("LSTM_CLI is not set (ctest sets it)")
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "LSTM_MAX_ISA")}
    cli_blas = json.loads(subprocess.run([cli, "info", "--system", "--json"], env=env, check=True,
                                         capture_output=True, text=True).stdout)["blas"]
    def python_blas(code):
        return subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True,
                              text=True).stdout.strip()
    assert python_blas("import lstm; print(lstm._lstm.blas_kernels())") == cli_blas
    # NumPy first: lstm takes the OpenBLAS NumPy loaded, if NumPy's BLAS is OpenBLAS.
    numpy_first = python_blas("import numpy; loaded = 'libopenblas' in open('/proc/self/maps').read(); "
                              "import lstm; print(loaded, lstm._lstm.blas_kernels())")
    if numpy_first.startswith("True"):
        assert numpy_first.endswith("(loaded before lstm)"), numpy_first
    else:
        assert numpy_first.endswith(cli_blas), numpy_first
