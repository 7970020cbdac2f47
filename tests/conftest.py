"""Tests run in float64 (x64 on before anything is traced), as references need round-off ~1e-16."""

import jax

jax.config.update("jax_enable_x64", True)
