#!/usr/bin/env bash
# make fuzz: builds imgproc-fuzz with libFuzzer and AddressSanitizer (with
# LeakSanitizer) and runs each target for FUZZ_SECONDS. Fails on any crash,
# leak, timeout or out-of-memory; the input that caused it is kept in
# .build-fuzz/findings/TARGET/ (make it a regression test: copy it to
# Tests/Fuzz/findings/TARGET/).
#
#   FUZZ_SECONDS=60            seconds per target
#   FUZZ_TARGETS="png jpeg"    which targets (default: all)
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${FUZZ_SECONDS:-60}
targets=${FUZZ_TARGETS:-"png jpeg webp avif pipeline multipart urls events"}
shared=../shared/testdata

# SwiftPM's --sanitize flags keep only the last one, and gold cannot link
# the fuzzer runtime: pass the sanitizers to swiftc and clang and link with lld.
swift build -c release --scratch-path .build-fuzz --product imgproc-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING \
    -Xcc -fsanitize=fuzzer-no-link,address -Xswiftc -use-ld=lld
fuzzer=.build-fuzz/release/imgproc-fuzz

failed=""
for target in $targets; do
    # The corpus grows across runs here; seeds are ours plus ../shared/testdata
    # (copied in, never committed).
    corpus=.build-fuzz/corpus/$target findings=.build-fuzz/findings/$target
    mkdir -p "$corpus" "$findings"
    cp Tests/Fuzz/corpus/$target/* "$corpus/"
    if [ -d "$shared" ]; then
        case $target in
            png) cp "$shared"/png/pngsuite/*.png "$shared"/png/crashers/* "$corpus/" 2>/dev/null || true ;;
            jpeg) cp "$shared"/jpeg/*.jpg "$corpus/" ;;
        esac
    fi
    log=.build-fuzz/$target.log
    status=0
    IMGPROC_FUZZ_TARGET=$target ASAN_OPTIONS=detect_leaks=1 "$fuzzer" -max_total_time="$seconds" -timeout=10 \
        -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$findings/" \
        "$corpus" > "$log" 2>&1 || status=$?
    done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1 || true)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(echo "$done_line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$done_line" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    rate=$(echo "$done_line" | sed -n 's/.*exec\/s: \([0-9]*\).*/\1/p')
    size=$(ls "$corpus" | wc -l)
    found=$(ls "$findings" | wc -l)
    if [ "$status" -ne 0 ] || [ "$found" -ne 0 ]; then
        echo "fuzz $target: FAILED (exit $status, $found input(s) in $findings/); end of $log:"
        grep -E 'ERROR|SUMMARY|Fatal error|crashed|Test unit written' "$log" | head -20
        failed="$failed $target"
    else
        echo "fuzz $target: ${runs:-?} runs in ${seconds} s (${rate:-?}/s), coverage ${cov:-?} edges, ${ft:-?} features, corpus $size; no finding"
    fi
done
[ -z "$failed" ] || { echo "fuzz: findings in:$failed"; exit 1; }
