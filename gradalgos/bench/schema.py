"""The fields of a row of ``results.jsonl`` (schema 1), documented in one place. Readers
ignore fields they do not know (older rows carry a few more: CPU pinning, page faults, RSS)."""

from __future__ import annotations

__all__ = ["BASELINES", "COMMON_FIELDS", "MACHINE_FIELDS", "MEASURED_FIELDS", "STEP_FIELDS"]

#: Algorithms that are baselines, not gradalgos algorithms: hand-written ``jax.grad`` over
#: ``lax.scan``, and PyTorch autograd.
BASELINES: tuple[str, ...] = ("jax-scan", "torch")

#: Fields that identify the machine: part of every config key (a run elsewhere measures
#: afresh), and a report shows the rows of one machine only.
MACHINE_FIELDS = tuple(
    ["device_kind", "device_count", "host_cpu", "host_cpus", "jax_version", "jaxlib_version"]
)

#: Fields of every row, failed or not.
COMMON_FIELDS: dict[str, str] = {
    "schema": "row format version (1)",
    "key": "hash of the config, code version and machine; skip-if-measured uses it",
    "status": '"ok" or "failed"',
    "reason": "why a failed config failed (exception, time limit, crash); null when ok",
    "sweep": "which sweep the config belongs to",
    "algorithm": "a name of gradalgos.algorithms.registry, or a baseline: jax-scan, torch",
    "settings": "the algorithm's settings as given to registry.make, e.g. {k1: 16}",
    "label": "human-readable config name",
    "cell": "registered cell name",
    "n": "hidden units",
    "T": "sequence length",
    "batch": "sequences per batch B",
    "dtype": "float32 or float64",
    "device": "cpu or gpu",
    "repeats": "minimum number of timed calls after the warm-up (fast configs get more)",
    "seed": "seed of parameters and data",
    "precision": "jax.default_matmul_precision while tracing (default: TF32 allowed on GPUs)",
    "code_version": "hash of the measured gradalgos sources (bench.version.code_version)",
    "git_commit": "HEAD commit (+dirty if gradalgos/ has uncommitted changes)",
    "command": "the command line of the run",
    "run_id": "the run (one bench invocation): its UTC start and a random suffix",
    "date": "UTC time the row was written",
    "host_cpus": "CPU count of the host",
    "host_cpu": "CPU model",
    "python": "Python version",
    "device_kind": "JAX device kind",
    "device_count": "JAX devices visible",
    "jax_version": "jax version",
    "jaxlib_version": "jaxlib version",
}

#: Further fields of a successful row.
MEASURED_FIELDS: dict[str, str] = {
    "S": "state size",
    "P": "number of parameters",
    "P_state": "parameters the state depends on (readouts excluded; RTRL's M is S × P_state)",
    "compile_s": "lower + compile time [s]",
    "times_s": "wall time of each timed call [s]",
    "time_median_s": "median over the timed calls [s]",
    "time_min_s": "minimum over the timed calls [s]",
    "time_per_step_s": "time_median_s / T [s]",
    **{
        f"mem_{k}": f"XLA memory_analysis: {k} [bytes]"
        for k in [f"{a}_size_in_bytes" for a in ("temp", "argument", "output", "alias")]
        + ["generated_code_size_in_bytes", "peak_memory_in_bytes"]
    },
    "xla_flops": "XLA cost_analysis flops (each loop body counted once)",
    "flops_per_step": "executed FLOPs / T: xla_flops × the runs of its loop body (specs."
    "loop_body_runs); null where loops nest",
    "gflops": "flops_per_step / time_per_step_s / 1e9 (CPU only: XLA's GPU count misses GEMMs)",
    "gpu_peak_bytes": "GPU peak_bytes_in_use during the config minus bytes_in_use before it; "
    "null on a CPU or when an earlier config set the high-water mark (--fresh-process)",
    "loss": "the loss computed by the measured function",
    "ref_loss": "the float64 BPTT loss",
    "rel_err": "‖g − g_ref‖ / ‖g_ref‖ against float64 BPTT on the same values",
    "cosine": "cosine similarity of g and g_ref",
    "max_abs_err": "max |g − g_ref|",
}

#: Further fields of an ``online-step`` row, where the timing, ``mem_*`` and ``xla_flops``
#: fields are those of one call of the method's ``update`` and no gradient is compared.
STEP_FIELDS: dict[str, str] = {
    "steps_per_call": "time steps one call advances: 1, or a block method's h",
    "step_has_loop": "whether the step holds a loop over floats (flops_per_step is then null)",
    "carry_bytes": "bytes of the method's carry",
    "carry_type": "the carry's type, e.g. TraceState where RTRL takes its element-wise path",
    "algorithm_settings": "every setting of the measured instance, defaults included",
    "keyed": "whether init was given a PRNG key (the method's needs_key)",
    "bptt_T": "sequence length of the BPTT call that gives BPTT's cost per step",
    "bptt_compile_s": "compile time of that BPTT call [s]",
    "bptt_time_per_step_s": "BPTT's median call time / bptt_T [s], same point and process",
    "bptt_flops_per_step": "BPTT's XLA FLOPs per step",
    "bptt_mem_temp_size_in_bytes": "XLA temp bytes of that BPTT call",
    "time_ratio_bptt": "time_per_step_s / bptt_time_per_step_s",
    "scan_time_per_step_s": "the offline value_and_grad (steps scanned in one call) / T",
    "scan_ratio_bptt": "scan_time_per_step_s / bptt_time_per_step_s",
    "flops_ratio_bptt": "flops_per_step / bptt_flops_per_step",
}
