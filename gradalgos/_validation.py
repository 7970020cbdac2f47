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
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from gradalgos.cells.base import AbstractCell, Params, State, default_float
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
    """``x`` as a JAX array. NumPy arrays and lists are transferred with ``jax.device_put``
    (dtype canonicalised as ``jnp.asarray`` does), which compiles nothing, unlike
    ``jnp.asarray``; Python scalars keep ``jnp.asarray``'s weak type."""
    if isinstance(x, jax.Array):
        return x
    if isinstance(x, list | tuple) and any(
        isinstance(leaf, jax.Array) for leaf in jax.tree_util.tree_leaves(x)
    ):
        return jnp.asarray(x)  # may hold traced arrays: stack them in the trace
    if isinstance(x, np.ndarray | np.generic | list | tuple):
        return jax.device_put(np.asarray(x))
    if isinstance(x, int | float | bool):
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


class _Expected(NamedTuple):
    """What ``cell.init`` or ``cell.initial_state`` returns, from shapes only."""

    tree: Any  # the pytree, with jax.ShapeDtypeStruct leaves
    treedef: Any
    shapes: tuple[tuple[int, ...], ...]
    paths: tuple[str, ...]  # each leaf's path, e.g. "['W_in']" ("" for a lone array)


@functools.lru_cache(maxsize=256)
def _expected(cell: AbstractCell, what: str) -> _Expected:
    """Tree structure, leaf shapes and leaf paths of ``cell.init`` (``what="params"``) or
    ``cell.initial_state`` (``what="state"``), from shapes only (nothing is computed)."""
    if what == "params":
        tree = jax.eval_shape(cell.init, jax.random.key(0))
    else:
        tree = jax.eval_shape(cell.initial_state)
    pairs, treedef = jax.tree_util.tree_flatten_with_path(tree)
    shapes = tuple(tuple(leaf.shape) for _, leaf in pairs)
    paths = tuple(jax.tree_util.keystr(path) for path, _ in pairs)
    return _Expected(tree, treedef, shapes, paths)


def _one_level(node: Any) -> list[tuple[Any, Any]] | None:
    """``node``'s children one level down as ``[(key, child)]`` (``None`` for a leaf)."""
    pairs, _ = jax.tree_util.tree_flatten_with_path(node, is_leaf=lambda x: x is not node)
    if len(pairs) == 1 and not pairs[0][0]:
        return None
    return [(path[0], child) for path, child in pairs]


def _key_label(key: Any) -> str:
    if isinstance(key, jax.tree_util.DictKey):
        return repr(key.key)
    return jax.tree_util.keystr((key,))


def _describe(node: Any, children: list[tuple[Any, Any]] | None) -> str:
    """A short description of a pytree node for an error message."""
    if children is None:
        shape = getattr(node, "shape", None)
        if shape is not None:
            return f"an array of shape {_shape_str(tuple(shape))}"
        return f"a {type(node).__name__}"
    if node is None:
        return "None"
    kind = type(node).__name__
    if isinstance(node, dict):
        return f"a {kind} with keys {', '.join(_key_label(k) for k, _ in children)}"
    if isinstance(node, tuple | list):
        return f"a {kind} of {len(children)} entries"
    return f"a {kind} with fields {', '.join(_key_label(k) for k, _ in children)}"


def _structure_problem(expected: Any, got: Any, where: str) -> str | None:
    """Where and how the pytree ``got`` differs from ``expected`` (``None``: no difference
    found), e.g. ``"params['b'] is missing"``; ``where`` names ``got``."""
    want, have = _one_level(expected), _one_level(got)
    if want is None:
        return None if have is None else f"{where} must be an array, got {_describe(got, have)}"
    if have is None or type(got) is not type(expected):
        return f"{where} must be {_describe(expected, want)}, got {_describe(got, have)}"
    want_keys = [jax.tree_util.keystr((k,)) for k, _ in want]
    have_keys = [jax.tree_util.keystr((k,)) for k, _ in have]
    if want_keys != have_keys:
        if isinstance(expected, tuple | list):
            return f"{where} must have {len(want)} entries, got {len(have)}"
        missing = [_key_label(k) for k, _ in want if jax.tree_util.keystr((k,)) not in have_keys]
        extra = [_key_label(k) for k, _ in have if jax.tree_util.keystr((k,)) not in want_keys]
        parts = [f"is missing {', '.join(missing)}"] if missing else []
        parts += [f"has unexpected {', '.join(extra)}"] if extra else []
        return f"{where} {' and '.join(parts)} (expected {_describe(expected, want)})"
    for (key, e), (_, g) in zip(want, have, strict=True):
        problem = _structure_problem(e, g, where + jax.tree_util.keystr((key,)))
        if problem is not None:
            return problem
    return None


