"""lstm.Forecaster: the CLI's forecaster (`lstm train --task forecast`, `lstm forecast`) for
pandas and NumPy users: fit on a Series, DataFrame, array or CSV path; predict ahead with the
CLI's model choice and prediction interval; metrics next to the baselines, and the rolling-origin
validation next to the classical methods; save/load the same model files as the CLI."""
import os
import sys
import tempfile
import warnings

import numpy as np

from . import _lstm


_LOSSES = (("loss", "train_loss", "{:.4f}"), ("val", "validation_loss", "{:.4f}"))


def _progress_bar(progress, shown=_LOSSES):
    """progress: a callable(dict), None (silent), or "auto": a tqdm bar when tqdm is installed
    and stderr is a terminal (or in a notebook), showing the reports' values named in `shown`
    ((label, key, format) triples)."""
    if callable(progress) or progress is None:
        return progress, None
    if progress != "auto":
        raise ValueError(f"progress: expected a callable, None or 'auto', got {progress!r}")
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None, None
    if not (sys.stderr.isatty() or "ipykernel" in sys.modules):
        return None, None
    bar = tqdm(unit="epoch")

    def update(report):
        bar.total = report["max_epochs"]
        bar.update(1)
        bar.set_postfix({label: form.format(report[key]) for label, key, form in shown})
    return update, bar


