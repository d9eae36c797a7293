# rattan: plain Makefile.
#
#   make                 build/librattan.a, build/librattan.so, build/rattan
#   make test            the test suite (installs missing packages first)
#   make crash           the crash loop, CRASH_KILLS (200) SIGKILLs;
#                        crash-long: 10,000
#   make SANITIZE=1 test the same under ASan + UBSan, in build-asan/
#   make check-layers    fail on an include that breaks the layer rules
#   make format          clang-format every source; format-check: verify
#   make install         PREFIX=/usr/local DESTDIR= (header, libs, rattan, .pc)
#   make check-install   install into a temporary prefix and build a program
#                        against it with pkg-config
#   make fuzz            libFuzzer targets, FUZZ_SECONDS each (clang)
#   make demo            the main job: examples/release.json, live, then its
#                        status
#   make deps            install missing Debian packages

CC      ?= cc
PREFIX  ?= /usr/local
LIBDIR  ?= $(PREFIX)/lib
CFLAGS  ?= -O2 -g
FUZZ_SECONDS ?= 60

VERSION := $(shell sed -n 's/^\#define RATTAN_VERSION_STRING *"\(.*\)"/\1/p' include/rattan.h)
MAJOR   := $(firstword $(subst ., ,$(VERSION)))

W = -Wall -Wextra -Wshadow -Wstrict-prototypes
ifeq ($(CI),true)
W += -Werror
endif

ifeq ($(SANITIZE),1)
BUILD   ?= build-asan
SAN      = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
BUILD   ?= build
SAN      =
endif

XCFLAGS = -std=c11 -D_GNU_SOURCE -fPIC -fvisibility=hidden -Iinclude -I. $(W) $(SAN)
LIBS    = -llmdb -lmsgpackc -lcbor -ljansson -lpthread -lm

