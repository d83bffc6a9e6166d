"""lstm.set_precision("int8"): the NumPy layers and the torch drop-in run int8 inference as the
CLI does on the same files, follow weights changed in place, and refuse gradients."""
import os
import shutil
import subprocess

import numpy as np
import pytest
import torch

import lstm
import lstm.torch as lt


@pytest.fixture
def int8():
    lstm.set_precision("int8")
    yield
    lstm.set_precision("fp32")


def test_matches_the_cli_on_the_same_files(int8, tmp_path):
    cli = os.environ.get("LSTM_CLI") or shutil.which("lstm")
    if not cli:
        pytest.skip("LSTM_CLI is not set (ctest sets it)")
    model = lstm.GRU(12, 40, num_layers=2, bidirectional=True, seed=3)
    model.save(tmp_path / "m.safetensors")
    x = np.random.default_rng(1).standard_normal((9, 3, 12)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    subprocess.run([cli, "forward", "--model", str(tmp_path / "m.safetensors"), "--input", str(tmp_path / "x.npy"),
                    "--output", str(tmp_path / "y.npy"), "--precision", "int8"], check=True)
    y, _ = model(x)
    np.testing.assert_allclose(y, np.load(tmp_path / "y.npy"), rtol=0, atol=1e-6)
    lstm.set_precision("fp32")
    exact, _ = model(x)
    assert 1e-5 < np.abs(y - exact).max() < 5e-2  # int8 ran, and stays close to fp32
    assert lstm.precision() == "fp32"


def test_follows_weights_changed_in_place(int8):
    model = lstm.LSTM(8, 32, seed=1)
    x = np.random.default_rng(2).standard_normal((6, 2, 8)).astype(np.float32)
    before, _ = model(x)
    model.state_dict()["weight_hh_l0"][:] *= -1  # a view: no call tells the library
    after, _ = model(x)
    fresh = lstm.LSTM(8, 32, seed=1)
    fresh.load_state_dict(model.state_dict())
    np.testing.assert_array_equal(after, fresh(x)[0])
    assert not np.array_equal(after, before)


def test_gradients_are_refused(int8):
    model = lstm.LSTM(8, 16, seed=1)
    x = np.random.default_rng(2).standard_normal((4, 2, 8)).astype(np.float32)
    y, _ = model(x, training=True)
    with pytest.raises(lstm.Error, match="int8"):
        model.backward(np.ones_like(y))
    layer = lt.LSTM(8, 16)
    with torch.no_grad():
        out, _ = layer(torch.from_numpy(x))
    assert out.shape == (4, 2, 16)
    with pytest.raises(lstm.Error, match="int8"):
        layer(torch.from_numpy(x).requires_grad_())[0].sum().backward()


def test_bad_precision_name():
    with pytest.raises(ValueError, match="int8"):
        lstm.set_precision("int4")
