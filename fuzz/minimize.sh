#!/usr/bin/env bash
# Rewrites the committed corpus of each target, fuzz/corpora/<target>/, as
# the smallest set of inputs that covers every edge reached by it, the
# grown corpus (fuzz/corpus/<target>/, not committed) and the seeds.
#
#   fuzz/minimize.sh TARGET...
#
# Edges only (-use_counters=0): hit counts would keep thousands of near
# duplicates. Uses a nightly toolchain if rustup has one, otherwise stable
# with RUSTC_BOOTSTRAP=1, as run-all.sh does.
set -euo pipefail

if [ "$#" -eq 0 ]; then
    echo "usage: $0 TARGET..." >&2
    exit 2
fi
cd "$(dirname "$0")"

toolchain=()
if command -v rustup >/dev/null 2>&1 && rustup toolchain list 2>/dev/null | grep '^nightly' >/dev/null; then
    toolchain=(+nightly)
else
    export RUSTC_BOOTSTRAP=1
fi
mkdir -p target
for target in "$@"; do
    if ! cargo "${toolchain[@]}" fuzz build --sanitizer none "$target" >target/minimize-build.log 2>&1; then
        cat target/minimize-build.log >&2
        exit 1
    fi
done
triple=$(rustc -vV | sed -n 's/^host: //p')

for target in "$@"; do
    inputs=()
    for dir in "corpora/$target" "corpus/$target" "seeds/$target"; do
        [ -d "$dir" ] && inputs+=("$dir")
    done
    fresh=$(mktemp -d)
    "target/$triple/release/$target" -set_cover_merge=1 -use_counters=0 -max_len=4096 -timeout=10 \
        "$fresh" "${inputs[@]}" >"target/minimize-$target.log" 2>&1
    rm -rf "corpora/$target"
    mkdir -p corpora
    mv "$fresh" "corpora/$target"
    chmod 755 "corpora/$target"
    echo "minimize: $target: $(find "corpora/$target" -type f | wc -l) inputs, $(du -s --apparent-size -k "corpora/$target" | cut -f1) KiB"
done
