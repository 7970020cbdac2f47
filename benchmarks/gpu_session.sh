#!/usr/bin/env bash
# One time-boxed call on a lent GPU machine: resume reports/gpu/results.jsonl and measure what
# this code version still lacks, the acceptance exponents' n sweeps first.
#
#   bash benchmarks/gpu_session.sh [SECONDS] [extra bench options...]
#
# SECONDS (default 540) bounds the whole call; each phase gets what is left, and a phase cut
# short leaves no row for the config it was measuring (rows are written whole, one per config,
# so nothing is corrupted; the next call measures it again). Results go to $OUT/gpu/results.jsonl
# (OUT: the device machine's output folder). Back on the development machine:
#
#   cp FILES_AT/gpu/results.jsonl reports/gpu/results.jsonl
#   cp FILES_AT/gpu/hybrid_breakdown.json reports/gpu/   # when the call had 45 s left for it
#   cp FILES_AT/gpu/core_targets.json reports/gpu/   # likewise, when it had a minute more
#   python -m gradalgos.plots reports/gpu/results.jsonl
#
# A 15-minute device lease fits two calls: `gpu_session.sh 555`, copy its results.jsonl back as
# above, then at once (the machine stays warm for 30 s) `gpu_session.sh 250`, which resumes it.
# On an H200 (2026-11-26) that measured all but the T sweep's top and the two scripts, about
# 13 minutes of measuring in all; a later lease of the same code version resumes the file and
# measures the rest (`gpu_session.sh 300`).
#
# GA_DEVICE=cpu runs the same phases on a CPU (a dry run of this script). GA_N_RTRL overrides the
# hidden sizes of the RTRL/hybrid n sweep: by default the sweep's sizes and n = 2048, where the
# hybrid's GEMMs (n x n x n) reach most of the GPU's rate (an 80 GB card records the largest
# sizes as failed, out of memory).
set -uo pipefail
budget=${1:-540}
shift $(($# > 0 ? 1 : 0))
device=${GA_DEVICE:-gpu}
read -ra n_rtrl <<<"${GA_N_RTRL:-8 16 32 64 96 128 192 256 384 512 768 1024 1536 2048}"
out="${OUT:?OUT must name the output folder}/gpu"
mkdir -p "$out"
[[ -f reports/gpu/results.jsonl ]] && cp reports/gpu/results.jsonl "$out/results.jsonl"
start=$SECONDS

phase() { # phase NAME BENCH-OPTIONS...
    local name=$1 left=$((budget - (SECONDS - start)))
    shift
    if ((left < 30)); then
        echo "== $name: not started ($left s left)"
        return
    fi
    echo "== $name ($left s left)"
    timeout --signal=INT --kill-after=15 "$left" python -m gradalgos.bench --device "$device" \
        --out "$out" --no-report --no-progress "$@"
    local status=$?
    ((status == 0)) || echo "== $name: stopped with status $status"
}

script_phase() { # script_phase SCRIPT MIN OPTIONS...: python benchmarks/SCRIPT.py OPTIONS...
    local name=$1 min=$2 left=$((budget - (SECONDS - start)))
    shift 2
    if ((left < min)); then
        echo "== $name: not started ($left s left)"
        return
    fi
    echo "== $name ($left s left)"
    PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" timeout --signal=INT --kill-after=15 "$left" \
        python "benchmarks/$name.py" "$@" || echo "== $name: stopped"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null
python -c 'import jax; print("jax", jax.__version__, jax.devices())'
phase "n sweep: RTRL, hybrid" --sweeps n --algorithms rtrl hybrid --n "${n_rtrl[@]}" \
    --time-limit 90 "$@"
# The BPTT-like algorithms and both baselines in one invocation (one run id), where the sweep
# measures them side by side at each n: the report divides times only within one run, so a
# baseline measured in another call would leave their ratios blank.
phase "n sweep: BPTT-like algorithms and the baselines" --sweeps n --with-torch --time-limit 60 "$@"
# The sweeps behind the other acceptance figures (errors, memory vs T) before the rest: one
# invocation measures its sweeps in the harness's order, with T last.
phase "agreement, T" --sweeps agreement T --time-limit 60 "$@"
phase "TBPTT k, hybrid h, batch" --sweeps tbptt-k hybrid-h batch --time-limit 60 "$@"
# The benchmark scripts last, each only with at least its MIN seconds left: where the hybrid's
# block spends its time on this device, then the core targets (set for a CPU at n = 128; on a
# GPU they time launch overhead).
script_phase hybrid_breakdown 45 --n 64 128 256 512 1024 --repeats 5 \
    --out "$out/hybrid_breakdown.json"
script_phase core_targets 60 --out "$out/core_targets.json"
python - "$out/results.jsonl" <<'EOF'
import collections, sys
from gradalgos.plots.results import comparable, load_rows
mine = comparable(load_rows(sys.argv[1]))  # the last row's code version and machine
version, where = (mine[-1]["code_version"], mine[-1]["device_kind"]) if mine else (None, None)
print(f"code version {version} on {where}: {len(mine)} rows",
      dict(collections.Counter((r["sweep"], r["status"]) for r in mine)))
EOF
