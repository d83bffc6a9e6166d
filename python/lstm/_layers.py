"""NumPy layers: lstm.LSTM, lstm.GRU and lstm.RNN over the C++ networks.

Arrays follow PyTorch's shapes: input [T, B, I] (or [B, T, I] with batch_first), output
[T, B, D*Hout], states [L*D, B, Hout] (h) and [L*D, B, H] (c, LSTM only), where Hout is
proj_size if set, else hidden_size. Arrays must have the layer's dtype (float32 by default, or
float64): another dtype is a TypeError. Arrays that are not C-contiguous are copied. Wrong ranks
or shapes, NaN/Inf in the input or states, and lengths outside 1..T are a ValueError naming the
argument. Errors from the library are lstm.Error (a ValueError); file errors are OSError.

Cell variants (README "Cell variants", "Layer-normalised LSTM"), keyword arguments:
LSTM(coupled_gates=True) couples the input and forget gates (i = 1 - f); LSTM(layer_norm=True)
normalises the input and recurrent parts and the cell state (both together: each part over its
3H values); GRU(reset_before=True) applies the
reset gate before the recurrent product; every class takes zoneout=p (training only),
residual=True (layer k >= 1 adds its input to its output) and highway=True (a gate between
layers: y = t*h + (1-t)*x, t = sigmoid(x W_t^T + b_t)). A combination the library refuses
(layer norm with peepholes, say) is a ValueError naming it.
"""
import os
import threading
from collections import OrderedDict

import numpy as np

from . import _lstm

_CLASSES = {
    np.dtype(np.float32): (_lstm.Network32, _lstm.Workspace32),
    np.dtype(np.float64): (_lstm.Network64, _lstm.Workspace64),
}


def _layer_dtype(dtype):
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype: expected float32 or float64, got {dtype!r}") from None
    if dtype not in _CLASSES:
        raise TypeError(f"dtype: expected float32 or float64, got {dtype}")
    return dtype


def _random_seed():
    return int.from_bytes(os.urandom(8), "little")


def _as_array(value, name, dtype, shape, shape_text):
    """`value` as a C-contiguous array of `dtype` with `shape` (None entries match anything)."""
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor
        if value.requires_grad:
            raise TypeError(f"{name}: the tensor requires grad; the NumPy layers do not record "
                            "autograd (use lstm.torch, or pass tensor.detach())")
        value = value.numpy()
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{name}: expected a NumPy array {shape_text}, got {type(value).__name__}")
    if value.dtype != dtype:
        raise TypeError(f"{name}: expected dtype {dtype} (the layer's), got {value.dtype}")
    if value.ndim != len(shape) or any(w is not None and w != v for w, v in zip(shape, value.shape)):
        raise ValueError(f"{name}: expected shape {shape_text}, got {list(value.shape)}")
    if not np.isfinite(value).all():
        raise ValueError(f"{name}: contains NaN or Inf")
    return np.ascontiguousarray(value)