def _matching_leaves(
    cell: AbstractCell, what: str, tree: Any, name: str, source: str
) -> tuple[list[Any], _Expected]:
    """The leaves of ``tree`` after checking its structure; and what was expected."""
    expected = _expected(cell, what)
    leaves, got_def = jax.tree_util.tree_flatten(tree)
    if got_def != expected.treedef:
        problem = _structure_problem(expected.tree, tree, name)
        if problem is None:  # e.g. another node type with the same keys and leaves
            problem = f"expected a pytree {expected.treedef}, got {got_def}"
        raise ValueError(f"{name} does not match {type(cell).__name__}.{source}: {problem}")
    return leaves, expected


def _param_paths(name: str, params: Params) -> list[str]:
    """``name`` followed by the path of each leaf of ``params``: ``carry.traces['W_in']``."""
    pairs, _ = jax.tree_util.tree_flatten_with_path(params)
    return [name + jax.tree_util.keystr(path) for path, _ in pairs]


def _leaf_names(name: str, expected: _Expected) -> list[str]:
    """``name`` followed by each leaf's path: ``params['W_in']``, ``state0[1]``, ``state0``."""
    return [name + path for path in expected.paths]


def _float_dtype_of(name: str, leaves: list[Any], names: list[str]) -> jnp.dtype:
    """The one float dtype of ``leaves`` (named ``names``, together ``name``)."""
    for leaf, leaf_name in zip(leaves, names, strict=True):
        if not hasattr(leaf, "dtype"):
            where = "" if leaf_name == name else f" ({leaf_name})"
            raise TypeError(f"{name} must contain arrays, got a {type(leaf).__name__} leaf{where}")
        if not jnp.issubdtype(leaf.dtype, jnp.floating):
            raise TypeError(f"{leaf_name} must be a floating array, got dtype {leaf.dtype}")
    first = jnp.dtype(leaves[0].dtype) if leaves else None
    for leaf, leaf_name in zip(leaves, names, strict=True):
        if jnp.dtype(leaf.dtype) != first:
            raise TypeError(
                f"{name} mixes dtypes: {leaf_name} is {jnp.dtype(leaf.dtype)} but {names[0]} "
                f"is {first}; use one float dtype"
            )
    return first if first is not None else default_float()


def _check_finite(name: str, x: Any, leaf_name: str | None = None) -> None:
    values = _values(x)
    if values is not None and not np.isfinite(values).all():
        where = "" if leaf_name in (None, name) else f" (in {leaf_name})"
        raise ValueError(f"{name} contains NaN or inf{where}; gradalgos refuses non-finite inputs")


def check_params(cell: AbstractCell, params: Params) -> jnp.dtype:
    """Check structure, shapes and dtype of ``params`` against ``cell.init``; return the dtype.
    Errors name the leaf by its path, e.g. ``params['W_in']`` or ``params[1]['b']``."""
    leaves, expected = _matching_leaves(cell, "params", params, "params", "init")
    names = _leaf_names("params", expected)
    for leaf, shape, leaf_name in zip(leaves, expected.shapes, names, strict=True):
        if not hasattr(leaf, "shape") or tuple(leaf.shape) != shape:
            got = _shape_str(tuple(leaf.shape)) if hasattr(leaf, "shape") else type(leaf).__name__
            raise ValueError(
                f"{leaf_name} must have shape {_shape_str(shape)} (as {type(cell).__name__}"
                f".init gives it), got {got}"
            )
    dtype = _float_dtype_of("params", leaves, names)
    for leaf, leaf_name in zip(leaves, names, strict=True):
        _check_finite("params", leaf, leaf_name)
    return dtype


