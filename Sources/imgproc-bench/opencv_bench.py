#!/usr/bin/env python3
"""Times OpenCV (one thread) on the benchmark image for each imgproc spec.

usage: opencv_bench.py IMAGE.png SPEC...   prints "SPEC SECONDS" per line
"""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "Tests", "OpenCVTests"))
import cv2  # noqa: E402
from opencv_reference import load, reference  # noqa: E402

cv2.setNumThreads(1)
img = load(sys.argv[1])
for spec in sys.argv[2:]:
    try:
        reference(img, spec)
    except SystemExit:
        continue
    best = min(
        (lambda t0: (reference(img, spec), time.perf_counter() - t0)[1])(time.perf_counter())
        for _ in range(3)
    )
    print(spec, f"{best:.4f}", flush=True)
