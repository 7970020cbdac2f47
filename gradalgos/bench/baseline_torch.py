"""Optional baseline: PyTorch autograd through ``torch.nn.RNN`` / ``LSTM`` / ``GRU``.

Timed on the same sizes and data as the JAX configs (CPU, or CUDA for ``--device gpu``).
The Elman case copies gradalgos's parameters into ``torch.nn.RNN`` and is checked against
the float64 reference; LSTM and GRU (different gate layouts) are timed only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradalgos.bench import agreement
from gradalgos.bench.case import make_case
from gradalgos.bench.config import BenchConfig
from gradalgos.bench.timing import time_calls
from gradalgos.cells.dependence import num_state_params

__all__ = ["TORCH_CELLS", "measure_torch", "torch_available"]

TORCH_CELLS = {"elman": "RNN", "lstm": "LSTM", "gru": "GRU"}


def torch_available() -> str | None:
    """``None`` if torch imports, else the reason it does not."""
    try:
        import torch  # noqa: F401
    except ImportError as e:
        return f"torch is not importable ({e}); install torch to time the PyTorch baseline"
    return None


def measure_torch(config: BenchConfig) -> dict[str, Any]:
    """Time ``loss.backward()`` of a torch RNN on the config's case, as the JAX configs are
    timed (:func:`~gradalgos.bench.timing.time_calls`); no XLA memory or FLOP fields."""
    import torch

    if config.cell not in TORCH_CELLS:
        raise ValueError(f"no torch counterpart for cell {config.cell!r} ({sorted(TORCH_CELLS)})")
    dtype = {"float32": torch.float32, "float64": torch.float64}[config.dtype]
    device = "cuda" if config.device == "gpu" else "cpu"
    # As JAX's matmul precision: TF32 (matrix units' float32 mode) only when not "highest".
    torch.backends.cuda.matmul.allow_tf32 = config.precision != "highest"
    torch.backends.cudnn.allow_tf32 = config.precision != "highest"
    case = make_case(config)
    n, o = config.n, case.cell.output_size
    rnn = getattr(torch.nn, TORCH_CELLS[config.cell])(case.cell.input_size, n, batch_first=True)
    readout = torch.nn.Linear(n, o)
    rnn, readout = rnn.to(device, dtype), readout.to(device, dtype)
    elman = config.cell == "elman"
    # gradalgos's Elman parameters and their torch counterparts (torch's second bias is zero)
    ours = {"W_in": rnn.weight_ih_l0, "W_rec": rnn.weight_hh_l0, "b": rnn.bias_ih_l0}
    ours |= {"W_out": readout.weight, "b_out": readout.bias}
    if elman:
        with torch.no_grad():
            for name, dst in ours.items():
                dst.copy_(torch.as_tensor(np.array(case.params[name])))
            rnn.bias_hh_l0.zero_()
    xs = torch.as_tensor(np.array(case.xs), device=device)
    targets = torch.as_tensor(np.array(case.targets), device=device)

    def step() -> torch.Tensor:
        rnn.zero_grad(set_to_none=True)
        readout.zero_grad(set_to_none=True)
        hs = rnn(xs)[0]
        loss = ((readout(hs) - targets) ** 2).mean(-1).sum(-1).mean()
        loss.backward()
        if device == "cuda":
            torch.cuda.synchronize()
        return loss

    timed = time_calls(step, config.repeats)
    row: dict[str, Any] = {
        "S": case.cell.state_size,
        "P": case.cell.num_params,
        "P_state": num_state_params(case.cell),
        "compile_s": 0.0,
        **{k: v for k, v in timed.items() if k != "output"},
        "time_per_step_s": timed["time_median_s"] / config.T,
        "loss": float(timed["output"].detach()),
    }
    if elman:
        grads = {k: v.grad.detach().cpu().double().numpy() for k, v in ours.items()}
        ref_value, ref_grads = agreement.reference(case)
        row["ref_loss"] = ref_value
        row.update(agreement.compare(grads, ref_grads))
    return row
