"""The fields of a row of ``results.jsonl`` (schema 1), documented in one place."""

from __future__ import annotations

__all__ = ["BASELINES", "COMMON_FIELDS", "MACHINE_FIELDS", "MEASURED_FIELDS", "STEP_FIELDS"]

#: The ``algorithm`` of rows that time a baseline, not a gradalgos algorithm: hand-written
#: ``jax.grad`` over ``lax.scan``, and PyTorch autograd.
BASELINES: tuple[str, ...] = ("jax-scan", "torch")

#: Row fields that identify the machine (and JAX) a row was measured on. Config keys include
#: them, so a run on another machine measures afresh rather than skipping configs measured
#: elsewhere; a report shows the rows of one machine only.
MACHINE_FIELDS: tuple[str, ...] = (
    "device_kind",
    "device_count",
    "host_cpu",
    "host_cpus",
    "jax_version",
    "jaxlib_version",
)

#: Fields of every row, failed or not.
COMMON_FIELDS: dict[str, str] = {
    "schema": "row format version (1)",
    "key": "hash of the config and the code version; skip-if-measured uses it",
    "status": '"ok" or "failed"',
    "reason": "why a failed config failed (exception, time limit, crash); null when ok",
    "sweep": "which sweep the config belongs to",
    "algorithm": "a name of gradalgos.algorithms.registry (bptt, rtrl, snap, ...) or a "
    "baseline: jax-scan, torch",
    "settings": "the algorithm's settings as given to registry.make, e.g. {k1: 16} or "
    "{block: 8}; absent ones take the class's defaults (online-step rows: algorithm_settings)",
    "label": "human-readable config name",
    "cell": "registered cell name",
    "n": "hidden units",
    "T": "sequence length",
    "batch": "sequences per batch B",
    "dtype": "float32 or float64",
    "device": "cpu or gpu",
    "repeats": "minimum number of timed calls after the warm-up (fast configs get more)",
    "seed": "seed of parameters and data",
    "precision": "jax.default_matmul_precision while tracing (highest: float32 products in "
    "float32; default: TF32 allowed on GPUs)",
    "cpus": "CPUs the worker was pinned to (the n-1cpu sweep: 1), null when not pinned",
    "cpus_used": "CPUs the worker process could run on (its affinity): XLA's thread pool is "
    "sized from it",
    "code_version": "hash of the measured gradalgos sources (bench.version.code_version)",
    "git_commit": "HEAD commit (+dirty if gradalgos/ has uncommitted changes)",
    "command": "the command line of the run",
    "run_id": "the run (one bench invocation) that wrote the row: its UTC start and a random "
    "suffix; the report divides times only within one run",
    "date": "UTC time the row was written",
    "host_cpus": "CPU count of the host",
    "host_cpu": "CPU model",
    "python": "Python version",
    "device_kind": "JAX device kind",
    "jax_version": "jax version",
    "jaxlib_version": "jaxlib version",
}

