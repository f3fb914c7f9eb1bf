# riskd: one non-recursive GNU Makefile.
#   make                 release build: build/riskd, build/release/libriskd.{a,so}
#   make MODE=debug|asan|tsan the same in build/<mode>/
#   make test            install what is missing, build, run every test
#   make bench | fuzz | lint | demo
MODE ?= release
B := build/$(MODE)
# Every core unless -j was given (make test runs four builds: release, asan, tsan, fuzz).
ifeq ($(filter -j%,$(MAKEFLAGS)),)
MAKEFLAGS += -j$(shell nproc)
endif
V ?= 0
ifeq ($(V),0)
Q := @
msg = printf '  %-6s %s\n' $(1) $(2);
endif

CC ?= cc
PKGS :=
PKG_CFLAGS :=
PKG_LIBS :=

WARN := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wformat=2 \
        -Wvla -Wconversion -Wno-sign-conversion -Wdouble-promotion
# Link-time optimisation lets the evaluator inline across modules (~12% fewer instructions
# per flag evaluation, measured with callgrind); fat objects keep libriskd.a usable without it.
CFLAGS_release := -O2 -g -flto=auto -ffat-lto-objects
# At link time GCC re-warns across modules that out-parameters "may be used uninitialized"
# where the callee writes them on success only; every module is still compiled with the
# warning, so it is off for the LTO link step alone.
LDFLAGS_release := -flto=auto -Wno-maybe-uninitialized
AR_release := gcc-ar
CFLAGS_debug := -O0 -g3
CFLAGS_asan := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS_asan := -fsanitize=address,undefined
CFLAGS_tsan := -O1 -g -fsanitize=thread
LDFLAGS_tsan := -fsanitize=thread
CPPFLAGS += -D_GNU_SOURCE -Iinclude $(PKG_CFLAGS)
CFLAGS += $(WARN) $(CFLAGS_$(MODE)) -fPIC -fvisibility=hidden -MMD -MP
LDFLAGS += $(LDFLAGS_$(MODE))
# Ed25519 (bundle signatures) is in libhogweed, nettle's public-key half (nettle-dev ships both).
# libpq: the store's PostgreSQL backend (src/lib/store/pg*.c).
PQ_CFLAGS := $(or $(shell pkg-config --cflags libpq 2>/dev/null),-I/usr/include/postgresql)
CPPFLAGS += $(PQ_CFLAGS)
LDLIBS := $(PKG_LIBS) -lsqlite3 -lpq -lhogweed -lnettle -lm -lpthread

# libcurl: the governance commands' client of the admin API (src/cli/cmd_change_http.c) and the
# notifications' transport (src/server/notify_http.c); only these two files include it and only
# the riskd binary links it.
CURL_CFLAGS := $(shell pkg-config --cflags libcurl 2>/dev/null)
CURL_LIBS := $(or $(shell pkg-config --libs libcurl 2>/dev/null),-lcurl)

LIB_SRC := $(sort $(wildcard src/lib/*/*.c))
CLI_SRC := $(sort $(wildcard src/cli/*.c))
SERVER_SRC := $(sort $(wildcard src/server/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/*/test_*.c))
CONF_SRC := $(sort $(wildcard tests/conformance/*.c))
# Helpers the integration tests run (tests/tools/NAME.c -> build/<mode>/tests/tools/NAME), built
# by the unit tests' rule: they may reach the library's internals too.
TOOL_SRC := $(sort $(wildcard tests/tools/*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))

LIB_OBJ := $(LIB_SRC:%.c=$(B)/obj/%.o)

# The report page (src/lib/analysis/report.html) as a C byte list that html.c includes
# (shared by every mode; od and sed, no generator to build). The list ends with a NUL.
GEN := build/gen
CPPFLAGS += -I$(GEN)
$(GEN)/report_html.inc: src/lib/analysis/report.html
	@mkdir -p $(@D)
	$(Q)$(call msg,GEN,$@) od -An -v -tx1 $< | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g' >$@.tmp && \
	  echo 0x00 >>$@.tmp && mv -f $@.tmp $@
$(B)/obj/src/lib/analysis/html.o build/fuzz/obj/src/lib/analysis/html.o: $(GEN)/report_html.inc
# The web console (console/src, docs/adr/0013-web-console.md) bundled by esbuild into the byte
# arrays src/server/console.c serves: Node.js and console/node_modules (scripts/deps.sh) at build
# time only. The same sources give the same bytes (tests/integration/28-console.sh checks).
CONSOLE_SRC := $(sort $(wildcard console/src/*.* console/src/*/*.*)) console/build.mjs console/package-lock.json
$(GEN)/console_assets.inc: $(CONSOLE_SRC)
	@mkdir -p $(@D)
	@[ -d console/node_modules/esbuild ] || { echo "console/node_modules is missing: run scripts/deps.sh (make does it for test, demo and bench)" >&2; exit 1; }
	$(Q)$(call msg,GEN,$@) node console/build.mjs --out $@ --dir $(GEN)/console
