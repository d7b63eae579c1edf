# shipshape — one Makefile: libcommon.a, the tools, tests, install, demo, bench.
#
#   make                  build everything into $(BUILD)
#   make check            run every test suite (unit + CLI)
#   make check SANITIZE=1 the same, built with ASan+UBSan into build/san
#   make install PREFIX=/usr/local DESTDIR=...
#   make demo             a local deploy with a rollback
#   make bench            side-by-side benchmarks against peer tools
#   make fuzz             libFuzzer targets (tests/fuzz), each run FUZZ_SECONDS

PREFIX  ?= /usr/local
DESTDIR ?=
VERSION := 0.1.0

PKGS    := yaml-0.1 libcurl libpq libcjson
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CC      ?= cc
WARN    := -Wall -Wextra -Wformat=2 -Wshadow -Wno-missing-field-initializers
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE $(WARN) $(PKG_CFLAGS) -Iinclude -DSHIPSHAPE_VERSION='"$(VERSION)"'
LDFLAGS += -Wl,--as-needed
LDLIBS  += $(PKG_LIBS) -lpthread -lm

ifeq ($(WERROR),1)
CFLAGS  += -Werror
endif

ifeq ($(SANITIZE),1)
BUILD   ?= build/san
CFLAGS  += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
else
BUILD   ?= build
endif

# libcommon by subsystem; each folder may call into the ones before it only:
# base <- config <- http <- deploy, base <- alert.
LIB_DIRS  := base config http deploy alert
LIB_SRC   := $(foreach d,$(LIB_DIRS),$(wildcard libcommon/$(d)/*.c))
LIB_OBJ   := $(LIB_SRC:libcommon/%.c=$(BUILD)/obj/libcommon/%.o)
HEADERS   := $(wildcard include/shipshape/*.h)
TOOL_SRC  := $(wildcard tools/*.c)
TOOL_DIRS := $(patsubst %/,%,$(wildcard tools/*/))
TOOLS     := $(TOOL_SRC:tools/%.c=$(BUILD)/%) $(TOOL_DIRS:tools/%=$(BUILD)/%)
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNITS     := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
HELPER_SRC:= $(wildcard tests/helpers/*.c)
HELPERS   := $(HELPER_SRC:tests/helpers/%.c=$(BUILD)/helpers/%)
LIB       := $(BUILD)/libcommon.a

.PHONY: all tools tests deps check demo bench install clean fuzz fuzz-build fuzz-seeds
all: $(TOOLS) $(HELPERS)

$(BUILD)/obj/libcommon/%.o: libcommon/%.c $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/%: tools/%.c $(LIB) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS)

# A tool that grew: tools/NAME/*.c (with its own headers) links into one binary.
.SECONDEXPANSION:
$(addprefix $(BUILD)/,$(notdir $(TOOL_DIRS))): $(BUILD)/%: $$(wildcard tools/%/*.c) $$(wildcard tools/%/*.h) $(LIB) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -Itools/$* $(LDFLAGS) -o $@ $(filter %.c,$^) $(LIB) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIB) $(LDLIBS) -lcmocka

$(BUILD)/helpers/%: tests/helpers/%.c
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LDLIBS)

tests: $(UNITS) $(HELPERS)

deps:
	@scripts/install-deps.sh

check: deps
	$(MAKE) all tests
	BUILD=$(BUILD) SANITIZE=$(SANITIZE) tests/run

demo: deps
	$(MAKE) all
	BUILD=$(BUILD) scripts/demo.sh

bench: deps
	$(MAKE) all
	BUILD=$(BUILD) bench/run

# Fuzzing: libcommon rebuilt with clang's sanitizers and coverage, one binary
# per tests/fuzz/fuzz_*.c, seeds made from tests/data (never committed).
FUZZ_CC      ?= clang-14
FUZZ_SECONDS ?= 60
FUZZ_BUILD   := build/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS  := -O1 -g -std=c11 -D_GNU_SOURCE $(WARN) $(PKG_CFLAGS) -Iinclude \
		-DSHIPSHAPE_VERSION='"$(VERSION)"' -DFUZZ_SRCDIR='"$(CURDIR)"' $(FUZZ_SAN)
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(wildcard tests/fuzz/fuzz_*.c))

$(FUZZ_BUILD)/obj/%.o: libcommon/%.c $(HEADERS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/libcommon.a: $(LIB_SRC:libcommon/%.c=$(FUZZ_BUILD)/obj/%.o)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_BUILD)/libcommon.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libcommon.a $(LDLIBS)

fuzz-build: $(FUZZ_TARGETS)

fuzz-seeds:
	tests/fuzz/seeds.sh $(FUZZ_BUILD)/seeds

fuzz: deps
	$(MAKE) fuzz-build fuzz-seeds
	FUZZ_BUILD=$(FUZZ_BUILD) tests/fuzz/run $(FUZZ_SECONDS)

install: $(TOOLS)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/shipshape/config \
	  $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man7
	install -m 0755 $(TOOLS) $(DESTDIR)$(PREFIX)/bin/
	$(if $(wildcard scripts/deploy_production.sh),install -m 0755 scripts/deploy_production.sh $(DESTDIR)$(PREFIX)/bin/)
	install -m 0644 config/*.yaml $(DESTDIR)$(PREFIX)/share/shipshape/config/
	install -m 0644 $(wildcard man/man1/*.1) $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 0644 $(wildcard man/man5/*.5) $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 0644 $(wildcard man/man7/*.7) $(DESTDIR)$(PREFIX)/share/man/man7/

clean:
	rm -rf build
