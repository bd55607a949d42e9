# imgproc — the commands a newcomer types. See README.md.

SWIFT        ?= swift
CONFIG       ?= release
# Kernels are written for the vector units of the CPU they run on; CPU=x86-64
# (or another LLVM CPU name) builds binaries for older or other machines.
CPU          ?= native
SWIFT_FLAGS  ?= -c $(CONFIG) -Xswiftc -target-cpu -Xswiftc $(CPU)
# Large pixel buffers on transparent huge pages: fewer page faults per image.
export GLIBC_TUNABLES ?= glibc.malloc.hugetlb=1
APT_PACKAGES  = pkg-config libhiredis-dev libopenmpi-dev openmpi-bin librabbitmq-dev libpng-dev \
                libjpeg62-turbo-dev libturbojpeg0-dev redis-server rabbitmq-server
PIP_PACKAGES  = opencv-python-headless pillow

.PHONY: all run test build bench deps clean

all: build

## deps: install the system packages imgproc needs, when missing (apt-get), and the
## Python peers tests and benchmarks compare against (pip; optional).
deps:
	@missing=""; for p in $(APT_PACKAGES); do \
	    dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "installing:$$missing"; \
	    sudo=""; [ "$$(id -u)" -ne 0 ] && sudo=sudo; \
	    $$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi
	@# The OpenCV and Pillow comparisons skip, saying why, when these cannot be had.
	@python3 -c "import cv2, PIL" 2>/dev/null || python3 -m pip install -q $(PIP_PACKAGES) 2>/dev/null \
	    || echo "warning: pip could not install $(PIP_PACKAGES); OpenCV comparison tests will skip"

## build: release build of every executable.
build: deps
	$(SWIFT) build $(SWIFT_FLAGS)

## run: start the system: a local redis-server (append-only file on, data in
## .run/, unless REDIS_URL names one) and the MPI workers, one rank per core.
## Ctrl-C stops everything it started.
RUN_DIR      ?= $(CURDIR)/.run
REDIS_PORT   ?= 6380
WORKERS      ?= $(shell nproc)
run: build
	@set -e; mkdir -p "$(RUN_DIR)/redis"; \
	if [ -z "$$REDIS_URL" ]; then \
	    redis-server --port $(REDIS_PORT) --bind 127.0.0.1 --dir "$(RUN_DIR)/redis" --appendonly yes \
	        --pidfile "$(RUN_DIR)/redis/redis.pid" --logfile "$(RUN_DIR)/redis/redis.log" --daemonize yes; \
	    trap 'kill $$(cat "$(RUN_DIR)/redis/redis.pid") 2>/dev/null && echo "stopped redis-server"' EXIT INT TERM; \
	    export REDIS_URL=redis://127.0.0.1:$(REDIS_PORT)/0; \
	    for i in $$(seq 50); do redis-cli -p $(REDIS_PORT) ping >/dev/null 2>&1 && break; sleep 0.1; done; \
	fi; \
	echo "imgproc: Redis at $$REDIS_URL, $(WORKERS) worker ranks. In another shell:"; \
	echo "  export REDIS_URL=$$REDIS_URL"; \
	echo "  .build/$(CONFIG)/imgproc enqueue photo.jpg --ops grayscale,blur:2,canny   # prints a job id"; \
	echo "  .build/$(CONFIG)/imgproc inspect ID;  .build/$(CONFIG)/imgproc result ID out.jpg"; \
	.build/$(CONFIG)/imgproc workers --np $(WORKERS) --redis "$$REDIS_URL"

## test: every test, in release mode (pixel loops are 10-50x slower in debug),
## against a redis-server of its own (Tests/with-services.sh starts and stops it).
test: deps
	$(SWIFT) build $(SWIFT_FLAGS) --build-tests
	Tests/with-services.sh $(SWIFT) test $(SWIFT_FLAGS) --skip-build

## bench: speed figures (release build), printed.
bench: build
	Tests/with-services.sh .build/$(CONFIG)/imgproc-bench

clean:
	rm -rf .build