def check_state(
    cell: AbstractCell,
    state: State,
    batch: int | None,
    dtype: jnp.dtype,
    name: str = "state0",
    lead: tuple[int, ...] | None = None,
    x_name: str = "xs",
) -> bool:
    """Check ``state`` against ``cell.initial_state()``; return whether it has a batch axis.

    With ``batch`` given, each leaf may be unbatched (shared by all sequences) or carry a
    leading axis of that size; all leaves must agree. ``lead`` (the leading axes of
    ``x_name``) only serves the hint of a time-major ``xs``.
    """
    leaves, expected = _matching_leaves(cell, "state", state, name, "initial_state()")
    names = _leaf_names(name, expected)
    batched = {}
    for leaf, shape, leaf_name in zip(leaves, expected.shapes, names, strict=True):
        got = tuple(getattr(leaf, "shape", ()))
        if got == shape:
            batched[leaf_name] = False
        elif batch is not None and got == (batch, *shape):
            batched[leaf_name] = True
        else:
            want = _shape_str(shape)
            if batch is not None:
                want += f" or {_shape_str((batch, *shape))}"
            hint = ""
            if (
                lead is not None
                and len(lead) == 2
                and lead[0] != lead[1]
                and got == (lead[1], *shape)
            ):
                hint = (
                    f"; its batch axis of {lead[1]} is {x_name}.shape[1]: gradalgos takes "
                    f"batch-major inputs, {x_name} (B, T, input_size) — is {x_name} time-major?"
                )
            raise ValueError(f"{leaf_name} must have shape {want}, got {_shape_str(got)}{hint}")
    if len(set(batched.values())) > 1:
        with_batch = [k for k, v in batched.items() if v]
        without = [k for k, v in batched.items() if not v]
        raise ValueError(
            f"{name} mixes batched and unbatched leaves: {', '.join(with_batch)} have a batch "
            f"axis, {', '.join(without)} do not"
        )
    state_dtype = _float_dtype_of(name, leaves, names)
    if state_dtype != dtype:
        raise TypeError(f"{name} has dtype {state_dtype} but params have {dtype}; cast one of them")
    for leaf, leaf_name in zip(leaves, names, strict=True):
        _check_finite(name, leaf, leaf_name)
    return any(batched.values())


def _state_batch(cell: AbstractCell, state: State) -> int | None:
    """B if every leaf of ``state`` is ``(B, *leaf shape)`` of ``cell.initial_state()``
    (a batched state), else ``None``. Reads shapes only; raises nothing."""
    expected = _expected(cell, "state")
    leaves, treedef = jax.tree_util.tree_flatten(state)
    if treedef != expected.treedef:
        return None
    sizes = set()
    for leaf, shape in zip(leaves, expected.shapes, strict=True):
        got = tuple(getattr(leaf, "shape", ()))
        if len(got) != len(shape) + 1 or got[1:] != shape:
            return None
        sizes.add(got[0])
    return sizes.pop() if len(sizes) == 1 else None


def _swap_hint(name: str, got: tuple[int, ...], want: tuple[int, ...]) -> str:
    """A hint when ``got``'s first two axes are ``want``'s swapped (a time-major array)."""
    swapped = len(got) >= 2 and len(want) >= 2 and got[0] != got[1] and got[:2] == want[1::-1]
    if swapped and got[2:] == want[2:]:
        return (
            f"; it looks time-major (T, B, ...): gradalgos takes batch-major (B, T, ...), "
            f"pass jnp.swapaxes({name}, 0, 1)"
        )
    return ""


