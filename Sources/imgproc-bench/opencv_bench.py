#!/usr/bin/env python3
"""Times OpenCV (one thread) on the benchmark image, one spec at a time.

usage: opencv_bench.py IMAGE.png RUNS
Reads an imgproc spec per line on stdin and answers "SPEC SECONDS" (the best
of RUNS) or "SPEC -" when OpenCV has no such operation, so that the caller
can time its own run of each spec right beside OpenCV's.
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "OpenCVTests"))
import cv2  # noqa: E402
from opencv_reference import load, reference  # noqa: E402

cv2.setNumThreads(1)
img = load(sys.argv[1])
runs = int(sys.argv[2])
print("ready", flush=True)
for line in sys.stdin:
    spec = line.strip()
    try:
        reference(img, spec)
    except SystemExit:
        print(spec, "-", flush=True)
        continue
    best = min(
        (lambda t0: (reference(img, spec), time.perf_counter() - t0)[1])(time.perf_counter())
        for _ in range(runs)
    )
    print(spec, f"{best:.4f}", flush=True)
