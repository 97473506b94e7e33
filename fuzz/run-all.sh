#!/usr/bin/env bash
# Runs every fuzz target for a while; exits non-zero if any of them crashed.
#
#   fuzz/run-all.sh [SECONDS_PER_TARGET]        (default 60)
#
# Environment:
#   SANITIZER   address | none (default none: the codecs forbid unsafe code,
#               and fuzzing runs several times faster without ASan)
#   TARGETS     space-separated subset of targets (default: all of them)
#   TRACE_COMPARES
#               1 (default) | 0: 0 builds without the trace-compares
#               instrumentation, in target/no-trace-compares/: 1.1 to 3.5
#               times the runs a second, with less guidance toward the
#               constants the code compares with (for long runs from a grown
#               corpus; see README.md)
#
# Uses a nightly toolchain if rustup has one, otherwise the default (stable)
# toolchain with RUSTC_BOOTSTRAP=1. New inputs go to fuzz/corpus/<target>/
# (not committed); the committed minimised corpus fuzz/corpora/<target>/
# (see minimize.sh) and the seeds in fuzz/seeds/<target>/ are read; the dictionary
# is fuzz/<prefix>.dict for targets named <prefix>_*, crashes are written to
# fuzz/artifacts/<target>/ and full logs to fuzz/target/run-all/<target>.log.
set -uo pipefail

seconds="${1:-60}"
case "$seconds" in
'' | *[!0-9]*)
    echo "usage: $0 [SECONDS_PER_TARGET]" >&2
    exit 2
    ;;
esac
sanitizer="${SANITIZER:-none}"
build=(--sanitizer "$sanitizer")
case "${TRACE_COMPARES:-1}" in
1) ;;
0) build+=(--no-trace-compares --target-dir target/no-trace-compares) ;;
*)
    echo "$0: TRACE_COMPARES is 0 or 1" >&2
    exit 2
    ;;
esac

cd "$(dirname "$0")" || exit 2
fuzz_dir="$(pwd)"

toolchain=()
if command -v rustup >/dev/null 2>&1 && rustup toolchain list 2>/dev/null | grep '^nightly' >/dev/null; then
    toolchain=(+nightly)
    echo "run-all: nightly toolchain"
else
    export RUSTC_BOOTSTRAP=1
    echo "run-all: no nightly toolchain, stable with RUSTC_BOOTSTRAP=1"
fi

if [ -n "${TARGETS:-}" ]; then
    read -r -a targets <<<"$TARGETS"
else
    mapfile -t targets < <(cargo "${toolchain[@]}" fuzz list)
fi
if [ "${#targets[@]}" -eq 0 ]; then
    echo "run-all: no fuzz targets found" >&2
    exit 2
fi

echo "run-all: building ${targets[*]} (${build[*]})"
if ! cargo "${toolchain[@]}" fuzz build "${build[@]}"; then
    echo "run-all: build failed" >&2
    exit 1
fi

mkdir -p target/run-all
failed=()
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    corpora=("corpus/$target")
    [ -d "corpora/$target" ] && corpora+=("corpora/$target")
    [ -d "seeds/$target" ] && corpora+=("seeds/$target")
    # -reload=0: one fuzzer per corpus, so nothing else adds to it; by
    # default libFuzzer lists the corpus directory again every few seconds,
    # which cost imap_server_session 12% of its time at 14,000 inputs.
    args=(-max_total_time="$seconds" -max_len=4096 -timeout=10 -print_final_stats=1 -reload=0)
    dict="$fuzz_dir/${target%%_*}.dict"
    [ -f "$dict" ] && args+=(-dict="$dict")
    log="target/run-all/$target.log"

    echo "run-all: $target for ${seconds}s"
    cargo "${toolchain[@]}" fuzz run "${build[@]}" "$target" "${corpora[@]}" -- "${args[@]}" \
        >"$log" 2>&1
    status=$?
    grep -E '^#[0-9]+[[:space:]]+DONE|^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' \
        "$log" | sed 's/^/    /'
    if [ "$status" -ne 0 ]; then
        failed+=("$target")
        echo "run-all: $target FAILED (exit $status); from $log:"
        grep -E -A4 'panicked at|^==[0-9]+==ERROR|SUMMARY:|^ERROR:' "$log" | cut -c1-2000 | head -n 40 | sed 's/^/    /'
        echo "    ..."
        tail -n 15 "$log" | sed 's/^/    /'
        artifact=$(grep -o 'Test unit written to [^ ]*' "$log" | tail -n 1 | cut -d' ' -f5)
        if [ -n "$artifact" ]; then
            echo "run-all: reproduce with: (cd fuzz && cargo ${toolchain[*]} fuzz run ${build[*]} $target $artifact)"
        fi
    fi
done

if [ "${#failed[@]}" -ne 0 ]; then
    echo "run-all: ${#failed[@]} of ${#targets[@]} targets failed: ${failed[*]}"
    exit 1
fi
echo "run-all: ${#targets[@]} targets ran ${seconds}s each without a crash"