def _check_targets(
    cell: AbstractCell,
    targets: jax.Array,
    lead: tuple[int, ...],
    dtype: Any,
    loss: Any,
    name: str = "targets",
    x_name: str = "xs",
) -> None:
    got = tuple(targets.shape)
    if jnp.issubdtype(targets.dtype, jnp.integer):
        if got != lead:
            raise ValueError(
                f"integer {name} (class labels) must have shape {_shape_str(lead)} (the leading "
                f"axes of {x_name}), got {_shape_str(got)}{_swap_hint(name, got, lead)}"
            )
        _check_target_values(cell, targets, name)
        if loss in _FLOAT_TARGET_LOSSES:
            raise TypeError(
                f"loss={loss.__name__} compares the outputs with float {name} of shape "
                f"(..., output_size); integer {name} are class labels: use "
                f"loss=gradalgos.losses.cross_entropy (or cast {name} to float)"
            )
        return
    if not jnp.issubdtype(targets.dtype, jnp.floating):
        raise TypeError(f"{name} must be a float or integer array, got dtype {targets.dtype}")
    want = (*lead, cell.output_size)
    if got != want:
        raise ValueError(
            f"{name} must have shape {_shape_str(want)} (leading axes of {x_name}, then "
            f"output_size={cell.output_size}), got {_shape_str(got)}{_swap_hint(name, got, want)}"
        )
    if targets.dtype != dtype:
        raise TypeError(f"{name} has dtype {targets.dtype} but params have {dtype}; cast one")
    _check_target_values(cell, targets, name)


def _check_target_values(cell: AbstractCell, targets: Any, name: str = "targets") -> None:
    """Integer labels in ``[0, output_size)``; float targets finite (shapes checked before)."""
    if not jnp.issubdtype(targets.dtype, jnp.integer):
        _check_finite(name, targets)
        return
    t = _values(targets)
    if t is not None and t.size and (t.min() < 0 or t.max() >= cell.output_size):
        raise ValueError(
            f"integer {name} must lie in [0, output_size={cell.output_size}), got "
            f"values in [{t.min()}, {t.max()}]"
        )


def _check_mask(mask: Any, lead: tuple[int, ...], x_name: str = "xs") -> jax.Array | None:
    if mask is None:
        return None
    mask = _as_array("mask", mask)
    if not (jnp.issubdtype(mask.dtype, jnp.floating) or mask.dtype == jnp.bool_):
        raise TypeError(f"mask must be a bool or float array, got dtype {mask.dtype}")
    got = tuple(mask.shape)
    if got != lead:
        raise ValueError(
            f"mask must have shape {_shape_str(lead)} (the leading axes of {x_name}), got "
            f"{_shape_str(got)}{_swap_hint('mask', got, lead)}"
        )
    _check_finite("mask", mask)
    return mask


def _targets_lead(cell: AbstractCell, targets: jax.Array) -> tuple[int, ...] | None:
    """The leading axes ``targets`` implies: its shape for labels, without the last axis for
    float targets of ``output_size`` features; ``None`` when it implies nothing."""
    shape = tuple(targets.shape)
    if jnp.issubdtype(targets.dtype, jnp.integer):
        return shape
    return shape[:-1] if shape and shape[-1] == cell.output_size else None


