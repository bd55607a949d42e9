#!/usr/bin/env python3
"""The OpenCV result of one imgproc operation, for the tests that check our
kernels against the library users know.

usage: opencv_reference.py IN.png OUT.png OP[:ARG...]

Images are read and written as they are stored (RGB order, no BGR swap):
every operation here treats channels alike except grayscale and clahe,
which are told the order explicitly.
"""
import sys

import cv2
import numpy as np


def load(path):
    img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if img is None:
        sys.exit(f"cannot read {path}")
    if img.ndim == 3:
        # cv2 reads BGR(A); keep the file's RGB(A) order.
        order = [2, 1, 0] if img.shape[2] == 3 else [2, 1, 0, 3]
        img = img[:, :, order].copy()
    return img


def save(path, img):
    if img.ndim == 3:
        order = [2, 1, 0] if img.shape[2] == 3 else [2, 1, 0, 3]
        img = img[:, :, order]
    cv2.imwrite(path, img)


def reference(img, spec):
    name, *args = spec.split(":")
    f = [float(a) for a in args if a.replace(".", "").replace("-", "").isdigit()]  # numeric arguments
    if name == "grayscale":
        return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY) if img.ndim == 3 else img
    if name == "invert":
        return 255 - img
    if name == "brightness":
        return np.clip(img.astype(int) + int(f[0]), 0, 255).astype(np.uint8)
    if name == "contrast":
        return cv2.addWeighted(img, f[0], img, 0, 128 * (1 - f[0]))
    if name == "gamma":
        lut = np.clip(np.round(255 * (np.arange(256) / 255) ** (1 / f[0])), 0, 255).astype(np.uint8)
        return cv2.LUT(img, lut)
    if name == "blur":
        return cv2.GaussianBlur(img, (0, 0), f[0])
    if name == "boxblur":
        k = 2 * int(f[0]) + 1
        return cv2.blur(img, (k, k))
    if name == "median":
        return cv2.medianBlur(img, 2 * int(f[0]) + 1)
    if name == "sharpen":
        blurred = cv2.GaussianBlur(img, (0, 0), f[0])
        return cv2.addWeighted(img, 1 + f[1], blurred, -f[1], 0)
    if name == "sobel":
        gx = cv2.Sobel(img, cv2.CV_32F, 1, 0)
        gy = cv2.Sobel(img, cv2.CV_32F, 0, 1)
        return np.clip(np.round(cv2.magnitude(gx, gy)), 0, 255).astype(np.uint8)
    if name == "canny":
        return cv2.Canny(img, f[0], f[1])
    if name == "clahe":
        clahe = cv2.createCLAHE(clipLimit=f[0], tileGridSize=(int(f[1]), int(f[1])))
        if img.ndim == 2:
            return clahe.apply(img)
        lab = cv2.cvtColor(img, cv2.COLOR_RGB2Lab)
        lab[:, :, 0] = clahe.apply(lab[:, :, 0])
        return cv2.cvtColor(lab, cv2.COLOR_Lab2RGB)
    if name == "resize":
        if "x" in args[0]:
            w, h = (int(v) for v in args[0].split("x"))
            return cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
        s = float(args[0])
        h, w = img.shape[:2]
        return cv2.resize(img, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_LINEAR)
    if name == "rotate":
        code = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
        return cv2.rotate(img, code[int(f[0])])
    if name == "flip":
        return cv2.flip(img, 1 if args[0] == "h" else 0)
    sys.exit(f"no OpenCV reference for {name}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    save(sys.argv[2], reference(load(sys.argv[1]), sys.argv[3]))