def _write_csv(data, target, directory):
    """Writes `data` (pandas Series/DataFrame, or a NumPy array) as a CSV; returns (path, target)."""
    path = os.path.join(directory, "series.csv")
    try:
        import pandas as pd
    except ImportError:
        pd = None
    if pd is not None and isinstance(data, pd.Series):
        frame = data.to_frame(name=data.name if data.name is not None else (target or "value"))
        target = target or frame.columns[0]
        data = frame
    if pd is not None and isinstance(data, pd.DataFrame):
        if target is None:
            if data.shape[1] != 1:
                raise ValueError("target: a DataFrame with several columns needs target=COLUMN")
            target = data.columns[0]
        keep_index = isinstance(data.index, pd.DatetimeIndex) or data.index.name is not None
        data.to_csv(path, index=keep_index, index_label=data.index.name or "date")
        return path, str(target)
    array = np.asarray(data, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2:
        raise ValueError(f"data: expected a 1-D or 2-D array, got shape {list(array.shape)}")
    names = ["value"] + [f"x{k}" for k in range(1, array.shape[1])]
    with open(path, "w") as f:
        f.write(",".join(names) + "\n")
        np.savetxt(f, array, delimiter=",", fmt="%.17g")
    return path, target or "value"


_MODEL_CHOICES = ("combine", "best", "lstm")


def _checked_choice(model_choice, interval):
    if model_choice not in _MODEL_CHOICES:
        raise ValueError(f"model_choice: expected one of {', '.join(_MODEL_CHOICES)}, got {model_choice!r}")
    if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not 0.01 <= interval <= 0.99:
        raise ValueError(f"interval: expected a level in [0.01, 0.99], e.g. 0.8, got {interval!r}")
    return model_choice, float(interval)


def _warn(messages):
    for message in messages:
        warnings.warn(message, UserWarning, stacklevel=3)


class _ForecasterBase:
    """What Forecaster and GlobalForecaster share: the constructor (the CLI's training options,
    `model_choice` and `interval`, checked) and the check that a model is there."""

    def __init__(self, hidden_size=64, num_layers=1, cell="lstm", window=0, horizon=0, season=-1,
                 validation=0.2, epochs=200, time_limit=None, seed=0, model_choice="combine",
                 interval=0.8):
        self.options = dict(hidden=int(hidden_size), layers=int(num_layers), cell=str(cell),
                            window=int(window), horizon=int(horizon), season=int(season),
                            validation=float(validation), epochs=int(epochs),
                            time_limit=float(time_limit or 0.0), seed=int(seed))
        self.model_choice, self.interval = _checked_choice(model_choice, interval)
        self._model = None

    def _require_model(self):
        if self._model is None:
            name = type(self).__name__
            raise ValueError(f"the {name} is not fitted: call fit() or {name}.load() first")
        return self._model


class Forecaster(_ForecasterBase):
    """An LSTM forecaster with the CLI's defaults (hidden 64, lr 3e-3 cosine, 200 epochs with
    early stopping, validation on the last 20%, window from the season). `model_choice` and
    `interval` are `lstm forecast`'s --model-choice and --interval: which forecast predict()
    gives (combine: the mean of the three models with the lowest rolling-origin validation
    MASE; best: the lowest; lstm: the network) and the level of its conformal interval."""

    metrics_ = None      # set by fit()
    validation_ = None   # set by predict()

    def fit(self, data, target=None, features=(), progress="auto"):
        """Trains on `data`: a CSV path (then `target` names the column), a pandas Series or
        DataFrame, or a NumPy array (1-D, or 2-D with the target first). Ctrl-C stops cleanly
        with the best weights so far. `metrics_` then holds the one-step validation metrics of
        the model and of the naive baselines, how the run ended, and under "rolling" (as
        `lstm train` prints and `lstm eval` reports) H-step forecasts from rolling origins of
        the validation part scored next to the classical methods (None if it is too short).
        A network beaten by a classical method gives a UserWarning, as the CLI's WARNING."""
        callback, bar = _progress_bar(progress)
        features = [str(f) for f in features]
        with tempfile.TemporaryDirectory() as directory:
            if isinstance(data, (str, os.PathLike)):
                path = name = os.fspath(data)
                if not os.path.isfile(path):
                    raise FileNotFoundError(2, "No such file", path)
                if target is None:
                    raise ValueError("target: fitting on a CSV file needs target=COLUMN")
            else:
                path, target = _write_csv(data, target, directory)
                name = "the series"
            try:
                self._model, self.metrics_ = _lstm.forecast_fit(
                    path, str(target), features, model_choice=self.model_choice,
                    interval=self.interval, data_name=name, on_epoch=callback, **self.options)
            finally:
                if bar is not None:
                    bar.close()
        _warn(self.metrics_["warnings"])
        return self

    def predict(self, steps, data=None, model_choice=None, interval=None):
        """`lstm forecast --steps steps`: the next `steps` values of the target after the last
        row of `data` (a CSV path or what fit accepts; default: the fitted series), in original
        units, by `model_choice` (default: the Forecaster's), with the bounds of a central
        `interval` prediction interval (default: the Forecaster's level) calibrated on the
        rolling-origin validation errors at each step. A pandas DataFrame indexed by the future
        dates (or steps) with the CLI's columns: the target, lower, upper, model (a dict of
        NumPy arrays without pandas). The bounds are NaN when the series is too short to
        validate `steps` steps (a UserWarning says so). `validation_` then holds the
        validation at `steps` steps (as metrics_["rolling"], with the interval's coverage)."""
        model = self._require_model()
        choice, level = _checked_choice(self.model_choice if model_choice is None else model_choice,
                                        self.interval if interval is None else interval)
        with tempfile.TemporaryDirectory() as directory:
            path, name = "", "the fitted series"
            if data is not None:
                if isinstance(data, (str, os.PathLike)):
                    path = name = os.fspath(data)
                    if not os.path.isfile(path):
                        raise FileNotFoundError(2, "No such file", path)
                else:
                    path, _ = _write_csv(data, model.target, directory)
                    name = "the series"
            result = model.forecast(path, int(steps), choice, level, name)
        _warn(result["warnings"])
        self.validation_ = result["validation"]
        columns = {model.target: np.asarray(result["values"]), "lower": np.asarray(result["lower"]),
                   "upper": np.asarray(result["upper"]),
                   "model": np.full(len(result["values"]), result["model"], dtype=object)}
        try:
            import pandas as pd
        except ImportError:
            return dict(columns, index=np.asarray(result["index"]))
        index, kind = result["index"], result["index_kind"]
        if kind == "date":
            future = pd.DatetimeIndex(index, name=result["index_name"])
        else:
            future = pd.Index([float(v) for v in index] if kind == "number" else
                              [int(v) for v in index] if kind == "none" else index,
                              name=result["index_name"] or "step")
        return pd.DataFrame(columns, index=future)

    target = property(lambda self: self._require_model().target)
    window = property(lambda self: self._require_model().window)
    season = property(lambda self: self._require_model().season)

    def save(self, path):
        """Writes the model file `lstm forecast --model` reads (atomically)."""
        try:
            self._require_model().save(os.fspath(path))
        except _lstm.Error as error:
            raise OSError(str(error)) from None

    @classmethod
    def load(cls, path):
        """Reads a forecaster written by save() or `lstm train --task forecast`."""
        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(2, "No such file", path)
        forecaster = cls()
        try:
            forecaster._model = _lstm.forecast_load(path)
        except _lstm.Error as error:
            raise OSError(str(error)) from None
        return forecaster
