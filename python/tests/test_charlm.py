"""lstm.CharLM: learns a repetitive text, scores it as the CLI's `eval` does from the same model
file, generates, stops cleanly on Ctrl-C, and rejects bad input."""
import json
import os
import shutil
import signal
import subprocess

import pytest

import lstm

TEXT = "the cat sat on the mat. the dog sat on the log. " * 40


@pytest.fixture(scope="module")
def fitted():
    reports = []
    model = lstm.CharLM(hidden_size=32, embedding=8, window=20, epochs=40, lr=1e-2, seed=1)
    model.fit(TEXT, progress=reports.append)
    return model, reports


def test_learns_the_text(fitted):
    model, reports = fitted
    assert [r["epoch"] for r in reports] == list(range(1, model.metrics_["epochs"] + 1))
    assert model.metrics_["vocabulary_size"] == len(set(TEXT))
    assert model.bits_per_char(TEXT[:500]) < 1.5  # uniform over 14 symbols would be 3.8


def test_generate_follows_the_text(fitted):
    model, _ = fitted
    sample = model.generate("the c", 40, temperature=0)
    assert len(sample) == 40 and set(sample) <= set(TEXT)
    assert model.generate("the c", 40, temperature=1.0, seed=3) == model.generate("the c", 40, temperature=1.0, seed=3)


def test_the_cli_scores_the_saved_file_the_same(fitted, tmp_path):
    model, _ = fitted
    model.save(tmp_path / "lm.safetensors")
    loaded = lstm.CharLM.load(tmp_path / "lm.safetensors")
    (tmp_path / "t.txt").write_text(TEXT[:500])
    bits = loaded.bits_per_char(tmp_path / "t.txt")
    assert bits == model.bits_per_char(TEXT[:500])
    cli = os.environ.get("LSTM_CLI") or shutil.which("lstm")
    if cli:
        out = subprocess.run([cli, "eval", "--model", str(tmp_path / "lm.safetensors"), "--data",
                              str(tmp_path / "t.txt")], check=True, capture_output=True, text=True)
        assert abs(json.loads(out.stdout.strip().splitlines()[-1])["bits_per_char"] - bits) < 1e-9
        short = subprocess.run([cli, "eval", "--model", str(tmp_path / "lm.safetensors"), "--data",
                                str(tmp_path / "t.txt"), "--window", "5"],
                               check=True, capture_output=True, text=True)
        short_bits = json.loads(short.stdout.strip().splitlines()[-1])["bits_per_char"]
        assert abs(short_bits - loaded.bits_per_char(TEXT[:500], window=5)) < 1e-9
        assert short_bits > bits  # less context per character
    with pytest.raises(ValueError, match="window"):
        loaded.bits_per_char(TEXT[:500], window=-1)


def test_ctrl_c_stops_cleanly():
    def interrupt(report):
        if report["epoch"] == 2:
            os.kill(os.getpid(), signal.SIGINT)

    model = lstm.CharLM(hidden_size=16, embedding=4, window=20, epochs=30, seed=2).fit(TEXT, progress=interrupt)
    assert model.metrics_["stop"] == "interrupted" and model.metrics_["epochs"] == 2
    assert len(model.generate("the", 5)) == 5


def test_bad_input(fitted, tmp_path):
    model, _ = fitted
    with pytest.raises(lstm.Error, match="unknown|not in"):
        model.bits_per_char("the cat sat on the ZEBRA")
    with pytest.raises(lstm.Error):
        model.generate("Q", 5)
    with pytest.raises(ValueError, match="prompt"):
        model.generate("", 5)
    with pytest.raises(ValueError, match="not fitted"):
        lstm.CharLM().generate("a")
    with pytest.raises(TypeError, match="text"):
        lstm.CharLM().fit(123)
    with pytest.raises(FileNotFoundError):
        lstm.CharLM.load(tmp_path / "missing.safetensors")
    with pytest.raises(lstm.Error):
        lstm.CharLM(window=100, epochs=1).fit("too short")
