"""lstm.torch: drop-in replacements for torch.nn.LSTM, GRU and RNN, computed by lstm's kernels.

Same constructor, parameter names and shapes, state_dict, inputs (tensors or PackedSequence,
optional initial states, batch_first, unbatched 2-D input) and outputs as torch.nn; autograd
runs lstm's backpropagation through time. CPU only, float32 or float64. The parameters are
views of the C++ network's flat buffer, so an optimizer step writes straight into it; if they
are replaced (module.double(), deepcopy, pickling), the network is rebuilt from them at the
next call. Extra options (keyword arguments; README "Cell variants"): LSTM(peephole=True) adds
weight_peephole_l{k}{s} [3H] (i, f, o); LSTM(coupled_gates=True) has three gates (f, g, o) and
i = 1 - f; LSTM(layer_norm=True) adds weight_ln_ih, weight_ln_hh [4H] (3H with coupled gates),
weight_ln_c, bias_ln_c [H]; GRU(reset_before=True) applies the reset gate before the recurrent product; every class
takes zoneout=p (in training mode), residual=True and highway=True (weight_highway_l{k},
bias_highway_l{k} [D*Hout, D*Hout], [D*Hout] for k >= 1; the bias starts at -1).
"""
import math
import numbers
import warnings

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from ._torch_backend import _CLASSES, Backend, Call, RecurrentFunction

__all__ = ["LSTM", "GRU", "RNN"]

_CELLS = {"LSTM": "lstm", "GRU": "gru", "RNN_TANH": "rnn_tanh", "RNN_RELU": "rnn_relu"}
_VARIANTS = {"coupled_gates": False, "layer_norm": False, "reset_before": False, "zoneout": 0.0,
             "residual": False, "highway": False}


