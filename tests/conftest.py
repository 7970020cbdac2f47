"""Tests run in float64 (x64 on before anything is traced), as references need round-off ~1e-16.

Most of the suite's time is XLA compilation: the tests compile at XLA's backend optimisation
level 0 (the same values, compiled faster; no test here times anything), unless
``GRADALGOS_TEST_XLA=full``.
"""

import os

if os.environ.get("GRADALGOS_TEST_XLA") != "full":
    flags = os.environ.get("XLA_FLAGS", "")
    os.environ["XLA_FLAGS"] = f"{flags} --xla_backend_optimization_level=0".strip()

import jax

jax.config.update("jax_enable_x64", True)
