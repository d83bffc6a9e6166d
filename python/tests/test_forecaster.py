"""lstm.Forecaster: learns a seasonal series better than the naive baseline; its rolling-origin
validation equals `lstm eval`'s and its forecasts, intervals and model choice equal `lstm
forecast`'s on the same model file and data; save/load round-trips; Ctrl-C stops cleanly; bad
input raises. (The CLI is the reference for what the Python API must give.)"""
import io
import os
import shutil
import signal
import subprocess
import warnings

import numpy as np
import pandas as pd
import pytest

import lstm

CLI = os.environ.get("LSTM_CLI") or shutil.which("lstm")
needs_cli = pytest.mark.skipif(CLI is None, reason="the lstm CLI is not built (LSTM_CLI)")


def seasonal_series(rows=144):
    """Monthly, trend + season 12 + noise (M4 horizon 18; 12 rolling origins at 18 steps)."""
    t = np.arange(rows)
    values = 10 + 0.01 * t + np.sin(2 * np.pi * t / 12) + 0.05 * np.random.default_rng(0).standard_normal(rows)
    return pd.Series(values, index=pd.date_range("2000-01-01", periods=rows, freq="MS"), name="y")


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    directory = tmp_path_factory.mktemp("forecaster")
    series = seasonal_series()
    series.to_frame().to_csv(directory / "s.csv", index_label="date")
    reports = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a classical method may beat this small network
        forecaster = lstm.Forecaster(hidden_size=16, epochs=150, window=24, seed=1)
        forecaster.fit(series, progress=reports.append)
        default_forecast = forecaster.predict(6)  # after the fitted series: combine, 80%
    forecaster.save(directory / "f.safetensors")
    return forecaster, reports, directory, default_forecast