LIB_SRC  = $(wildcard store/*.c engine/*.c api/*.c)
LIB_OBJ  = $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ  = $(patsubst %.c,$(BUILD)/%.o,$(wildcard cli/*.c))
# The fuzz targets' bodies (all of fuzz/ but the libFuzzer entry points),
# which the tests also link to replay the corpora.
FUZZ_SRC = $(filter-out fuzz/fuzz_%.c,$(wildcard fuzz/*.c))
TEST_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/*.c) $(FUZZ_SRC))
BENCH_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(wildcard bench/*.c) tests/shapes.c)
EXAMPLE_BIN = $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))
FUZZ_TARGETS = record definition expr journal status sequence

STATIC = $(BUILD)/librattan.a
SHARED = $(BUILD)/librattan.so.$(VERSION)
# Tests, benchmarks and fuzzers reach internals: they link this archive of
# the plain objects. librattan.a holds one object whose internal (hidden)
# symbols are made local, so a host linking it statically sees rattan_*
# names only.
INTERNAL = $(BUILD)/librattan-internal.a

.PHONY: all test crash crash-long demo bench check-layers format format-check install check-install \
        fuzz deps clean

all: $(STATIC) $(BUILD)/librattan.so $(BUILD)/rattan $(EXAMPLE_BIN)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(XCFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

$(INTERNAL): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(STATIC): $(LIB_OBJ)
	@rm -f $@
	$(LD) -r -o $(BUILD)/rattan.o $^
	objcopy --localize-hidden $(BUILD)/rattan.o
	ar rcs $@ $(BUILD)/rattan.o

$(SHARED): $(LIB_OBJ)
	$(CC) -shared -Wl,-soname,librattan.so.$(MAJOR) -Wl,--no-undefined $(SAN) -o $@ $^ $(LIBS)

$(BUILD)/librattan.so: $(SHARED)
	ln -sf librattan.so.$(VERSION) $(BUILD)/librattan.so.$(MAJOR)
	ln -sf librattan.so.$(VERSION) $@

$(BUILD)/rattan: $(CLI_OBJ) $(STATIC)
	$(CC) $(SAN) -o $@ $(CLI_OBJ) $(STATIC) $(LIBS) -lmicrohttpd

# The examples are built as a host would build them: the public header
# and librattan.a only.
$(BUILD)/examples/%: examples/%.c include/rattan.h $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) -std=c11 -Iinclude $(W) $(SAN) $(CFLAGS) -o $@ $< $(STATIC) $(LIBS)

$(BUILD)/run-tests: $(TEST_OBJ) $(INTERNAL)
	$(CC) $(SAN) -o $@ $(TEST_OBJ) $(INTERNAL) $(LIBS)

# The crash loop (tests/crash): writers killed with SIGKILL at random
# moments and at named points, the store checked after each kill.
# `make crash` is CI's size, `make crash-long` the long run of README's
# figures. CRASH_KILLS overrides the count (a smaller one under ASan).
CRASH_OBJ = $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/crash/*.c))
CRASH_KILLS ?= 200
CRASH_LONG_KILLS ?= 10000

$(BUILD)/crash-loop: $(CRASH_OBJ) $(BUILD)/tests/shapes.o $(INTERNAL)
	$(CC) $(SAN) -o $@ $^ $(LIBS)

crash: deps
	@$(MAKE) --no-print-directory $(BUILD)/crash-loop
	$(BUILD)/crash-loop --kills $(CRASH_KILLS)

crash-long: deps
	@$(MAKE) --no-print-directory $(BUILD)/crash-loop
	$(BUILD)/crash-loop --kills $(CRASH_LONG_KILLS)

# Each test gets a fresh store under TMPDIR; the runner's last line is
# "N passed, N failed". T=name runs the tests whose names contain it.
test: deps
	@$(MAKE) --no-print-directory all $(BUILD)/run-tests
	$(BUILD)/run-tests $(T)

# The bench is optimised whatever CFLAGS says (its -O2 comes last).
$(BENCH_OBJ): CFLAGS += -O2
$(BUILD)/bench/rattan-bench: $(BENCH_OBJ) $(INTERNAL)
	$(CC) $(SAN) -o $@ $^ $(LIBS)

# The main job: the release example driven live, then its status.
DEMO_DB    ?= /tmp/rattan-demo
DEMO_CLOCK  = --clock virtual:2024-01-01T10:00:00+08:00
demo: deps
	@$(MAKE) --no-print-directory all
	rm -rf $(DEMO_DB)
	$(BUILD)/rattan --db $(DEMO_DB) $(DEMO_CLOCK) --seed 1 run examples/release.json --id 1 --watch
	$(BUILD)/rattan --db $(DEMO_DB) $(DEMO_CLOCK) status 1 --pretty

# Benchmarks (never part of make test): one table, bench/results.json.
# BENCH_SIZE=tiny runs everything at tiny sizes once (CI: it still runs);
# BENCH_DIR picks the directory the stores go to (default /var/tmp).
bench: deps
	@$(MAKE) --no-print-directory $(BUILD)/bench/rattan-bench
	BENCH_SIZE=$(BENCH_SIZE) $(BUILD)/bench/rattan-bench

# Layers point down: cli -> api -> engine -> store. LMDB is store's alone;
# msgpack and CBOR belong to store/ and api/ (tests decode the status
# encodings with those libraries' own decoders, as an independent check;
# bench/ times them raw as the status baselines).
check-layers:
	@bad=0; \
	f=$$(grep -lE '^\s*#\s*include\s*[<"]lmdb\.h' $$(git ls-files '*.c' '*.h' | grep -vE '^(store|bench)/')); \
	[ -z "$$f" ] || { echo "lmdb.h outside store/ (and bench/, whose baselines are raw LMDB): $$f"; bad=1; }; \
	f=$$(grep -lE '^\s*#\s*include\s*[<"](msgpack|cbor)(\.h|/)' $$(git ls-files '*.c' '*.h' | grep -vE '^(store|api|tests|fuzz|bench)/')); \
	[ -z "$$f" ] || { echo "msgpack/cbor headers outside store/, api/, tests/, fuzz/ and bench/ (raw encoder baselines): $$f"; bad=1; }; \
	f=$$(grep -lE '^\s*#\s*include\s*"(\.\./)?(engine|api|cli)/' store/*.[ch]); \
	[ -z "$$f" ] || { echo "store/ includes an upper layer: $$f"; bad=1; }; \
	f=$$(grep -lE '^\s*#\s*include\s*"(\.\./)?(api|cli)/' engine/*.[ch]); \
	[ -z "$$f" ] || { echo "engine/ includes an upper layer: $$f"; bad=1; }; \
	f=$$(grep -lE '^\s*#\s*include\s*"(\.\./)?(cli|engine|store)/' api/*.[ch] | grep -v '^api/api_int.h$$'); \
	[ -z "$$f" ] || { echo "api/ must reach lower layers through api_int.h only: $$f"; bad=1; }; \
	f=$$(grep -lE '^\s*#\s*include\s*"(\.\./)?(api|engine|store)/' cli/*.[ch]); \
	[ -z "$$f" ] || { echo "cli/ must use include/rattan.h only: $$f"; bad=1; }; \
	[ $$bad = 0 ] && echo "layers ok"

SOURCES = $(shell git ls-files '*.c' '*.h')
format:
	clang-format -i $(SOURCES)
format-check:
	@clang-format --dry-run --Werror $(SOURCES) && echo "format ok"

install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/rattan.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR)/
	install -m 755 $(SHARED) $(DESTDIR)$(LIBDIR)/
	ln -sf librattan.so.$(VERSION) $(DESTDIR)$(LIBDIR)/librattan.so.$(MAJOR)
	ln -sf librattan.so.$(VERSION) $(DESTDIR)$(LIBDIR)/librattan.so
	install -m 755 $(BUILD)/rattan $(DESTDIR)$(PREFIX)/bin/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' rattan.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/rattan.pc

check-install:
	@d=$$(mktemp -d) && trap 'rm -rf "$$d"' EXIT && \
	$(MAKE) --no-print-directory install PREFIX="$$d/usr" >/dev/null && \
	export PKG_CONFIG_PATH="$$d/usr/lib/pkgconfig" && \
	$(CC) -o "$$d/hello" examples/hello.c $$(pkg-config --cflags --libs rattan) && \
	LD_LIBRARY_PATH="$$d/usr/lib" "$$d/hello" "$$d/db" && \
	"$$d/usr/bin/rattan" version

# libFuzzer targets: fuzz/fuzz_<name>.c over the library built for fuzzing.
FUZZ_BUILD = build-fuzz
FUZZ_FLAGS = -std=c11 -D_GNU_SOURCE -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -Iinclude -I. -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
fuzz: deps
	@mkdir -p $(FUZZ_BUILD)
	@for t in $(FUZZ_TARGETS); do \
	  clang $(FUZZ_FLAGS) -o $(FUZZ_BUILD)/fuzz_$$t fuzz/fuzz_$$t.c $(FUZZ_SRC) $(LIB_SRC) $(LIBS) || exit 1; \
	  mkdir -p $(FUZZ_BUILD)/corpus-$$t; \
	  dict=; [ -f fuzz/$$t.dict ] && dict=-dict=fuzz/$$t.dict; \
	  $(FUZZ_BUILD)/fuzz_$$t $$dict -max_total_time=$(FUZZ_SECONDS) -malloc_limit_mb=256 -timeout=10 \
	    $(FUZZ_BUILD)/corpus-$$t fuzz/corpus/$$t || exit 1; \
	done

deps:
	@sh .ci/deps.sh

clean:
	rm -rf build build-asan build-fuzz

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(BENCH_OBJ:.o=.d) $(CRASH_OBJ:.o=.d)
