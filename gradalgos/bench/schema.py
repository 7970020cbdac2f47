"""The fields of a row of ``results.jsonl`` (schema 1); ``docs/results_schema.md`` says what
each means. Readers ignore fields they do not know (older rows carry a few more)."""

from __future__ import annotations

__all__ = ["BASELINES", "COMMON_FIELDS", "MACHINE_FIELDS", "MEASURED_FIELDS"]


def _names(text: str) -> tuple[str, ...]:
    return tuple(text.split())


#: Algorithms that are baselines, not gradalgos algorithms: hand-written ``jax.grad`` over
#: ``lax.scan``, and PyTorch autograd.
BASELINES: tuple[str, ...] = ("jax-scan", "torch")
#: Fields that identify the machine: part of every config key (a run elsewhere measures
#: afresh), and a report shows the rows of one machine only.
MACHINE_FIELDS = _names("device_kind device_count host_cpu host_cpus jax_version jaxlib_version")
#: Fields of every row, failed or not.
COMMON_FIELDS = _names(
    "schema key status reason sweep algorithm settings label cell n T batch dtype device repeats "
    "seed precision code_version git_commit command run_id date host_cpus host_cpu python "
    "device_kind device_count jax_version jaxlib_version"
)
#: Further fields of a successful row.
MEASURED_FIELDS = _names(
    "S P P_state compile_s times_s time_median_s time_min_s time_per_step_s "
    "mem_temp_size_in_bytes mem_argument_size_in_bytes mem_output_size_in_bytes "
    "mem_alias_size_in_bytes mem_generated_code_size_in_bytes mem_peak_memory_in_bytes "
    "xla_flops flops_per_step gflops gpu_peak_bytes loss ref_loss rel_err cosine max_abs_err"
)