#: Further fields of a successful row.
MEASURED_FIELDS: dict[str, str] = {
    "S": "state size",
    "P": "number of parameters",
    "P_state": "parameters the state depends on (readouts excluded); RTRL and the hybrid carry "
    "and multiply M for these only (S·P_state numbers)",
    "compile_s": "lower + compile time [s]",
    "times_s": "wall time of each timed call [s] (≥ repeats calls, up to 0.2 s in all)",
    "time_median_s": "median over the timed calls [s]",
    "time_min_s": "minimum over the timed calls [s]",
    "time_per_step_s": "time_median_s / T [s]",
    "page_faults_per_call": "minor page faults of the worker process per timed call "
    "(getrusage; fresh scratch pages faulted in by the OS, one per 4 KiB); null off POSIX",
    "cpu_user_s_per_call": "user CPU time of the worker process per timed call, all threads [s]",
    "cpu_sys_s_per_call": "system (kernel) CPU time of the worker process per timed call, all "
    "threads [s]; page faults are spent here",
    "mem_temp_size_in_bytes": "XLA memory_analysis: scratch memory [bytes]",
    "mem_argument_size_in_bytes": "XLA memory_analysis: arguments [bytes]",
    "mem_output_size_in_bytes": "XLA memory_analysis: outputs [bytes]",
    "mem_alias_size_in_bytes": "XLA memory_analysis: outputs aliasing arguments [bytes]",
    "mem_generated_code_size_in_bytes": "XLA memory_analysis: code [bytes]",
    "mem_peak_memory_in_bytes": "XLA memory_analysis: peak_memory_in_bytes [bytes] (null if "
    "absent); on XLA:CPU it leaves out the scratch (it can be below mem_temp_size_in_bytes), so "
    "it is not the program's peak there",
    "xla_flops": "XLA cost_analysis flops (each loop body counted once)",
    "flops_per_step": "FLOPs executed per call / T, from xla_flops × the runs of its counted "
    "loop body (BPTT, jax-scan: T; RTRL: T − 1, the steps that propagate M); null where loops "
    "nest (checkpointed, TBPTT, hybrid)",
    "gflops": "flops_per_step / time_per_step_s / 1e9 (approximate; CPU only: XLA's GPU cost "
    "analysis does not count library GEMMs)",
    "rss_start_bytes": "RSS of the worker process when the config started [bytes]: what "
    "earlier configs of a reused worker left mapped (null where the peak cannot be reset)",
    "rss_peak_bytes": "peak RSS of the worker process during the config [bytes], including "
    "rss_start_bytes (the config's own growth is the difference; --fresh-process starts each "
    "config in a new process)",
    "gpu_peak_bytes": "GPU: memory_stats() peak_bytes_in_use during the config minus "
    "bytes_in_use before it; null on a CPU, or when a reused worker's high-water mark was not "
    "raised by the config: an earlier config, or the harness's float64 reference computed in "
    "the same process (once per case, after its first config), set it higher "
    "(--fresh-process avoids that)",
    "loss": "the loss computed by the measured function",
    "ref_loss": "the float64 BPTT loss",
    "rel_err": "‖g − g_ref‖ / ‖g_ref‖ against float64 BPTT on the same values",
    "cosine": "cosine similarity of g and g_ref",
    "max_abs_err": "max |g − g_ref|",
}

#: Further fields of a successful row of the ``online-step`` sweep. There ``compile_s``,
#: ``times_s``, ``time_median_s``, ``time_min_s``, ``mem_*`` and ``xla_flops`` are those of one
#: call of the method's ``update``, ``time_per_step_s`` and ``flops_per_step`` that call's /
#: ``steps_per_call``, and ``ref_loss``, ``rel_err``, ``cosine``, ``max_abs_err`` are null (no
#: gradient is compared).
STEP_FIELDS: dict[str, str] = {
    "steps_per_call": "time steps one call advances: 1, or a block method's h (the hybrid's)",
    "step_has_loop": "whether the compiled step holds a loop over floating-point values (its "
    "body counted once by cost_analysis: flops_per_step is then null); integer-only loops, "
    "JAX's threefry PRNG on a CPU, do not count",
    "carry_bytes": "bytes of the method's carry (the cell state and the method's own fields)",
    "carry_type": "the carry's type, e.g. TraceState where RTRL takes its element-wise path",
    "algorithm_settings": "every setting of the measured instance (its dataclass fields), "
    "defaults included",
    "keyed": "whether init was given a PRNG key (the method's needs_key)",
    "bptt_T": "sequence length of the BPTT call that gives BPTT's cost per step",
    "bptt_compile_s": "compile time of that BPTT call [s]",
    "bptt_time_per_step_s": "BPTT's median call time / bptt_T [s], same cell, n, dtype and "
    "worker process (measured once per point)",
    "bptt_flops_per_step": "BPTT's XLA FLOPs per step (its forward and backward loop bodies, "
    "each counted once by cost_analysis, run bptt_T times)",
    "bptt_mem_temp_size_in_bytes": "XLA temp bytes of that BPTT call",
    "time_ratio_bptt": "time_per_step_s / bptt_time_per_step_s",
    "scan_time_per_step_s": "the offline value_and_grad (steps scanned in one call) / T",
    "scan_ratio_bptt": "scan_time_per_step_s / bptt_time_per_step_s (one launch each)",
    "flops_ratio_bptt": "flops_per_step / bptt_flops_per_step (null without flops_per_step)",
}
