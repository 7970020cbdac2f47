"""Input checks, run in Python on shapes and dtypes before anything is traced or compiled.

Every failure is a ``TypeError`` (wrong kind or dtype) or ``ValueError`` (wrong shape or value)
whose message names the argument and says what was expected.

NaN/inf policy: when the inputs are concrete arrays (not traced under a user's ``jit``/``vmap``),
``xs``, float ``targets``, ``mask``, ``params`` and the initial state are checked for non-finite
values and a ``ValueError`` is raised. Under a user's transformation values are unknown, and
NaN propagates to the loss and gradient as IEEE arithmetic dictates.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gradalgos.cells.base import AbstractCell, Params, State
from gradalgos.losses import mse, sigmoid_binary_cross_entropy, sum_squared_error

#: Built-in losses that compare y with a float target of the output's shape: integer labels
#: would broadcast against every output and give a number without meaning.
_FLOAT_TARGET_LOSSES = (mse, sum_squared_error, sigmoid_binary_cross_entropy)

__all__ = [
    "Batch",
    "check_cell",
    "check_key",
    "check_online_init",
    "check_online_step",
    "check_online_structure",
    "check_params",
    "check_sensitivity",
    "check_state",
    "check_traces",
    "validate",
]


class Batch(NamedTuple):
    """Validated inputs, always with a batch axis (``batched`` says whether the user gave one)."""

    params: Params
    state0: State
    xs: jax.Array
    targets: jax.Array
    mask: jax.Array | None
    batched: bool
    state_batched: bool


def _values(x: Any) -> np.ndarray | None:
    """The values of ``x`` as a NumPy array, or ``None`` when ``x`` is traced (unknown)."""
    try:
        return np.asarray(x)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None


def _is_deleted(x: Any) -> bool:
    """Whether ``x`` is a concrete JAX array whose buffers were donated (or deleted)."""
    return isinstance(x, jax.Array) and not isinstance(x, jax.core.Tracer) and x.is_deleted()


def _as_array(name: str, x: Any) -> jax.Array:
    if isinstance(x, jax.Array):
        return x
    if isinstance(x, np.ndarray | np.generic | list | tuple | int | float | bool):
        return jnp.asarray(x)
    raise TypeError(f"{name} must be an array, got {type(x).__name__}")


def _shape_str(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def check_cell(cell: Any) -> AbstractCell:
    if not isinstance(cell, AbstractCell):
        raise TypeError(
            f"cell must be a gradalgos cell (an AbstractCell, e.g. ga.cells.Elman), "
            f"got {type(cell).__name__}"
        )
    return cell


@functools.lru_cache(maxsize=256)
def _expected(cell: AbstractCell, what: str) -> tuple[Any, tuple[tuple[int, ...], ...]]:
    """Tree structure and leaf shapes of ``cell.init`` (``what="params"``) or
    ``cell.initial_state`` (``what="state"``), from shapes only (nothing is computed)."""
    if what == "params":
        shapes = jax.eval_shape(cell.init, jax.random.key(0))
    else:
        shapes = jax.eval_shape(cell.initial_state)
    leaves, treedef = jax.tree_util.tree_flatten(shapes)
    return treedef, tuple(tuple(leaf.shape) for leaf in leaves)


def _matching_leaves(
    cell: AbstractCell, what: str, tree: Any, name: str, source: str
) -> tuple[list[Any], tuple[tuple[int, ...], ...]]:
    """The leaves of ``tree`` after checking its structure; and the expected leaf shapes."""
    treedef, shapes = _expected(cell, what)
    leaves, got_def = jax.tree_util.tree_flatten(tree)
    if got_def != treedef:
        raise ValueError(
            f"{name} does not match {type(cell).__name__}.{source}: expected a pytree "
            f"{treedef}, got {got_def}"
        )
    return leaves, shapes


def _float_dtype_of(name: str, leaves: list[Any]) -> jnp.dtype:
    for leaf in leaves:
        if not hasattr(leaf, "dtype"):
            raise TypeError(f"{name} must contain arrays, got a {type(leaf).__name__} leaf")
    dtypes = {jnp.dtype(leaf.dtype) for leaf in leaves}
    for dt in dtypes:
        if not jnp.issubdtype(dt, jnp.floating):
            raise TypeError(f"{name} must contain floating arrays, got dtype {dt}")
    if len(dtypes) > 1:
        raise TypeError(f"{name} mixes dtypes {sorted(map(str, dtypes))}; use one float dtype")
    return dtypes.pop()


def _check_finite(name: str, x: Any) -> None:
    values = _values(x)
    if values is not None and not np.isfinite(values).all():
        raise ValueError(f"{name} contains NaN or inf; gradalgos refuses non-finite inputs")


def check_params(cell: AbstractCell, params: Params) -> jnp.dtype:
    """Check structure, shapes and dtype of ``params`` against ``cell.init``; return the dtype."""
    leaves, shapes = _matching_leaves(cell, "params", params, "params", "init")
    for i, (leaf, shape) in enumerate(zip(leaves, shapes, strict=True)):
        if not hasattr(leaf, "shape") or tuple(leaf.shape) != shape:
            got = _shape_str(tuple(leaf.shape)) if hasattr(leaf, "shape") else type(leaf).__name__
            raise ValueError(f"params leaf {i} must have shape {_shape_str(shape)}, got {got}")
    dtype = _float_dtype_of("params", leaves)
    for leaf in leaves:
        _check_finite("params", leaf)
    return dtype


def check_state(
    cell: AbstractCell, state: State, batch: int | None, dtype: jnp.dtype, name: str = "state0"
) -> bool:
    """Check ``state`` against ``cell.initial_state()``; return whether it has a batch axis.

    With ``batch`` given, each leaf may be unbatched (shared by all sequences) or carry a
    leading axis of that size; all leaves must agree.
    """
    leaves, shapes = _matching_leaves(cell, "state", state, name, "initial_state()")
    batched = set()
    for i, (leaf, shape) in enumerate(zip(leaves, shapes, strict=True)):
        got = tuple(getattr(leaf, "shape", ()))
        if got == shape:
            batched.add(False)
        elif batch is not None and got == (batch, *shape):
            batched.add(True)
        else:
            want = _shape_str(shape)
            if batch is not None:
                want += f" or {_shape_str((batch, *shape))}"
            raise ValueError(f"{name} leaf {i} must have shape {want}, got {_shape_str(got)}")
    if len(batched) > 1:
        raise ValueError(f"{name} mixes batched and unbatched leaves")
    state_dtype = _float_dtype_of(name, leaves)
    if state_dtype != dtype:
        raise TypeError(f"{name} has dtype {state_dtype} but params have {dtype}; cast one of them")
    for leaf in leaves:
        _check_finite(name, leaf)
    return batched == {True}


def _check_targets(
    cell: AbstractCell, targets: jax.Array, lead: tuple[int, ...], dtype, loss: Any
) -> None:
    if jnp.issubdtype(targets.dtype, jnp.integer):
        if tuple(targets.shape) != lead:
            raise ValueError(
                f"integer targets (class labels) must have shape {_shape_str(lead)}, got "
                f"{_shape_str(tuple(targets.shape))}"
            )
        _check_target_values(cell, targets)
        if loss in _FLOAT_TARGET_LOSSES:
            raise TypeError(
                f"loss={loss.__name__} compares the outputs with float targets of shape "
                f"(..., output_size); integer targets are class labels: use "
                f"loss=gradalgos.losses.cross_entropy (or cast the targets to float)"
            )
        return
    if not jnp.issubdtype(targets.dtype, jnp.floating):
        raise TypeError(f"targets must be a float or integer array, got dtype {targets.dtype}")
    want = (*lead, cell.output_size)
    if tuple(targets.shape) != want:
        raise ValueError(
            f"targets must have shape {_shape_str(want)} (leading axes of xs, then output_size="
            f"{cell.output_size}), got {_shape_str(tuple(targets.shape))}"
        )
    if targets.dtype != dtype:
        raise TypeError(f"targets has dtype {targets.dtype} but params have {dtype}; cast one")
    _check_target_values(cell, targets)


def _check_target_values(cell: AbstractCell, targets: Any) -> None:
    """Integer labels in ``[0, output_size)``; float targets finite (shapes checked before)."""
    if not jnp.issubdtype(targets.dtype, jnp.integer):
        _check_finite("targets", targets)
        return
    t = _values(targets)
    if t is not None and t.size and (t.min() < 0 or t.max() >= cell.output_size):
        raise ValueError(
            f"integer targets must lie in [0, output_size={cell.output_size}), got "
            f"values in [{t.min()}, {t.max()}]"
        )


def _check_mask(mask: Any, lead: tuple[int, ...]) -> jax.Array | None:
    if mask is None:
        return None
    mask = _as_array("mask", mask)
    if not (jnp.issubdtype(mask.dtype, jnp.floating) or mask.dtype == jnp.bool_):
        raise TypeError(f"mask must be a bool or float array, got dtype {mask.dtype}")
    if tuple(mask.shape) != lead:
        raise ValueError(
            f"mask must have shape {_shape_str(lead)} (the leading axes of xs), got "
            f"{_shape_str(tuple(mask.shape))}"
        )
    _check_finite("mask", mask)
    return mask


@functools.lru_cache(maxsize=256)
def _loss_output(loss: Any, y: jax.ShapeDtypeStruct, target: jax.ShapeDtypeStruct) -> str | None:
    """What is wrong with ``loss(y, target)``'s output for one step (``None``: a float scalar),
    from ``jax.eval_shape`` (no computation; cached per loss and shapes)."""
    try:
        out = jax.eval_shape(loss, y, target)
    except Exception as e:  # the user's function failed on the step's shapes: say so, with why
        return f"raised {type(e).__name__}: {e}"
    if not isinstance(out, jax.ShapeDtypeStruct) or out.shape != ():
        got = _shape_str(out.shape) if isinstance(out, jax.ShapeDtypeStruct) else type(out)
        return f"returned {got}, not a scalar"
    if not jnp.issubdtype(out.dtype, jnp.floating):
        return f"returned dtype {out.dtype}, not a float"
    return None


def _check_loss(
    cell: AbstractCell, loss: Any, targets: jax.Array, lead: tuple[int, ...], dtype: Any
) -> None:
    """``loss(y (output_size,), target of one step)`` must return a float scalar."""
    y = jax.ShapeDtypeStruct((cell.output_size,), dtype)
    target = jax.ShapeDtypeStruct(tuple(targets.shape[len(lead) :]), targets.dtype)
    try:
        problem = _loss_output(loss, y, target)
    except TypeError:  # an unhashable callable: check without the cache
        problem = _loss_output.__wrapped__(loss, y, target)
    if problem is not None:
        raise TypeError(
            f"loss must map (y {_shape_str(y.shape)}, target {_shape_str(target.shape)} "
            f"{target.dtype}) to a float scalar; {getattr(loss, '__name__', loss)!r} {problem}"
        )


def _check_targets_and_loss(
    cell: AbstractCell, targets: Any, lead: tuple[int, ...], dtype: Any, loss: Any
) -> jax.Array:
    """``loss`` callable, ``targets`` matching the leading axes ``lead`` and the cell, and
    ``loss`` mapping one step's output and target to a float scalar; returns the targets as
    an array."""
    if not callable(loss):
        raise TypeError(f"loss must be a callable ℓ(y, target) -> scalar, got {loss!r}")
    targets = _as_array("targets", targets)
    _check_targets(cell, targets, lead, dtype, loss)
    _check_loss(cell, loss, targets, lead, dtype)
    return targets


def validate(
    cell: Any, params: Params, state0: State, xs: Any, targets: Any, mask: Any, loss: Any
) -> Batch:
    """All checks of :func:`gradalgos.value_and_grad`; returns the normalised inputs."""
    cell = check_cell(cell)
    dtype = check_params(cell, params)
    xs = _as_array("xs", xs)
    if not jnp.issubdtype(xs.dtype, jnp.floating):
        raise TypeError(f"xs must be a floating array, got dtype {xs.dtype}")
    if xs.ndim not in (2, 3):
        raise ValueError(
            f"xs must have shape (T, input_size) or (B, T, input_size), got {xs.ndim} axes "
            f"{_shape_str(tuple(xs.shape))}"
        )
    if xs.shape[-1] != cell.input_size:
        raise ValueError(
            f"xs must have input_size={cell.input_size} features on its last axis, got "
            f"{_shape_str(tuple(xs.shape))}"
        )
    batched = xs.ndim == 3
    lead = tuple(xs.shape[:-1])
    if lead[-1] == 0:
        raise ValueError("xs is an empty sequence (T = 0); need at least one step")
    if batched and lead[0] == 0:
        raise ValueError("xs is an empty batch (B = 0); need at least one sequence")
    if xs.dtype != dtype:
        raise TypeError(f"xs has dtype {xs.dtype} but params have {dtype}; cast one of them")
    _check_finite("xs", xs)
    targets = _check_targets_and_loss(cell, targets, lead, dtype, loss)
    mask = _check_mask(mask, lead)
    state_batched = check_state(cell, state0, lead[0] if batched else None, dtype)
    return Batch(params, state0, xs, targets, mask, batched, state_batched)


def check_online_init(cell: Any, params: Params, state0: State) -> None:
    cell = check_cell(cell)
    dtype = check_params(cell, params)
    check_state(cell, state0, None, dtype)


def check_key(algorithm: Any, cell: AbstractCell, key: Any) -> jax.Array | None:
    """``key`` as a typed PRNG key (a raw ``uint32 (2,)`` key is wrapped), or ``None``.

    Raises:
        ValueError: ``key`` is ``None`` but ``algorithm`` samples noise.
        TypeError: ``key`` is not a PRNG key.
    """
    name = repr(algorithm)
    if key is None:
        if algorithm.needs_key:
            raise ValueError(
                f"{name} samples noise: pass key=jax.random.key(seed) (to init, or to "
                "value_and_grad); the same key gives the same numbers"
            )
        return None
    dtype = getattr(key, "dtype", None)
    if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
        if jnp.shape(key) != ():
            raise TypeError(
                f"key must be a single PRNG key, got a key array of shape "
                f"{_shape_str(tuple(jnp.shape(key)))}"
            )
        return key
    if dtype is not None and jnp.dtype(dtype) == jnp.uint32 and jnp.shape(key) == (2,):
        return jax.random.wrap_key_data(key)
    raise TypeError(
        f"key must be a PRNG key from jax.random.key(seed), got {type(key).__name__}"
        + (f" of dtype {dtype}" if dtype is not None else "")
    )


def check_traces(algorithm: Any, cell: Any, params: Params, carry: Any, order: Any) -> None:
    """The traces of a :class:`~gradalgos.algorithms.traces.TraceState` match what ``init``
    builds: leaves ``(C, *param.shape)`` or ``None``; feedback ``(o, S)`` or ``None``."""
    from gradalgos.algorithms.traces import trace_plan
    from gradalgos.cells.structure import cell_structure

    plan = trace_plan(cell_structure(cell, params, carry.state), order)
    p_leaves, p_def = jax.tree_util.tree_flatten(params)
    try:
        t_leaves = p_def.flatten_up_to(carry.traces)
    except (TypeError, ValueError) as err:
        raise ValueError(
            "carry.traces must be a pytree like params (build the carry with init())"
        ) from err
    for i, (p, t, rows) in enumerate(zip(p_leaves, t_leaves, plan.rows, strict=True)):
        want = None if rows is None else (plan.colors, *jnp.shape(p))
        got = None if t is None else tuple(jnp.shape(t))
        if got != want:
            raise ValueError(
                f"carry.traces leaf {i} must be "
                f"{'None' if want is None else _shape_str(want)} for {type(algorithm).__name__} "
                f"on {type(cell).__name__}, got {'None' if got is None else _shape_str(got)}; "
                "build the carry with init()"
            )
    random = getattr(algorithm, "feedback", "symmetric") == "random"
    fb = carry.feedback
    want_fb = (cell.output_size, plan.entry_color.shape[0]) if random else None
    got_fb = None if fb is None else tuple(jnp.shape(fb))
    if got_fb != want_fb:
        raise ValueError(
            f"carry.feedback must be {'None' if want_fb is None else _shape_str(want_fb)} for "
            f"{algorithm!r}, got {'None' if got_fb is None else _shape_str(got_fb)}"
        )


def check_sensitivity(cell: Any, params: Params, carry: Any) -> None:
    """M is a pytree like ``params`` with leaves ``(S, *leaf.shape)``; ``None`` is allowed only
    where the state cannot depend on the parameter (as :meth:`init` builds it)."""
    from gradalgos.cells.dependence import state_parameter_mask

    p_leaves, p_def = jax.tree_util.tree_flatten(params)
    try:
        m_leaves = p_def.flatten_up_to(carry.sensitivity)
    except (TypeError, ValueError) as err:
        raise ValueError(
            "carry.sensitivity must be a pytree like params (build the carry with init())"
        ) from err
    keep = jax.tree_util.tree_leaves(state_parameter_mask(cell, params, carry.state))
    S = cell.state_size
    for i, (p, m, needed) in enumerate(zip(p_leaves, m_leaves, keep, strict=True)):
        if m is None:
            if needed:
                raise ValueError(
                    f"carry.sensitivity leaf {i} is None, but the state depends on that "
                    "parameter; build the carry with init()"
                )
        elif tuple(jnp.shape(m)) != (S, *jnp.shape(p)):
            raise ValueError(
                f"carry.sensitivity leaf {i} must have shape {_shape_str((S, *jnp.shape(p)))} "
                f"(S, *param.shape), got {_shape_str(tuple(jnp.shape(m)))}"
            )


def check_online_step(
    algorithm: Any,
    cell: Any,
    params: Params,
    carry: Any,
    xs: Any,
    targets: Any,
    mask: Any,
    steps: str | None,
    loss: Any,
    *,
    donate_carry: Any = False,
) -> tuple[Any, Any, Any]:
    """The per-call checks of ``RTRL.step`` (``steps=None``: one step) and ``Hybrid.step``
    (a block); returns ``(xs, targets, mask)`` as arrays (lists and numbers converted).

    Checked here, on every call: the argument kinds, that the carry was not donated away, and
    the values (finite ``params``, inputs, float targets and mask; labels in range). The
    structure, shapes and dtypes are checked by :func:`check_online_structure`, which the
    jitted step runs while it traces: once per input structure, shapes and dtypes, before
    anything is compiled, with jit's own cache deciding when (a loop of ``step`` calls pays
    them once). Where a value check fails, the structural checks run first, so an input with
    both a wrong shape and a bad value gets the same error as on its first call.
    """
    if not isinstance(donate_carry, bool):
        raise TypeError(f"donate_carry must be a bool, got {donate_carry!r}")
    cell = check_cell(cell)
    types = algorithm.carry_types(cell)
    if not isinstance(carry, types):
        want = " or ".join(t.__name__ for t in types)
        raise TypeError(
            f"carry must be the {want} from {type(algorithm).__name__}().init(), got "
            f"{type(carry).__name__}"
        )
    if any(_is_deleted(leaf) for leaf in jax.tree_util.tree_leaves(carry)):
        raise ValueError(
            "carry was invalidated by an earlier step(..., donate_carry=True), which wrote "
            "its successor into the same buffers; pass the carry that step returned"
        )
    name = "x" if steps is None else "xs"
    try:
        for leaf in jax.tree_util.tree_leaves(params):
            if not isinstance(leaf, jax.Array | np.ndarray):  # jit would take a number
                raise TypeError(f"params must contain arrays, got a {type(leaf).__name__} leaf")
            _check_finite("params", leaf)
        xs = _as_array(name, xs)
        _check_finite(name, xs)
        targets = _as_array("targets", targets)
        _check_target_values(cell, targets)
        if mask is not None:
            mask = _as_array("mask", mask)
            _check_finite("mask", mask)
    except Exception:
        check_online_structure(algorithm, cell, params, carry, (xs, targets, mask), steps, loss)
        raise
    return xs, targets, mask


def check_online_structure(
    algorithm: Any,
    cell: AbstractCell,
    params: Params,
    carry: Any,
    inputs: tuple[Any, Any, Any],
    steps: str | None,
    loss: Any,
) -> tuple[jax.Array, jax.Array, jax.Array | None]:
    """Structure, shapes and dtypes of an online step's inputs ``inputs = (xs, targets, mask)``
    against ``cell`` and ``loss`` (and, for concrete arrays, their values too); returns them as
    arrays. Run by the jitted step while it traces (:func:`check_online_step`)."""
    xs, targets, mask = inputs
    name = "x" if steps is None else "xs"
    dtype = check_params(cell, params)
    check_state(cell, carry.state, None, dtype, name="carry.state")
    algorithm.check_carry(cell, params, carry)
    xs = _as_array(name, xs)
    want_rank = 1 if steps is None else 2
    if xs.ndim != want_rank or xs.shape[-1] != cell.input_size:
        want = "(input_size,)" if steps is None else "(h, input_size)"
        raise ValueError(
            f"{name} must have shape {want} with input_size={cell.input_size}, got "
            f"{_shape_str(tuple(xs.shape))}"
        )
    if steps is not None and xs.shape[0] == 0:
        raise ValueError("xs is an empty block (h = 0); need at least one step")
    if xs.dtype != dtype:
        raise TypeError(f"{name} has dtype {xs.dtype} but params have {dtype}; cast one of them")
    _check_finite(name, xs)
    lead = tuple(xs.shape[:-1])
    targets = _check_targets_and_loss(cell, targets, lead, dtype, loss)
    return xs, targets, _check_mask(mask, lead)