class RNNBase(nn.Module):
    """torch.nn.RNNBase's interface over lstm's networks."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None,
                 peephole=False, coupled_gates=False, layer_norm=False, reset_before=False,
                 zoneout=0.0, residual=False, highway=False):
        super().__init__()
        if mode not in _CELLS:
            raise ValueError("Unrecognized RNN mode: " + str(mode))
        if (not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1
                or isinstance(dropout, bool)):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if peephole and mode != "LSTM":
            raise ValueError("peephole is an LSTM option")
        if device is not None and torch.device(device).type != "cpu":
            raise ValueError(f"lstm.torch computes on the CPU only, got device={device}")
        dtype = torch.get_default_dtype() if dtype is None else dtype
        if dtype not in _CLASSES:
            raise TypeError(f"lstm.torch supports float32 and float64 parameters, got dtype={dtype}")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        self.peephole = peephole
        self.coupled_gates = bool(coupled_gates)
        self.layer_norm = bool(layer_norm)
        self.reset_before = bool(reset_before)
        self.zoneout = float(zoneout)
        self.residual = bool(residual)
        self.highway = bool(highway)
        backend = Backend(self._config(), self._variants(), dtype)
        self._flat_weights_names = [name for name, _, _, _ in backend.layout]
        self._backend = backend
        for name, view in zip(self._flat_weights_names, backend.views()):
            self.register_parameter(name, nn.Parameter(view))
        self.reset_parameters()

    def _config(self):
        return (_CELLS[self.mode], self.input_size, self.hidden_size, self.num_layers, self.bias,
                self.bidirectional, self.proj_size, self.peephole, self.dropout)

    def _variants(self):
        # getattr: modules pickled before the variants existed have none
        return {name: getattr(self, name, default) for name, default in _VARIANTS.items()}

    def reset_parameters(self):
        """torch.nn's initialisation, U(-1/sqrt(H), 1/sqrt(H)), drawn from torch's generator in
        the same order: after torch.manual_seed(s) both modules start from the same weights."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for name, weight in self.named_parameters():
            if name.startswith("weight_ln_"):  # layer normalisation: gains 1, bias 0
                nn.init.ones_(weight)
            elif name.startswith("bias_ln_"):
                nn.init.zeros_(weight)
            elif name.startswith("bias_highway_"):  # mostly carry at first, as the library
                nn.init.constant_(weight, -1.0)
            else:
                nn.init.uniform_(weight, -stdv, stdv)

    def flatten_parameters(self):
        """Kept for compatibility: the parameters always lie in one flat buffer."""

    @property
    def all_weights(self):
        return [[getattr(self, name) for name in names] for names in self._weight_groups()]

    def _weight_groups(self):
        groups = {}
        for name in self._flat_weights_names:
            groups.setdefault(name.split("_l", 1)[1], []).append(name)
        return list(groups.values())

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        if self.peephole:
            s += ", peephole=True"
        for name, default in _VARIANTS.items():
            if getattr(self, name, default) != default:
                s += f", {name}={getattr(self, name)}"
        return s.format(**self.__dict__)

    # --- pickling, copying, conversions ----------------------------------------------------
    def __getstate__(self):
        state = self.__dict__.copy()
        state["_backend"] = None  # rebuilt from the parameters at the next call
        return state

    def __setstate__(self, state):
        super().__setstate__(state)

    def _current_backend(self, parameters):
        """The backend whose buffer the parameters view; rebuilt if they were replaced."""
        backend = self._backend
        if backend is not None and len(parameters) == len(backend.addresses):
            for parameter, address in zip(parameters, backend.addresses):
                if parameter.data_ptr() != address:
                    break
            else:
                return backend
        return self._rebuild(parameters)

    def _rebuild(self, parameters):
        if any(p is None for p in parameters):
            raise RuntimeError("lstm.torch: a parameter was removed from the module")
        dtypes = {p.dtype for p in parameters}
        devices = {p.device.type for p in parameters}
        if devices != {"cpu"}:
            raise RuntimeError(f"lstm.torch computes on the CPU only; the parameters are on {sorted(devices)}")
        if len(dtypes) != 1 or next(iter(dtypes)) not in _CLASSES:
            raise TypeError(f"lstm.torch supports float32 or float64 parameters of one dtype, got {sorted(map(str, dtypes))}")
        backend = Backend(self._config(), self._variants(), next(iter(dtypes)))
        with torch.no_grad():
            for parameter, view, (name, shape, _, _) in zip(parameters, backend.views(), backend.layout):
                if tuple(parameter.shape) != shape:
                    raise RuntimeError(f"lstm.torch: {name} has shape {list(parameter.shape)}, expected {list(shape)}")
                view.copy_(parameter)
                parameter.data = view
        self._backend = backend
        return backend

    # --- forward ---------------------------------------------------------------------------
    def _check_state(self, name, state, expected, dtype):
        if not isinstance(state, torch.Tensor):
            raise TypeError(f"{name}: expected a tensor, got {type(state).__name__}")
        if tuple(state.shape) != expected:
            raise RuntimeError(f"Expected {name} size {expected}, got {list(state.shape)}")
        if state.dtype != dtype:
            raise RuntimeError(f"{name} must have the type {dtype}, got type {state.dtype}")
        if state.device.type != "cpu":
            raise RuntimeError(f"lstm.torch computes on the CPU only; {name} is on {state.device}")
        return state.contiguous()

    def _initial_states(self, hx, unbatched, batch, dtype):
        """(h0, c0) checked against [L·D, B, Hout] and [L·D, B, H] (c0 None but for LSTM)."""
        rows = self.num_layers * (2 if self.bidirectional else 1)
        is_lstm = self.mode == "LSTM"
        c0 = None
        if is_lstm:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError("LSTM: hx must be a tuple (h_0, c_0)")
            h0, c0 = hx
        else:
            h0 = hx
        if unbatched:
            h0 = h0.unsqueeze(1) if isinstance(h0, torch.Tensor) and h0.dim() == 2 else h0
            c0 = c0.unsqueeze(1) if isinstance(c0, torch.Tensor) and c0.dim() == 2 else c0
        h0 = self._check_state("hidden[0]" if is_lstm else "hidden", h0,
                               (rows, batch, self.proj_size or self.hidden_size), dtype)
        if is_lstm:
            c0 = self._check_state("hidden[1]", c0, (rows, batch, self.hidden_size), dtype)
        return h0, c0

    # The per-call path is kept short: at batch 1 its Python cost is comparable to the compute.
    def forward(self, input, hx=None):
        parameters = [self._parameters[name] for name in self._flat_weights_names]
        backend = self._current_backend(parameters)
        dtype = backend.dtype
        lengths = None
        unbatched = packed = False
        if isinstance(input, torch.Tensor):
            rank = input.dim()
            if rank == 3:
                x = input.transpose(0, 1) if self.batch_first else input
            elif rank == 2:
                unbatched = True
                x = input.unsqueeze(1)
            else:
                raise ValueError(f"{type(self).__name__}: Expected input to be 2-D or 3-D but "
                                 f"received {rank}-D tensor")
        elif isinstance(input, PackedSequence):
            packed = True
            x, lengths = pad_packed_sequence(input)  # [T, B, I] in the caller's batch order
            lengths = lengths.contiguous()
        else:
            raise TypeError(f"input: expected a tensor or PackedSequence, got {type(input).__name__}")
        if not x.is_cpu:
            raise RuntimeError(f"lstm.torch computes on the CPU only; the input is on {x.device}")
        if x.dtype != dtype:
            raise RuntimeError(f"input must have the type {dtype}, got type {x.dtype}")
        steps, batch, features = x.shape
        if features != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {features}")
        if steps == 0 or batch == 0:
            raise RuntimeError(f"lstm.torch: empty input of shape {list(x.shape)}")
        x = x.contiguous()
        h0 = c0 = None
        if hx is not None:
            h0, c0 = self._initial_states(hx, unbatched, batch, dtype)

        random = self.training and ((self.dropout > 0 and self.num_layers > 1)
                                    or getattr(self, "zoneout", 0.0) > 0)  # dropout, zoneout
        seed = int(torch.randint(0, 2**62, (1,)).item()) if random else 0
        if torch.is_grad_enabled() and (
                x.requires_grad or any(p.requires_grad for p in parameters)
                or (h0 is not None and h0.requires_grad) or (c0 is not None and c0.requires_grad)):
            network = backend.network if random else backend.network_without_randomness()
            call = Call(backend, network, steps, batch, lengths, seed)
            results = RecurrentFunction.apply(call, x, h0, c0, *parameters)
            y, h_n = results[0], results[1]
            c_n = results[2] if backend.is_lstm else None
        else:
            y, h_n, c_n = backend.infer(random, steps, batch, x.detach(), lengths, h0, c0, seed)

        if packed:
            if input.sorted_indices is not None:
                y = y.index_select(1, input.sorted_indices)
                lengths = lengths.index_select(0, input.sorted_indices)
            data = pack_padded_sequence(y, lengths, enforce_sorted=True).data
            output = PackedSequence(data, input.batch_sizes, input.sorted_indices, input.unsorted_indices)
        elif unbatched:
            output, h_n = y.squeeze(1), h_n.squeeze(1)
            c_n = c_n.squeeze(1) if c_n is not None else None
        else:
            output = y.transpose(0, 1) if self.batch_first else y
        return (output, (h_n, c_n)) if backend.is_lstm else (output, h_n)


class LSTM(RNNBase):
    """torch.nn.LSTM computed by lstm (same arguments; also peephole=True)."""

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)


class GRU(RNNBase):
    """torch.nn.GRU computed by lstm."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)


class RNN(RNNBase):
    """torch.nn.RNN computed by lstm (nonlinearity='tanh' or 'relu')."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'")
        super().__init__(mode, *args, **kwargs)
