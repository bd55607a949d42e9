# imgproc — the commands a newcomer types. See README.md.

SWIFT        ?= swift
CONFIG       ?= release
# Kernels are written for the vector units of the CPU they run on; CPU=x86-64
# (or another LLVM CPU name) builds binaries for older or other machines.
CPU          ?= native
SWIFT_FLAGS  ?= -c $(CONFIG) -Xswiftc -target-cpu -Xswiftc $(CPU)
APT_PACKAGES  = pkg-config libhiredis-dev libopenmpi-dev openmpi-bin librabbitmq-dev libpng-dev \
                libjpeg62-turbo-dev zlib1g-dev libdeflate-dev libwebp-dev libavif-dev liblcms2-dev redis-server rabbitmq-server curl python3 chromium \
                libvips-tools
PIP_PACKAGES  = opencv-python-headless pillow schemathesis locust websocket-client

.PHONY: all run test build bench deps clean fuzz fuzz-api sanitize load

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
	@python3 -c "import cv2, PIL, schemathesis, locust, websocket" 2>/dev/null || python3 -m pip install -q $(PIP_PACKAGES) 2>/dev/null \
	    || echo "warning: pip could not install $(PIP_PACKAGES); the OpenCV comparison and Schemathesis tests will skip"

## build: release build of every executable.
build: deps
	$(SWIFT) build $(SWIFT_FLAGS)

## run: start the whole system: redis-server (append-only file on) and
## rabbitmq-server with their data in .run/ (unless REDIS_URL / AMQP_URL name
## running ones), the MPI workers (one rank per core) and the HTTP server.
## Ctrl-C stops everything it started.
RUN_DIR      ?= $(CURDIR)/.run
REDIS_PORT   ?= 6380
AMQP_PORT    ?= 5673
HTTP_PORT    ?= 8080
WORKERS      ?= $(shell nproc)
run: build
	@set -e; mkdir -p "$(RUN_DIR)/redis" "$(RUN_DIR)/rabbitmq"; \
	started=""; \
	stop() { \
	    [ -n "$$workers" ] && kill $$workers 2>/dev/null && wait $$workers 2>/dev/null; \
	    case "$$started" in *redis*) kill $$(cat "$(RUN_DIR)/redis/redis.pid") 2>/dev/null && echo "stopped redis-server";; esac; \
	    case "$$started" in *rabbit*) rabbitmqctl -q -n imgproc@localhost stop >/dev/null 2>&1 && echo "stopped rabbitmq-server";; esac; \
	}; \
	trap stop EXIT INT TERM; \
	if [ -z "$$REDIS_URL" ]; then \
	    redis-server --port $(REDIS_PORT) --bind 127.0.0.1 --dir "$(RUN_DIR)/redis" --appendonly yes \
	        --pidfile "$(RUN_DIR)/redis/redis.pid" --logfile "$(RUN_DIR)/redis/redis.log" --daemonize yes; \
	    started="$$started redis"; export REDIS_URL=redis://127.0.0.1:$(REDIS_PORT)/0; \
	    for i in $$(seq 50); do redis-cli -p $(REDIS_PORT) ping >/dev/null 2>&1 && break; sleep 0.1; done; \
	fi; \
	if [ -z "$$AMQP_URL" ]; then \
	    echo "listeners.tcp.default = 127.0.0.1:$(AMQP_PORT)" > "$(RUN_DIR)/rabbitmq/rabbitmq.conf"; \
	    echo "[]." > "$(RUN_DIR)/rabbitmq/enabled_plugins"; \
	    chown -R rabbitmq:rabbitmq "$(RUN_DIR)/rabbitmq" 2>/dev/null || true; \
	    RABBITMQ_NODENAME=imgproc@localhost RABBITMQ_NODE_PORT=$(AMQP_PORT) RABBITMQ_DIST_PORT=2$(AMQP_PORT) \
	    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 ERL_EPMD_ADDRESS=127.0.0.1 \
	    RABBITMQ_MNESIA_BASE="$(RUN_DIR)/rabbitmq/mnesia" RABBITMQ_LOG_BASE="$(RUN_DIR)/rabbitmq/log" \
	    RABBITMQ_PID_FILE="$(RUN_DIR)/rabbitmq/rabbit.pid" RABBITMQ_ENABLED_PLUGINS_FILE="$(RUN_DIR)/rabbitmq/enabled_plugins" \
	    RABBITMQ_CONFIG_FILE="$(RUN_DIR)/rabbitmq/rabbitmq" setsid rabbitmq-server > "$(RUN_DIR)/rabbitmq/server.out" 2>&1 < /dev/null & \
	    started="$$started rabbit"; export AMQP_URL=amqp://guest:guest@127.0.0.1:$(AMQP_PORT)/; \
	    echo "starting rabbitmq-server (a few seconds)..."; \
	    for i in $$(seq 120); do rabbitmqctl -q -n imgproc@localhost await_startup >/dev/null 2>&1 && break; sleep 0.5; done; \
	fi; \
	.build/$(CONFIG)/imgproc workers --np $(WORKERS) --redis "$$REDIS_URL" & workers=$$!; \
	echo; echo "imgproc: open http://127.0.0.1:$(HTTP_PORT)/  (Redis $$REDIS_URL, RabbitMQ $$AMQP_URL, $(WORKERS) worker ranks)"; \
	echo "  or: .build/$(CONFIG)/imgproc submit photo.jpg --ops grayscale,blur:2,canny --wait --out results/"; echo; \
	.build/$(CONFIG)/imgproc-server --port $(HTTP_PORT) --redis "$$REDIS_URL" --amqp "$$AMQP_URL"