def _check_leading_axes(
    cell: AbstractCell,
    xs: jax.Array,
    others: dict[str, tuple[int, ...] | None],
    state_batch: int | None,
    layouts: dict[int, str],
    x_name: str = "xs",
) -> None:
    """Blame ``xs`` when it is the odd one out.

    The leading axes of ``xs`` (``(T,)``, ``(B, T)`` or a block's ``(h,)``) must be those that
    ``others`` (``targets``, ``mask``: name → the leading axes each implies, ``None`` for no
    opinion) imply, and ``(B, T)`` must start with a batched ``state0``'s B. Where the others
    agree on leading axes that ``xs`` lacks and outvote it, ``xs`` is wrong: raise naming it.
    Where ``xs`` and one other disagree only by a swap of B and T, nothing decides between
    them: raise naming both, with the layout. Otherwise return, and the later checks of the
    others (or of ``state0``) blame the one that disagrees with ``xs``.
    """
    lead = tuple(xs.shape[:-1])
    votes = {k: v for k, v in others.items() if v is not None}
    if all(v == lead for v in votes.values()):
        return

    def support(v: tuple[int, ...]) -> list[str]:
        names = [k for k, w in votes.items() if w == v]
        if state_batch is not None and len(v) == 2 and v[0] == state_batch:
            names.append(f"state0's batch axis of {state_batch}")
        return names

    ours = 1 + len(support(lead))
    for v in dict.fromkeys(votes.values()):
        if v == lead or len(v) not in layouts:
            continue
        theirs = support(v)
        want = (*v, cell.input_size)
        if len(theirs) > ours:
            raise ValueError(
                f"{x_name} must have shape {_shape_str(want)} {layouts[len(v)]} to match "
                f"{' and '.join(theirs)}, got {_shape_str(tuple(xs.shape))}"
                f"{_swap_hint(x_name, tuple(xs.shape), want)}"
            )
        if len(theirs) == ours and _swap_hint(x_name, tuple(xs.shape), want):
            other = theirs[0]
            raise ValueError(
                f"{x_name} has shape {_shape_str(tuple(xs.shape))} but {other} has leading axes "
                f"{_shape_str(v)}: the batch and time axes are swapped in one of them. gradalgos "
                f"takes batch-major inputs: {x_name} (B, T, input_size), targets "
                f"(B, T, output_size) or (B, T) labels, mask (B, T). If {x_name} is time-major, "
                f"pass jnp.swapaxes({x_name}, 0, 1)"
            )


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
    cell: AbstractCell,
    targets: Any,
    lead: tuple[int, ...],
    dtype: Any,
    loss: Any,
    name: str = "targets",
    x_name: str = "xs",
) -> jax.Array:
    """``loss`` callable, ``targets`` matching the leading axes ``lead`` and the cell, and
    ``loss`` mapping one step's output and target to a float scalar; returns the targets as
    an array."""
    if not callable(loss):
        raise TypeError(f"loss must be a callable ℓ(y, target) -> scalar, got {loss!r}")
    targets = _as_array(name, targets)
    _check_targets(cell, targets, lead, dtype, loss, name, x_name)
    _check_loss(cell, loss, targets, lead, dtype)
    return targets


def validate(
    cell: Any, params: Params, state0: State, xs: Any, targets: Any, mask: Any, loss: Any
) -> Batch:
    """All checks of :func:`gradalgos.value_and_grad`; returns the normalised inputs.

    Each argument is checked alone first, then against the others. The leading axes ``(T,)``
    or ``(B, T)`` come from ``xs`` unless ``targets``, ``mask`` and a batched ``state0`` agree
    on others (then ``xs`` is blamed; see :func:`_check_leading_axes`)."""
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
    if callable(loss):
        targets = _as_array("targets", targets)
        others = {"targets": _targets_lead(cell, targets)}
        if mask is not None:
            mask = _as_array("mask", mask)
            others["mask"] = tuple(mask.shape)
        layouts = {1: "(T, input_size)", 2: "(B, T, input_size)"}
        _check_leading_axes(cell, xs, others, _state_batch(cell, state0), layouts)
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
    state_batched = check_state(cell, state0, lead[0] if batched else None, dtype, lead=lead)
    return Batch(params, state0, xs, targets, mask, batched, state_batched)


def check_online_init(cell: Any, params: Params, state0: State) -> None:
    cell = check_cell(cell)
    dtype = check_params(cell, params)
    batch = _state_batch(cell, state0)
    if batch is not None:
        raise ValueError(
            f"state0 has a batch axis of {batch}: an online method runs one sequence, so "
            f"init takes one initial state ({type(cell).__name__}.initial_state()); for a batch, "
            "jax.vmap init and step"
        )
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
    seed = key if isinstance(key, int) and not isinstance(key, bool) else "seed"
    raise TypeError(
        f"key must be a PRNG key: pass key=jax.random.key({seed}), got {type(key).__name__}"
        + (f" of dtype {dtype}" if dtype is not None else "")
    )