$(B)/obj/src/server/console.o build/fuzz/obj/src/server/console.o: $(GEN)/console_assets.inc
CLI_OBJ := $(CLI_SRC:%.c=$(B)/obj/%.o) $(SERVER_SRC:%.c=$(B)/obj/%.o)
UNIT_BIN := $(UNIT_SRC:%.c=$(B)/%)
CONF_BIN := $(CONF_SRC:%.c=$(B)/%)
TOOL_BIN := $(TOOL_SRC:%.c=$(B)/%)
BENCH_BIN := $(BENCH_SRC:%.c=$(B)/%)

.PHONY: all lib test unit check bench fuzz fuzz-build lint demo clean deps drill python
.DEFAULT_GOAL := all

all: $(B)/riskd $(B)/libriskd.a $(B)/libriskd.so $(UNIT_BIN) $(CONF_BIN) $(TOOL_BIN)
ifeq ($(MODE),release)
all: build/riskd
build/riskd: $(B)/riskd
	$(Q)cp $< $@.tmp && mv -f $@.tmp $@
endif

$(B)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(Q)$(call msg,CC,$<) $(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(B)/libriskd.a: $(LIB_OBJ)
	@rm -f $@
	$(Q)$(call msg,AR,$@) $(or $(AR_$(MODE)),ar) rcs $@ $^

$(B)/libriskd.so: $(LIB_OBJ)
	$(Q)$(call msg,LD,$@) $(CC) -shared $(LDFLAGS) -o $@ $^ $(LDLIBS)

# GnuTLS for the server's HTTPS (src/server/tls.c) only: the library and the fuzz targets
# (which leave the socket glue out) do not link it.
GNUTLS_CFLAGS := $(shell pkg-config --cflags gnutls 2>/dev/null)
GNUTLS_LIBS := $(or $(shell pkg-config --libs gnutls 2>/dev/null),-lgnutls)
$(B)/obj/src/server/tls.o: CPPFLAGS += $(GNUTLS_CFLAGS)

# The flagd sync service (src/server/sync*.c): HTTP/2 by libnghttp2, protobuf by protobuf-c. The C of
# proto/**/*.proto is generated into build/gen at build time (protoc-c, Debian protobuf-c-compiler),
# never committed, and compiled without the project's warnings (it is not ours to fix); only the
# riskd binary and the gRPC fuzz target link it.
PROTO_SRC := proto/flagd/sync/v1/sync.proto proto/google/protobuf/struct.proto
PROTO_C := $(PROTO_SRC:proto/%.proto=$(GEN)/%.pb-c.c)
PROTO_H := $(PROTO_C:.c=.h)
PROTO_OBJ := $(PROTO_C:$(GEN)/%.c=$(B)/obj/gen/%.o)
SYNC_CFLAGS := $(shell pkg-config --cflags libnghttp2 libprotobuf-c 2>/dev/null)
SYNC_LIBS := $(or $(shell pkg-config --libs libnghttp2 libprotobuf-c 2>/dev/null),-lnghttp2 -lprotobuf-c)
# One protoc-c run writes every file; the stamp makes parallel makes run it once.
$(GEN)/proto.stamp: $(PROTO_SRC)
	@mkdir -p $(GEN)
	$(Q)$(call msg,PROTOC,$(PROTO_SRC)) protoc-c -Iproto --c_out=$(GEN) $(PROTO_SRC) && touch $@
$(PROTO_C) $(PROTO_H): $(GEN)/proto.stamp
$(B)/obj/gen/%.o: $(GEN)/%.c $(GEN)/proto.stamp
	@mkdir -p $(@D)
	$(Q)$(call msg,CC,$<) $(CC) $(CPPFLAGS) $(SYNC_CFLAGS) $(filter-out $(WARN),$(CFLAGS)) -std=c11 -w -c $< -o $@
$(B)/obj/src/server/sync.o $(B)/obj/src/server/sync_grpc.o: $(GEN)/proto.stamp
$(B)/obj/src/server/sync.o $(B)/obj/src/server/sync_grpc.o: CPPFLAGS += $(SYNC_CFLAGS) $(GNUTLS_CFLAGS)

$(B)/riskd: $(CLI_OBJ) $(PROTO_OBJ) $(B)/libriskd.a
	$(Q)$(call msg,LD,$@) $(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lmicrohttpd $(GNUTLS_LIBS) $(CURL_LIBS) $(SYNC_LIBS)
$(B)/obj/src/cli/cmd_change_http.o $(B)/obj/src/server/notify_http.o: CPPFLAGS += $(CURL_CFLAGS)

# Unit tests: one cmocka binary per source file; they may reach module internals. In release
# they link the library's fat objects without a link-time optimisation of their own (the
# shipped riskd and libriskd.so keep it): some sixty LTO links cost the test run half a minute.
TEST_NOLTO := $(if $(filter release,$(MODE)),-fno-lto)
$(B)/tests/%: tests/%.c $(B)/libriskd.a
	@mkdir -p $(@D)
	$(Q)$(call msg,TEST,$@) $(CC) $(CPPFLAGS) -Isrc/lib $(CFLAGS) -Wno-missing-prototypes -o $@ $< $(B)/libriskd.a $(LDFLAGS) $(TEST_NOLTO) -lcmocka $(LDLIBS)

# The server's CORS rules are compiled into their unit test (the server is not in libriskd).
$(B)/tests/unit/server/test_cors: src/server/cors.c src/server/server.h

$(B)/bench/%: bench/%.c $(B)/libriskd.a
	@mkdir -p $(@D)
	$(Q)$(call msg,BENCH,$@) $(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(B)/libriskd.a $(LDFLAGS) $(LDLIBS)

$(B)/bench/model_bench: LDLIBS += -lxgboost
# its LightGBM case drops a model's layout to time the node walk (model_int.h): bench only
$(B)/bench/model_bench: CPPFLAGS += -Isrc/lib
$(B)/bench/log_bench $(B)/bench/store_log: bench/log_record.h

deps:
	@scripts/deps.sh

# make test: every suite, release and ASan+UBSan builds; ends with "N passed, N failed".
test: deps
	@$(MAKE) --no-print-directory MODE=release all
	@$(MAKE) --no-print-directory MODE=asan all
	@$(MAKE) --no-print-directory MODE=tsan $(UNIT_SRC:%.c=build/tsan/%) build/tsan/riskd
	@$(MAKE) --no-print-directory fuzz-replay
	@scripts/run-tests.sh

# ---- fuzzing (libFuzzer, clang) ----
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=build/fuzz/%)
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Iinclude -Ibuild/gen $(PKG_CFLAGS) $(PQ_CFLAGS) -fno-sanitize-recover=undefined
FUZZ_FLAGS := $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined
FUZZ_LIBS := $(PKG_LIBS) -lsqlite3 -lpq -lhogweed -lnettle -lm -lpthread
# The library (and the server's routes) compiled once for every target: instrumented for the
# fuzzer (fuzzer-no-link: the targets bring libFuzzer's main).
FUZZ_LIB_OBJ := $(LIB_SRC:%.c=build/fuzz/obj/%.o)
build/fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	$(Q)$(call msg,CC,$@) clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -MMD -MP -c $< -o $@
build/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_OBJ)
	@mkdir -p $(@D)
	$(Q)$(call msg,FUZZ,$@) clang $(FUZZ_FLAGS) -o $@ $< $(FUZZ_LIB_OBJ) $(FUZZ_LIBS)
# The service's routes without a socket: the server sources but the libmicrohttpd, GnuTLS, sync and
# libcurl glue.
FUZZ_SERVER_SRC := $(filter-out src/server/http.c src/server/tls.c src/server/sync.c src/server/sync_grpc.c \
                     src/server/notify_http.c,$(SERVER_SRC))
FUZZ_SERVER_OBJ := $(FUZZ_SERVER_SRC:%.c=build/fuzz/obj/%.o)
build/fuzz/fuzz_serve: tests/fuzz/fuzz_serve.c $(FUZZ_LIB_OBJ) $(FUZZ_SERVER_OBJ)
	@mkdir -p $(@D)
	$(Q)$(call msg,FUZZ,$@) clang $(FUZZ_FLAGS) -o $@ $< $(FUZZ_LIB_OBJ) $(FUZZ_SERVER_OBJ) $(FUZZ_LIBS) -lmicrohttpd
# The gRPC reader and request decoding of the sync service, with the generated protobuf code.
FUZZ_PROTO_OBJ := $(PROTO_C:$(GEN)/%.c=build/fuzz/obj/gen/%.o)
build/fuzz/obj/gen/%.o: $(GEN)/%.c $(GEN)/proto.stamp
	@mkdir -p $(@D)
	$(Q)$(call msg,CC,$@) clang $(FUZZ_CFLAGS) $(SYNC_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -w -c $< -o $@
build/fuzz/obj/src/server/sync_grpc.o: $(GEN)/proto.stamp
build/fuzz/fuzz_grpc: tests/fuzz/fuzz_grpc.c $(FUZZ_LIB_OBJ) build/fuzz/obj/src/server/sync_grpc.o $(FUZZ_PROTO_OBJ)
	@mkdir -p $(@D)
	$(Q)$(call msg,FUZZ,$@) clang $(FUZZ_FLAGS) -Isrc/server -o $@ $< $(FUZZ_LIB_OBJ) build/fuzz/obj/src/server/sync_grpc.o $(FUZZ_PROTO_OBJ) $(FUZZ_LIBS) $(SYNC_LIBS)
-include $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_SERVER_OBJ:.o=.d) build/fuzz/obj/src/server/sync_grpc.d
fuzz-build: $(FUZZ_BIN)
.PHONY: fuzz-replay
fuzz-replay: fuzz-build
FUZZ_SECONDS ?= 60
fuzz: fuzz-build
	@for f in $(FUZZ_BIN); do n=$$(basename $$f); mkdir -p tests/fuzz/corpus/$$n; \
	  echo "fuzzing $$n for $(FUZZ_SECONDS)s"; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 tests/fuzz/corpus/$$n || exit 1; done

# make drill: the long forms of the tests' short drills (shared/TESTING.md): kill -9 after
# RISKD_DRILL_SECONDS (default 30) of load, in both durability modes of the decision log; the
# rollout drill at real speed (scripts/rollout-drill.sh: the walk, and the rollback times); the
# governance rollback drill (scripts/rollback-drill.sh: a bad published change rolled back
# under load, the time until every answer is the old version's); the decision log through a
# PostgreSQL outage under steady load (scripts/dlog-outage-drill.sh: every record acknowledged,
# spooled, drained in order); notifications through a receiver's outage during an automatic
# rollback and kill -9 rounds (scripts/notify-drill.sh: in order, once each by idempotency key).
drill: deps
	@$(MAKE) --no-print-directory MODE=release all
	@RISKD_DRILL_SECONDS=$${RISKD_DRILL_SECONDS:-30} RISKD_BIN=build/release/riskd bash tests/integration/06-log.sh
	@RISKD_BIN=build/release/riskd scripts/rollout-drill.sh
	@RISKD_BIN=build/release/riskd RISKD_DRILL_SECONDS=$${RISKD_DRILL_SECONDS:-10} RISKD_DRILL_ROUNDS=5 scripts/rollback-drill.sh
	@echo "several nodes: the lag of 20 changes over three nodes (tests/integration/22-cluster.sh)"
	@RISKD_BIN=build/release/riskd RISKD_DRILL_CHANGES=20 bash tests/integration/22-cluster.sh
	@echo "several nodes: PostgreSQL stopped for 30 s under load (tests/integration/23-store-outage.sh)"
	@RISKD_BIN=build/release/riskd RISKD_DRILL_SECONDS=$${RISKD_DRILL_SECONDS:-30} bash tests/integration/23-store-outage.sh
	@echo "several nodes: a minute of racing approvals on two nodes (tests/integration/24-governance-race.sh)"
	@RISKD_BIN=build/release/riskd RISKD_DRILL_SECONDS=60 bash tests/integration/24-governance-race.sh
	@RISKD_DRILL_SECONDS=$${RISKD_DRILL_SECONDS:-30} scripts/dlog-outage-drill.sh
	@echo "notifications: the receiver down during an automatic rollback; kill -9 rounds (scripts/notify-drill.sh)"
	@RISKD_BIN=build/release/riskd RISKD_DRILL_SECONDS=$${RISKD_DRILL_SECONDS:-30} scripts/notify-drill.sh

bench:
	@scripts/deps.sh
	@$(MAKE) --no-print-directory MODE=release all $(BENCH_BIN)
	@bench/run.sh

lint: build/gen/report_html.inc $(GEN)/console_assets.inc $(GEN)/proto.stamp
	clang-format --dry-run --Werror $(LIB_SRC) $(CLI_SRC) $(SERVER_SRC) include/riskd/*.h src/lib/*/*.h src/server/*.h
	clang-tidy --quiet $(LIB_SRC) $(CLI_SRC) $(SERVER_SRC) -- $(CPPFLAGS) $(GNUTLS_CFLAGS) -std=c11

demo: deps all
	@scripts/demo.sh

# The Python package with the release library beside it, ready for
# `pip install --no-build-isolation ./python` into a venv (docs/python.md).
python: deps
	@$(MAKE) --no-print-directory MODE=release build/release/libriskd.so
	@cp build/release/libriskd.so python/riskd/libriskd.so
	@echo "python/riskd: $$(/usr/bin/python3 -c 'import sys; sys.path.insert(0, "python"); import riskd; print(riskd.__version__, riskd.LIBRARY)')"

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d)