## test: every test, in release mode (pixel loops are 10-50x slower in debug),
## against a redis-server and a rabbitmq-server of its own (Tests/with-services.sh
## starts and stops them).
## The store, worker and system tests run a second time against a three-master
## Redis Cluster (one test at a time: a cluster has one database, which each test empties).
CLUSTER_TESTS ?= TileStoreTests|WorkerTests|SystemTests
test: deps
	$(SWIFT) build $(SWIFT_FLAGS) --build-tests
	Tests/with-services.sh sh -c '$(SWIFT) test $(SWIFT_FLAGS) --skip-build; single=$$?; \
	    echo "again against the Redis Cluster at $$IMGPROC_TEST_REDIS_CLUSTER"; \
	    REDIS_URL="$$IMGPROC_TEST_REDIS_CLUSTER" $(SWIFT) test $(SWIFT_FLAGS) --skip-build --no-parallel \
	        --filter "$(CLUSTER_TESTS)" --skip APISpecTests; cluster=$$?; \
	    [ $$single -eq 0 ] && [ $$cluster -eq 0 ]'

## bench: speed figures (release build), printed.
bench: build
	Tests/with-services.sh .build/$(CONFIG)/imgproc-bench

## fuzz: libFuzzer with AddressSanitizer on every fuzz target for FUZZ_SECONDS
## (default 60) each; fails on any crash, leak, timeout or out-of-memory.
fuzz: deps
	Tests/Fuzz/run.sh

## fuzz-api: Schemathesis against the running system, longer than in make test.
IMGPROC_API_SECONDS ?= 300
IMGPROC_API_EXAMPLES ?= 200
fuzz-api: deps
	$(SWIFT) build $(SWIFT_FLAGS) --build-tests
	IMGPROC_API_SECONDS=$(IMGPROC_API_SECONDS) IMGPROC_API_EXAMPLES=$(IMGPROC_API_EXAMPLES) \
	    Tests/with-services.sh $(SWIFT) test $(SWIFT_FLAGS) --skip-build --filter APISpecTests

## sanitize: the codec, engine and TileStore tests once under AddressSanitizer
## and once under UndefinedBehaviorSanitizer (Swift and the C wrappers both).
SANITIZED_TESTS ?= ImageCoreTests|ImageCodecsTests|TileStoreTests|FuzzTests
# swiftc has no -sanitize=undefined on Linux (Swift traps on overflow and out-of-bounds
# itself): UBSan instruments the C targets, with clang's runtime from the toolchain.
UBSAN_RT = $(shell find "$$(dirname "$$(dirname "$$(readlink -f "$$(command -v $(SWIFT))")")")/lib/clang" \
                -name 'libclang_rt.ubsan_standalone-x86_64.so' 2>/dev/null | head -1)
UBSAN_FLAGS = -c release --scratch-path .build-ubsan -Xcc -fsanitize=undefined -Xcc -fno-sanitize-recover=undefined \
              -Xlinker $(UBSAN_RT) -Xlinker -rpath -Xlinker $(dir $(UBSAN_RT))
sanitize: deps
	$(SWIFT) build -c release --scratch-path .build-asan --sanitize address --build-tests
	ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/Tests/Sanitizers/lsan.supp \
	    Tests/with-services.sh $(SWIFT) test -c release --scratch-path .build-asan --sanitize address --skip-build \
	    --filter '$(SANITIZED_TESTS)'
	$(SWIFT) build $(UBSAN_FLAGS) --build-tests
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 Tests/with-services.sh $(SWIFT) test $(UBSAN_FLAGS) --skip-build \
	    --filter '$(SANITIZED_TESTS)'

## load: 200 clients for LOAD_SECONDS (default 60) against a system of its own
## (uploads, polls, event streams, downloads), then checks nothing was lost,
## duplicated or wrong and memory came back. LOAD_SECONDS=1800 is the soak:
## a rank killed (-9) every 5 minutes and RabbitMQ restarted half-way.
load: build
	Tests/with-services.sh python3 Tests/Load/load.py

clean:
	rm -rf .build
