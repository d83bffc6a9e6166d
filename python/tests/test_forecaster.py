"""lstm.Forecaster: learns a seasonal series better than the naive baseline, forecasts as the
CLI does from the same model file, round-trips save/load, stops cleanly on Ctrl-C, and rejects
bad input."""
import os
import signal
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

import lstm


def seasonal_series(rows=360):
    t = np.arange(rows)
    values = 10 + 0.01 * t + np.sin(2 * np.pi * t / 12) + 0.05 * np.random.default_rng(0).standard_normal(rows)
    return pd.Series(values, index=pd.date_range("2000-01-01", periods=rows, freq="D"), name="y")


@pytest.fixture(scope="module")
def fitted():
    reports = []
    forecaster = lstm.Forecaster(hidden_size=16, epochs=25, window=24, seed=1)
    forecaster.fit(seasonal_series(), progress=reports.append)
    return forecaster, reports


def test_fit_beats_the_naive_baseline_and_reports_progress(fitted):
    forecaster, reports = fitted
    m = forecaster.metrics_
    assert [r["epoch"] for r in reports] == list(range(1, m["epochs"] + 1))
    assert m["model"]["rmse"] < 0.7 * m["naive"]["rmse"], m
    assert m["season"] == 12 and forecaster.window == 24 and forecaster.target == "y"


def test_predict_continues_the_series_with_dates(fitted):
    forecaster, _ = fitted
    future = forecaster.predict(6)
    assert list(future.index) == list(pd.date_range("2000-12-26", periods=6, freq="D"))
    t = np.arange(360, 366)
    truth = 10 + 0.01 * t + np.sin(2 * np.pi * t / 12)
    assert np.sqrt(np.mean((future.values - truth) ** 2)) < 0.5


def test_save_load_and_the_cli_read_the_same_file(fitted, tmp_path):
    forecaster, _ = fitted
    series = seasonal_series()
    series.to_frame().to_csv(tmp_path / "s.csv", index_label="date")
    forecaster.save(tmp_path / "f.safetensors")
    loaded = lstm.Forecaster.load(tmp_path / "f.safetensors")
    np.testing.assert_array_equal(loaded.predict(5, data=tmp_path / "s.csv").values, forecaster.predict(5).values)
    cli = os.environ.get("LSTM_CLI") or shutil.which("lstm")
    if cli:
        subprocess.run([cli, "forecast", "--model", str(tmp_path / "f.safetensors"), "--data",
                        str(tmp_path / "s.csv"), "--steps", "5", "--output", str(tmp_path / "o.csv"),
                        "--model-choice", "lstm"],  # the network's forecast, as predict() gives
                       check=True)
        written = pd.read_csv(tmp_path / "o.csv")
        np.testing.assert_allclose(written["y"].values, forecaster.predict(5).values, rtol=1e-8)


def test_numpy_input_and_ctrl_c_stop_cleanly_with_the_best_weights():
    values = seasonal_series().values

    def interrupt(report):
        if report["epoch"] == 2:
            os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C

    forecaster = lstm.Forecaster(hidden_size=8, epochs=50, seed=2).fit(values, progress=interrupt)
    assert forecaster.metrics_["stop"] == "interrupted"
    assert forecaster.metrics_["epochs"] == 2
    assert np.isfinite(forecaster.predict(3)).all()


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