class _Layer:
    """Common part of LSTM, GRU and RNN (see the module docstring for shapes and errors)."""

    def __init__(self, cell, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, peephole=False, dtype=np.float32,
                 seed=None, _network=None, **variants):
        self.dtype = _layer_dtype(dtype)
        network_class, workspace_class = _CLASSES[self.dtype]
        if _network is None:
            for name, value in (("input_size", input_size), ("hidden_size", hidden_size),
                                ("num_layers", num_layers), ("proj_size", proj_size)):
                if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
                    raise TypeError(f"{name}: expected an int, got {type(value).__name__}")
            _network = network_class(cell, int(input_size), int(hidden_size), int(num_layers),
                                      bool(bias), bool(bidirectional), int(proj_size),
                                      bool(peephole), float(dropout), **variants)
            _network.init_uniform(_random_seed() if seed is None else int(seed))
        self._network = _network
        self._workspace = workspace_class()
        self.batch_first = bool(batch_first)
        self._lock = threading.Lock()
        self._forward_input = None  # [T, B, I] of the last training forward (the library reads it in backward)
        self._rng = np.random.default_rng(seed)
        self._layout = [(name, tuple(shape), offset, numel)
                        for name, shape, offset, numel in _network.layout()]

    # --- configuration -------------------------------------------------------------------
    cell = property(lambda self: self._network.cell)
    input_size = property(lambda self: self._network.input_size)
    hidden_size = property(lambda self: self._network.hidden_size)
    proj_size = property(lambda self: self._network.proj_size)
    num_layers = property(lambda self: self._network.num_layers)
    bidirectional = property(lambda self: self._network.bidirectional)
    peephole = property(lambda self: self._network.peephole)
    bias = property(lambda self: self._network.bias)
    dropout = property(lambda self: self._network.dropout)
    num_parameters = property(lambda self: self._network.num_parameters)
    # {'coupled_gates', 'reset_before', 'layer_norm', 'zoneout', 'residual', 'highway'}
    variants = property(lambda self: self._network.variants)
    zoneout = property(lambda self: self._network.variants["zoneout"])

    def __repr__(self):
        return f"lstm.{type(self).__name__}({self._network.describe()}, dtype={self.dtype})"

    def _state_shapes(self):
        rows = self.num_layers * (2 if self.bidirectional else 1)
        h_width = self.proj_size or self.hidden_size
        return rows, h_width

    # --- parameters ----------------------------------------------------------------------
    def state_dict(self):
        """Every parameter by its PyTorch name, as NumPy views of the network (no copy)."""
        flat = self._network.parameters()
        return OrderedDict((name, flat[offset:offset + numel].reshape(shape))
                           for name, shape, offset, numel in self._layout)

    def load_state_dict(self, state_dict):
        """Copies every tensor of `state_dict` (NumPy arrays or torch tensors) into the network.
        The names must be exactly the network's and the shapes must match (ValueError)."""
        own = self.state_dict()
        missing = [name for name in own if name not in state_dict]
        unexpected = [name for name in state_dict if name not in own]
        if missing or unexpected:
            raise ValueError(f"load_state_dict: missing {missing}, unexpected {unexpected}")
        values = {}
        for name, target in own.items():
            value = state_dict[name]
            if hasattr(value, "detach"):
                value = value.detach().cpu().numpy()
            value = np.asarray(value)
            if value.shape != target.shape:
                raise ValueError(f"load_state_dict: {name}: expected shape {list(target.shape)}, "
                                 f"got {list(value.shape)}")
            values[name] = value
        for name, target in own.items():
            np.copyto(target, values[name], casting="same_kind")

    def save(self, path, metadata=None):
        """Writes the network as the CLI does (safetensors, PyTorch names, float32), atomically."""
        _lstm.save_network(os.fspath(path), self._network, dict(metadata or {}))

    # --- computation ---------------------------------------------------------------------
    def __call__(self, x, state=None, lengths=None, training=False):
        return self.forward(x, state, lengths, training)

    def forward(self, x, state=None, lengths=None, training=False):
        """y, h_n (GRU, RNN) or y, (h_n, c_n) (LSTM). `state` is h0 (GRU, RNN) or (h0, c0) (LSTM;
        either may be None = zeros). `lengths` [B] ints in 1..T. training=True applies dropout
        and keeps what backward needs."""
        first, second = ("B", "T") if self.batch_first else ("T", "B")
        x = _as_array(x, "x", self.dtype, (None, None, self.input_size),
                      f"[{first}, {second}, {self.input_size}]")
        if self.batch_first:
            x = np.ascontiguousarray(x.transpose(1, 0, 2))
        steps, batch = x.shape[0], x.shape[1]
        rows, h_width = self._state_shapes()
        h0, c0 = self._split_state(state)
        if h0 is not None:
            h0 = _as_array(h0, "h0", self.dtype, (rows, batch, h_width), f"[{rows}, {batch}, {h_width}]")
        if c0 is not None:
            c0 = _as_array(c0, "c0", self.dtype, (rows, batch, self.hidden_size),
                           f"[{rows}, {batch}, {self.hidden_size}]")
        if lengths is not None:
            lengths = np.asarray(lengths)
            if lengths.dtype.kind not in "iu":
                raise TypeError(f"lengths: expected integers, got dtype {lengths.dtype}")
            if lengths.shape != (batch,):
                raise ValueError(f"lengths: expected shape [{batch}], got {list(lengths.shape)}")
            lengths = np.ascontiguousarray(lengths, dtype=np.int64)
            if lengths.min() < 1 or lengths.max() > steps:
                raise ValueError(f"lengths: every length must be in 1..{steps} (T), got {lengths.tolist()}")
        y = np.empty((steps, batch, (2 if self.bidirectional else 1) * h_width), self.dtype)
        h_n = np.empty((rows, batch, h_width), self.dtype)
        c_n = np.empty((rows, batch, self.hidden_size), self.dtype) if self.cell == "lstm" else None
        random = training and (self.dropout > 0 or self.zoneout > 0)
        seed = int(self._rng.integers(0, 2**63)) if random else 0
        with self._lock:
            self._network.forward(self._workspace, bool(training), x, lengths, h0, c0, y, h_n, c_n, seed)
            self._forward_input = x if training else None
        if self.batch_first:
            y = y.transpose(1, 0, 2)
        return y, ((h_n, c_n) if c_n is not None else h_n)

    def backward(self, dy, dh_n=None, dc_n=None):
        """Gradients of sum(y * dy) + sum(h_n * dh_n) + sum(c_n * dc_n) for the last training
        forward: a dict with every parameter by its state_dict name, plus 'input' (shaped like x),
        'h0' and (LSTM) 'c0'. None stands for zeros."""
        x = self._forward_input
        if x is None:
            raise ValueError("backward: call forward(..., training=True) first")
        steps, batch = x.shape[0], x.shape[1]
        rows, h_width = self._state_shapes()
        width = (2 if self.bidirectional else 1) * h_width
        first, second = ("B", "T") if self.batch_first else ("T", "B")
        if dy is not None:
            dy = _as_array(dy, "dy", self.dtype, (batch, steps, width) if self.batch_first
                           else (steps, batch, width), f"[{first}, {second}, {width}] as y")
            if self.batch_first:
                dy = np.ascontiguousarray(dy.transpose(1, 0, 2))
        if dh_n is not None:
            dh_n = _as_array(dh_n, "dh_n", self.dtype, (rows, batch, h_width), f"[{rows}, {batch}, {h_width}]")
        lstm_cell = self.cell == "lstm"
        if dc_n is not None:
            if not lstm_cell:
                raise ValueError(f"dc_n: a {self.cell} has no cell state")
            dc_n = _as_array(dc_n, "dc_n", self.dtype, (rows, batch, self.hidden_size),
                             f"[{rows}, {batch}, {self.hidden_size}]")
        grad_params = np.zeros(self.num_parameters, self.dtype)
        grad_input = np.empty_like(x)
        grad_h0 = np.empty((rows, batch, h_width), self.dtype)
        grad_c0 = np.empty((rows, batch, self.hidden_size), self.dtype) if lstm_cell else None
        with self._lock:
            if self._forward_input is not x:
                raise ValueError("backward: another forward ran since; call forward(..., training=True) again")
            self._network.backward(self._workspace, dy, dh_n, dc_n, grad_params, grad_input,
                                   grad_h0, grad_c0)
        grads = OrderedDict((name, grad_params[offset:offset + numel].reshape(shape))
                            for name, shape, offset, numel in self._layout)
        grads["input"] = grad_input.transpose(1, 0, 2) if self.batch_first else grad_input
        grads["h0"] = grad_h0
        if lstm_cell:
            grads["c0"] = grad_c0
        return grads

    def _split_state(self, state):
        if state is None:
            return None, None
        if self.cell == "lstm":
            if not isinstance(state, (tuple, list)) or len(state) != 2:
                raise TypeError("state: expected a tuple (h0, c0) for an LSTM (either may be None)")
            return state[0], state[1]
        return state, None


