# Two processes (cv2.setNumThreads(1)) decoding, resizing and encoding the same
# JPEG in memory, as fast as they can: the in-process rate imgproc's small-image
# service is compared with. Prints images per second.
import multiprocessing as mp
import sys
import time

import cv2
import numpy as np


def work(path, width, height, seconds, out):
    cv2.setNumThreads(1)
    data = np.fromfile(path, np.uint8)
    done, start = 0, time.time()
    while time.time() - start < seconds:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
        small = cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)
        ok, _ = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 90])
        done += 1
    out.put(done / (time.time() - start))


if __name__ == "__main__":
    path, width, height, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    queue = mp.Queue()
    workers = [mp.Process(target=work, args=(path, width, height, seconds, queue)) for _ in range(2)]
    for w in workers:
        w.start()
    rate = sum(queue.get() for _ in workers)
    for w in workers:
        w.join()
    print(f"{rate:.1f}")