def check_leaf_shapes(
    field: str, tree: Any, params: Params, want: Callable[[int, Any], tuple | None], where: str
) -> None:
    """A carry's ``field`` (e.g. ``carry.traces``) is a pytree like ``params`` whose leaf ``i``
    has the shape ``want(i, param_leaf)`` (``None``: the leaf must be ``None``); otherwise a
    ``ValueError`` naming the leaf by path and ``where`` (``"for UORO on Elman"``)."""
    p_leaves, p_def = jax.tree_util.tree_flatten(params)
    try:
        leaves = p_def.flatten_up_to(tree)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{field} must be a pytree like params (build the carry with init())"
        ) from err
    for i, (name, p, t) in enumerate(
        zip(_param_paths(field, params), p_leaves, leaves, strict=True)
    ):
        wanted = want(i, p)
        got = None if t is None else tuple(jnp.shape(t))
        if got != wanted:
            raise ValueError(
                f"{name} must be {'None' if wanted is None else _shape_str(wanted)} {where}, "
                f"got {'None' if got is None else _shape_str(got)}; build the carry with init()"
            )


def check_traces(algorithm: Any, cell: Any, params: Params, carry: Any, order: Any) -> None:
    """The traces of a :class:`~gradalgos.algorithms.traces.TraceState` match what ``init``
    builds: leaves ``(C, *param.shape)`` or ``None``; feedback ``(o, S)`` or ``None``."""
    from gradalgos.algorithms.traces import trace_plan
    from gradalgos.cells.structure import cell_structure

    plan = trace_plan(cell_structure(cell, params, carry.state), order)
    where = f"for {type(algorithm).__name__} on {type(cell).__name__}"

    def want(i: int, p: Any) -> tuple | None:
        return None if plan.rows[i] is None else (plan.colors, *jnp.shape(p))

    check_leaf_shapes("carry.traces", carry.traces, params, want, where)
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
    names = _param_paths("carry.sensitivity", params)
    for name, p, m, needed in zip(names, p_leaves, m_leaves, keep, strict=True):
        if m is None:
            if needed:
                raise ValueError(
                    f"{name} is None, but the state depends on that parameter; build the "
                    "carry with init()"
                )
        elif tuple(jnp.shape(m)) != (S, *jnp.shape(p)):
            raise ValueError(
                f"{name} must have shape {_shape_str((S, *jnp.shape(p)))} "
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
    try:
        for i, leaf in enumerate(jax.tree_util.tree_leaves(params)):
            if not isinstance(leaf, jax.Array | np.ndarray):  # jit would take a number
                raise TypeError(f"params must contain arrays, got a {type(leaf).__name__} leaf")
            values = _values(leaf)
            if values is not None and not np.isfinite(values).all():
                _check_finite("params", values, _param_paths("params", params)[i])
        xs = _as_array("x", xs)
        _check_finite("x", xs)
        targets = _as_array("target", targets)
        _check_target_values(cell, targets, "target")
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
    dtype = check_params(cell, params)
    check_state(cell, carry.state, None, dtype, name="carry.state")
    algorithm.check_carry(cell, params, carry)
    xs = _as_array("x", xs)
    want_rank = 1 if steps is None else 2
    if xs.ndim != want_rank or xs.shape[-1] != cell.input_size:
        if steps is None:
            want = f"(input_size,) (one step of {type(algorithm).__name__})"
        else:
            want = f"(h, input_size) (a block of h steps for {type(algorithm).__name__})"
        raise ValueError(
            f"x must have shape {want} with input_size={cell.input_size}, got "
            f"{_shape_str(tuple(xs.shape))}"
        )
    if steps is not None:
        if xs.shape[0] == 0:
            raise ValueError("x is an empty block (h = 0); need at least one step")
        if callable(loss):
            targets = _as_array("target", targets)
            others = {"target": _targets_lead(cell, targets)}
            if mask is not None:
                mask = _as_array("mask", mask)
                others["mask"] = tuple(mask.shape)
            _check_leading_axes(cell, xs, others, None, {1: "(h, input_size)"}, "x")
    if xs.dtype != dtype:
        raise TypeError(f"x has dtype {xs.dtype} but params have {dtype}; cast one of them")
    _check_finite("x", xs)
    lead = tuple(xs.shape[:-1])
    targets = _check_targets_and_loss(cell, targets, lead, dtype, loss, "target", "x")
    return xs, targets, _check_mask(mask, lead, "x")
