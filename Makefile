# shipshape — one Makefile: libcommon.a, the tools, tests, install, demo, bench.
#
#   make                  build everything into $(BUILD)
#   make check            run every test suite (unit + CLI)
#   make check SANITIZE=1 the same, built with ASan+UBSan into build/san
#   make install PREFIX=/usr/local DESTDIR=...
#   make demo             a local deploy with a rollback
#   make bench            side-by-side benchmarks against peer tools

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

LIB_SRC   := $(wildcard libcommon/*.c)
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

.PHONY: all tools tests deps check demo bench install clean
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
