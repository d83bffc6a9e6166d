"""Progress and interruption of lstm.Forecaster.fit (and lstm.CharLM.fit, built alike): a tqdm
bar when stderr is a terminal (and only then, unless asked), a callback per epoch, and Ctrl-C (a
KeyboardInterrupt, here raised from the callback) stopping cleanly with the best weights, not
the last ones."""
import io
import sys
import warnings

import numpy as np
import pytest

import lstm


def noisy_seasonal(rows=72, noise=0.3):
    t = np.arange(rows)
    return np.sin(2 * np.pi * t / 12) + noise * np.random.default_rng(3).standard_normal(rows)


class Terminal(io.StringIO):
    """A stand-in for stderr that says it is (or is not) a terminal."""

    def __init__(self, tty):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


def fit_with_stderr(monkeypatch, tty, **fit_options):
    stderr = Terminal(tty)
    monkeypatch.setattr(sys, "stderr", stderr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (warnings would also go to stderr)
        forecaster = lstm.Forecaster(hidden_size=4, window=12, epochs=5, seed=1)
        forecaster.fit(noisy_seasonal(), **fit_options)
    monkeypatch.undo()
    return forecaster, stderr.getvalue()


def test_a_tqdm_bar_when_stderr_is_a_terminal(monkeypatch):
    pytest.importorskip("tqdm")
    forecaster, shown = fit_with_stderr(monkeypatch, tty=True)  # progress="auto", the default
    assert forecaster.metrics_["epochs"] == 5
    assert "5/5" in shown and "epoch" in shown and "loss=" in shown and "val=" in shown, shown


def test_no_bar_when_stderr_is_not_a_terminal_or_when_not_asked(monkeypatch):
    _, shown = fit_with_stderr(monkeypatch, tty=False)
    assert shown == ""
    _, shown = fit_with_stderr(monkeypatch, tty=True, progress=None)
    assert shown == ""
    with pytest.raises(ValueError, match="progress"):
        lstm.Forecaster().fit(noisy_seasonal(), progress="bar")


def test_the_callback_gets_every_epoch(monkeypatch):
    reports = []
    forecaster, shown = fit_with_stderr(monkeypatch, tty=True, progress=reports.append)
    assert shown == ""  # a callback replaces the bar
    assert [r["epoch"] for r in reports] == [1, 2, 3, 4, 5]
    for r in reports:
        assert r["max_epochs"] == 5 and np.isfinite(r["train_loss"]) and np.isfinite(r["validation_loss"])
        assert r["samples_per_second"] > 0 and r["eta_seconds"] >= 0 and isinstance(r["improved"], bool)
    best = min(r["validation_loss"] for r in reports)
    assert forecaster.metrics_["best_validation_loss"] == pytest.approx(best, rel=1e-12)


def fit_interrupted(stop_when):
    """Fits (50 epochs at most) until stop_when(report) is true, then raises KeyboardInterrupt
    from the callback, as Ctrl-C would arrive during training; returns (forecaster, reports)."""
    reports = []

    def callback(report):
        reports.append(report)
        if stop_when(report):
            raise KeyboardInterrupt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Noisy enough that the validation loss stops improving long before 50 epochs.
        forecaster = lstm.Forecaster(hidden_size=16, window=12, epochs=50, seed=4)
        forecaster.fit(noisy_seasonal(80, noise=2.0), progress=callback)
    return forecaster, reports


def test_keyboard_interrupt_keeps_the_best_weights():
    # Interrupted at the third epoch that did not improve on the validation loss...
    not_improved = []
    late, reports = fit_interrupted(lambda r: not_improved.append(not r["improved"]) or sum(not_improved) == 3)
    m = late.metrics_
    assert m["stop"] == "interrupted" and m["epochs"] == len(reports) < 50
    assert not reports[-1]["improved"] and m["best_epoch"] < m["epochs"]
    assert m["best_validation_loss"] == pytest.approx(min(r["validation_loss"] for r in reports), rel=1e-12)
    # ...it holds the weights of its best epoch: those of the same run interrupted right there
    # (same seed and schedule), not those of the epoch it stopped at.
    at_best, _ = fit_interrupted(lambda r: r["epoch"] == m["best_epoch"])
    assert at_best.metrics_["epochs"] == m["best_epoch"]
    assert late.metrics_["model"] == at_best.metrics_["model"]
    assert late.metrics_["rolling"]["models"]["lstm"] == at_best.metrics_["rolling"]["models"]["lstm"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_array_equal(late.predict(3, model_choice="lstm")["value"].values,
                                      at_best.predict(3, model_choice="lstm")["value"].values)


def test_the_language_model_shows_a_bar_and_stops_on_keyboard_interrupt(monkeypatch):
    pytest.importorskip("tqdm")
    text = "the cat sat on the mat. the dog sat on the log. " * 20
    stderr = Terminal(True)
    monkeypatch.setattr(sys, "stderr", stderr)
    model = lstm.CharLM(hidden_size=8, embedding=4, window=20, epochs=3, seed=1).fit(text)
    monkeypatch.undo()
    shown = stderr.getvalue()
    assert model.metrics_["epochs"] == 3 and "3/3" in shown and "val_bpc=" in shown, shown

    def interrupt(report):
        if report["epoch"] == 2:
            raise KeyboardInterrupt

    model = lstm.CharLM(hidden_size=8, embedding=4, window=20, epochs=30, seed=1).fit(text, progress=interrupt)
    assert model.metrics_["stop"] == "interrupted" and model.metrics_["epochs"] == 2
    assert len(model.generate("the", 5)) == 5