class LSTM(_Layer):
    """LSTM (optionally peephole, projection, stacked, bidirectional) over NumPy arrays."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, peephole=False, dtype=np.float32,
                 seed=None, coupled_gates=False, layer_norm=False, zoneout=0.0, residual=False,
                 highway=False):
        super().__init__("lstm", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, peephole, dtype, seed, coupled_gates=bool(coupled_gates),
                         layer_norm=bool(layer_norm), zoneout=float(zoneout), residual=bool(residual),
                         highway=bool(highway))


class GRU(_Layer):
    """GRU (PyTorch's form) over NumPy arrays."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=np.float32, seed=None, reset_before=False,
                 zoneout=0.0, residual=False, highway=False):
        super().__init__("gru", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, False, dtype, seed, reset_before=bool(reset_before),
                         zoneout=float(zoneout), residual=bool(residual),
                         highway=bool(highway))


class RNN(_Layer):
    """Vanilla RNN, nonlinearity 'tanh' or 'relu', over NumPy arrays."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, nonlinearity="tanh", dtype=np.float32, seed=None,
                 zoneout=0.0, residual=False, highway=False):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity: expected 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__("rnn_" + nonlinearity, input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional, 0, False, dtype, seed,
                         zoneout=float(zoneout), residual=bool(residual),
                         highway=bool(highway))

    nonlinearity = property(lambda self: self.cell[4:])


_BY_CELL = {"lstm": LSTM, "gru": GRU, "rnn_tanh": RNN, "rnn_relu": RNN}


def load(path, dtype=np.float32, batch_first=False, cell=None):
    """Reads a model file the CLI reads (a bare network, or the `rnn.` part of a trained model)
    as an lstm.LSTM, GRU or RNN. `cell` overrides what the file says ('rnn_relu', ...).
    A missing or bad file is an OSError whose message names the file and the tensor."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(2, "No such file", path)
    network = _lstm.load_network(path, cell or "")
    dtype = _layer_dtype(dtype)
    if dtype != np.float32:
        converted = _CLASSES[dtype][0](network.cell, network.input_size, network.hidden_size,
                                       network.num_layers, network.bias, network.bidirectional,
                                       network.proj_size, network.peephole, network.dropout,
                                       **network.variants)
        converted.parameters()[:] = network.parameters()
        network = converted
    layer = _Layer.__new__(_BY_CELL[network.cell])
    _Layer.__init__(layer, network.cell, 0, 0, dtype=dtype, batch_first=batch_first, _network=network)
    return layer
