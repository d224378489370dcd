# kefu — build, test, run, bench.  See README.md.
#
# Every src/**/*.c except src/main.c goes into build/libkefu.a; the binary and
# each unit test (tests/unit/test_*.c, Criterion) link against it.  New files
# are picked up without editing this Makefile.

CC       ?= cc
BUILD    ?= build
PKGS      = libh2o-evloop openssl libcjson libutf8proc libpcre2-8 \
            sqlite3 yaml-0.1 libcurl libsodium
SAN      ?=
OPT      ?= -O2
CFLAGS   += -std=c11 -D_GNU_SOURCE -DH2O_USE_EPOLL=1 $(OPT) -g -pipe \
            -Wall -Wextra -Werror -Wno-missing-field-initializers \
            -Isrc $(shell pkg-config --cflags $(PKGS)) -MMD -MP $(SAN)
LDLIBS   += $(shell pkg-config --libs $(PKGS)) -lwslay -llinear -lpthread -lm -lz
LDFLAGS  += $(SAN)

SRCS     := $(shell find src -name '*.c' ! -path src/main.c | sort)
OBJS     := $(SRCS:src/%.c=$(BUILD)/obj/%.o)
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
BIN      := $(BUILD)/kefu
MODEL    := $(BUILD)/demo.model
PYTEST    = /usr/bin/python3 -m pytest -q -p no:cacheprovider

.PHONY: all deps run test unit asan integration bench clean model web wsload routing-bench handoff-bench
all: deps kefu $(MODEL) web

deps:
	@scripts/deps.sh build

kefu: $(BIN)
	@ln -sf $(BIN) kefu

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libkefu.a: $(OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/obj/main.o $(BUILD)/libkefu.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libkefu.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(BUILD)/libkefu.a $(LDFLAGS) $(LDLIBS) -lcriterion

# The default model is trained from the demo bot's own phrases.
$(MODEL): $(BIN) $(shell find bots/demo -type f 2>/dev/null)
	$(BIN) train --bot bots/demo --out $@ --quiet

model: $(MODEL)

web:
	@scripts/web.sh

run: all
	$(BIN) serve --model $(MODEL)

unit: $(UNIT_BIN)
	@scripts/run-unit.sh $(UNIT_BIN)

asan:
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" unit

integration: all
	@scripts/deps.sh test
	KEFU_BIN=$(CURDIR)/$(BIN) KEFU_MODEL=$(CURDIR)/$(MODEL) $(PYTEST) tests/integration

test:
	@scripts/deps.sh test
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory asan
	@$(MAKE) --no-print-directory integration

# The bench clients' shared pieces (bench/common): the RFC 6455 framing (wsproto), the epoll
# WebSocket client connections (wsclient), timing and percentiles (stats), helpers (util).
BENCH_COMMON := $(foreach f,wsproto wsclient stats util,bench/common/$(f).c bench/common/$(f).h)

# The WebSocket chat load generator of bench/run.sh (d): not part of libkefu.
$(BUILD)/wsload: bench/wsload/wsload.c $(BENCH_COMMON)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(OPT) -g -Wall -Wextra -Werror -o $@ $(filter %.c,$^) $(shell pkg-config --libs libcrypto)

wsload: $(BUILD)/wsload

# The handoff → offer benchmark of bench/run.sh (f): the same client pieces as wsload.
$(BUILD)/handoff_bench: bench/handoff/handoff_bench.c $(BENCH_COMMON)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -D_GNU_SOURCE $(OPT) -g -Wall -Wextra -Werror -o $@ $(filter %.c,$^) $(shell pkg-config --libs libcrypto)

handoff-bench: $(BUILD)/handoff_bench

# The routing engine's benchmark (bench/run.sh, BENCH_ONLY=routing): decisions/s, p50/p99.
$(BUILD)/routing_bench: bench/routing/routing_bench.c $(BUILD)/libkefu.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(BUILD)/libkefu.a $(LDFLAGS) $(LDLIBS)

routing-bench: $(BUILD)/routing_bench

bench: all wsload routing-bench handoff-bench
	@scripts/deps.sh bench
	bench/run.sh

clean:
	rm -rf build build-asan kefu

-include $(OBJS:.o=.d) $(BUILD)/obj/main.d