def run_cli(*args):
    result = subprocess.run([CLI, *map(str, args)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result


def test_fit_beats_the_naive_baseline_and_reports_progress(fitted):
    forecaster, reports, _, _ = fitted
    m = forecaster.metrics_
    assert [r["epoch"] for r in reports] == list(range(1, m["epochs"] + 1))
    assert m["model"]["rmse"] < 0.8 * m["naive"]["rmse"], m
    assert m["season"] == 12 and forecaster.window == 24 and forecaster.target == "y"


@needs_cli
def test_rolling_validation_equals_lstm_eval(fitted):
    import json
    forecaster, _, directory, _ = fitted
    rolling = forecaster.metrics_["rolling"]
    cli = json.loads(run_cli("eval", "--model", directory / "f.safetensors", "--data",
                             directory / "s.csv").stdout.splitlines()[-1])["rolling"]
    assert rolling["horizon"] == cli["horizon"] == 18  # monthly: M4's horizon
    assert (rolling["origins"], rolling["first_origin"]) == (cli["origins"], cli["first_origin"])
    assert set(rolling["models"]) == set(cli["models"]) and {"lstm", "naive", "theta"} <= set(cli["models"])
    for name, scores in cli["models"].items():
        for key in ("mase", "smape", "rmse"):
            assert rolling["models"][name][key] == pytest.approx(scores[key], rel=1e-12), (name, key)
    assert (rolling["best"], rolling["lstm_beaten"], rolling["lstm_validated"]) == \
        (cli["best"], cli["lstm_beaten"], cli["lstm_validated"])
    assert rolling["chosen"].startswith("combine(") and len(rolling["members"]) == 3
    assert 0 <= rolling["interval_coverage"] <= 1 and rolling["interval"] == 0.8


def check_same_as_cli(frame, path, target):
    written = pd.read_csv(path)
    assert list(written.columns) == ["date", target, "lower", "upper", "model"]
    assert list(frame.columns) == [target, "lower", "upper", "model"]
    assert list(frame.index) == list(pd.to_datetime(written["date"]))
    for column in (target, "lower", "upper"):  # the CLI writes 9 significant digits
        np.testing.assert_allclose(frame[column].values, written[column].values, rtol=1e-8, atol=0)
    assert list(frame["model"]) == list(written["model"])


@needs_cli
@pytest.mark.parametrize("choice,level", [("combine", 0.8), ("best", 0.8), ("lstm", 0.5)])
def test_predict_equals_lstm_forecast(fitted, choice, level):
    forecaster, _, directory, _ = fitted
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = forecaster.predict(6, data=directory / "s.csv", model_choice=choice, interval=level)
    result = run_cli("forecast", "--model", directory / "f.safetensors", "--data", directory / "s.csv",
                     "--steps", 6, "--output", directory / "o.csv", "--model-choice", choice,
                     "--interval", level)
    check_same_as_cli(frame, directory / "o.csv", "y")
    assert (frame["lower"] < frame["upper"]).all()
    assert frame["model"].iloc[0] == ("lstm" if choice == "lstm" else forecaster.validation_["chosen"])
    assert forecaster.validation_["horizon"] == 6 and forecaster.validation_["interval"] == level
    # The CLI's WARNING lines (a classical method beating the network) are Python warnings.
    assert ("beats the LSTM" in result.stderr) == any("beats the LSTM" in str(w.message) for w in caught)


@needs_cli
def test_predict_defaults_are_the_clis_and_continue_the_series(fitted):
    forecaster, _, directory, future = fitted
    run_cli("forecast", "--model", directory / "f.safetensors", "--data", directory / "s.csv",
            "--steps", 6, "--output", directory / "default.csv")  # --model-choice combine --interval 0.8
    check_same_as_cli(future, directory / "default.csv", "y")
    assert list(future.index) == list(pd.date_range("2012-01-01", periods=6, freq="MS"))
    t = np.arange(144, 150)
    truth = 10 + 0.01 * t + np.sin(2 * np.pi * t / 12)
    assert np.sqrt(np.mean((future["y"].values - truth) ** 2)) < 0.5


@needs_cli
def test_too_short_to_validate_gives_no_interval_as_the_cli(fitted, tmp_path):
    forecaster, _, directory, _ = fitted
    # 28 rows < the window (24) + 6 steps: no validation origin
    seasonal_series(28).to_frame().to_csv(tmp_path / "short.csv", index_label="date")
    with pytest.warns(UserWarning, match="too short to validate"):
        frame = forecaster.predict(6, data=tmp_path / "short.csv")
    run_cli("forecast", "--model", directory / "f.safetensors", "--data", tmp_path / "short.csv",
            "--steps", 6, "--output", tmp_path / "o.csv")
    check_same_as_cli(frame, tmp_path / "o.csv", "y")
    assert frame["lower"].isna().all() and forecaster.validation_ is None
    assert (frame["model"] == "lstm").all()


def test_save_and_load_read_the_same_file(fitted):
    _, _, directory, future = fitted
    loaded = lstm.Forecaster.load(directory / "f.safetensors")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pd.testing.assert_frame_equal(loaded.predict(6, data=directory / "s.csv"), future)


def test_numpy_input_and_ctrl_c_stop_cleanly_with_the_best_weights():
    values = seasonal_series().values

    def interrupt(report):
        if report["epoch"] == 2:
            os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        forecaster = lstm.Forecaster(hidden_size=8, epochs=50, seed=2).fit(values, progress=interrupt)
        future = forecaster.predict(3, model_choice="lstm")
    assert forecaster.metrics_["stop"] == "interrupted"
    assert forecaster.metrics_["epochs"] == 2
    assert np.isfinite(future["value"]).all() and list(future.index) == [145, 146, 147]


def test_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError):
        lstm.Forecaster().fit(tmp_path / "missing.csv", target="y")
    with pytest.raises(ValueError, match="target"):
        lstm.Forecaster().fit(pd.DataFrame({"a": [1.0] * 50, "b": [2.0] * 50}))
    with pytest.raises(ValueError, match="not fitted"):
        lstm.Forecaster().predict(3)
    with pytest.raises(lstm.Error):
        lstm.Forecaster(epochs=1).fit(np.arange(5.0))  # too short for a window
    with pytest.raises(FileNotFoundError):
        lstm.Forecaster.load(tmp_path / "missing.safetensors")
    with pytest.raises(ValueError, match="model_choice"):
        lstm.Forecaster(model_choice="mean")
    with pytest.raises(ValueError, match="interval"):
        lstm.Forecaster(interval=1.5)


def test_cell_takes_the_clis_variants(tmp_path):
    """cell= takes `lstm train --cell`'s names: cifg's weights have 3H rows (f, g, o), not 4H."""
    import inspect
    import json
    import struct
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        forecaster = lstm.Forecaster(hidden_size=8, epochs=2, cell="cifg", seed=3).fit(seasonal_series().values)
    forecaster.save(tmp_path / "cifg.safetensors")
    with open(tmp_path / "cifg.safetensors", "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
    assert header["rnn.weight_ih_l0"]["shape"][0] == 3 * 8 and header["rnn.weight_hh_l0"]["shape"] == [24, 8]
    with pytest.raises(lstm.Error, match="cifg"):
        lstm.Forecaster(cell="lnlstm", epochs=1).fit(seasonal_series().values)
    # One constructor for both forecasters.
    assert inspect.signature(lstm.Forecaster) == inspect.signature(lstm.GlobalForecaster)
    assert list(inspect.signature(lstm.Forecaster).parameters)[:3] == ["hidden_size", "num_layers", "cell"]
