# shipshape — one Makefile: libcommon.a, the tools, tests, install, demo, bench.
#
#   make                  build everything into $(BUILD)
#   make deps             install the Debian packages every target below needs
#   make check            run every test suite (unit + CLI)
#   make check SANITIZE=1 the same, built with ASan+UBSan into build/san
#   make install PREFIX=/usr/local DESTDIR=...
#   make uninstall        remove what install put there (same PREFIX, DESTDIR)
#   make demo             a local deploy with a rollback
#   make bench            side-by-side benchmarks against peer tools
#   make fuzz             libFuzzer targets (tests/fuzz), each run FUZZ_SECONDS
#
# CFLAGS, CPPFLAGS, LDFLAGS and LDLIBS are the builder's (`make CFLAGS=...`,
# or dpkg-buildflags' through the environment): the project's own flags live
# in SS_* and are always added before them, never replaced.

PREFIX  ?= /usr/local
DESTDIR ?=
VERSION := 0.1.0
BINDIR      = $(PREFIX)/bin
DATADIR     = $(PREFIX)/share/shipshape
DOCDIR      = $(PREFIX)/share/doc/shipshape
MANDIR      = $(PREFIX)/share/man
SYSTEMDUNITDIR = $(PREFIX)/lib/systemd/system

PKGS    := yaml-0.1 libcurl libpq libcjson
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -Wall -Wextra -Wformat=2 -Wshadow -Wno-missing-field-initializers
SS_CPPFLAGS := -D_GNU_SOURCE -Iinclude $(PKG_CFLAGS) -DSHIPSHAPE_VERSION='"$(VERSION)"'
SS_CFLAGS   := -std=c11 $(WARN)
SS_LDFLAGS  := -Wl,--as-needed
SS_LDLIBS   := $(PKG_LIBS) -lpthread -lm

ifeq ($(WERROR),1)
SS_CFLAGS   += -Werror
endif

ifeq ($(SANITIZE),1)
BUILD   ?= build/san
SS_CFLAGS   += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SS_LDFLAGS  += -fsanitize=address,undefined
else
BUILD   ?= build
endif

# What every compile and link uses: ours first, the builder's after (so a
# builder's -O or -f option has the last word).
ALL_CFLAGS  = $(SS_CPPFLAGS) $(CPPFLAGS) $(SS_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SS_LDFLAGS) $(LDFLAGS)
ALL_LDLIBS  = $(SS_LDLIBS) $(LDLIBS)

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

.PHONY: all tools tests deps check demo bench install uninstall clean fuzz fuzz-build fuzz-seeds
all: $(TOOLS) $(HELPERS)

$(BUILD)/obj/libcommon/%.o: libcommon/%.c $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(LIB): $(LIB_OBJ)
	@mkdir -p $(@D)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/%: tools/%.c $(LIB) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(ALL_LDLIBS)

# A tool that grew: tools/NAME/*.c (with its own headers) links into one binary.
.SECONDEXPANSION:
$(addprefix $(BUILD)/,$(notdir $(TOOL_DIRS))): $(BUILD)/%: $$(wildcard tools/%/*.c) $$(wildcard tools/%/*.h) $(LIB) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) -Itools/$* $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(filter %.c,$^) $(LIB) $(ALL_LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(LIB) $(HEADERS)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) $(ALL_LDLIBS) -lcmocka

$(BUILD)/helpers/%: tests/helpers/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(ALL_LDLIBS)

tools: $(TOOLS)

tests: $(UNITS) $(HELPERS)

# Dependencies: `make deps` installs the Debian packages (scripts/install-deps.sh,
# root or sudo, only what is missing); check, demo, bench and fuzz only verify
# that theirs are present (no root, no apt, no network) and name what is
# missing. `make deps check` installs first, then checks, also under -j.
DEPS_FIRST = $(filter deps,$(MAKECMDGOALS))
deps:
	@scripts/install-deps.sh

check: $(DEPS_FIRST)
	@scripts/install-deps.sh --check build test
	$(MAKE) all tests
	BUILD=$(BUILD) SANITIZE=$(SANITIZE) tests/run

demo: $(DEPS_FIRST)
	@scripts/install-deps.sh --check build demo
	$(MAKE) all
	BUILD=$(BUILD) scripts/demo.sh

bench: $(DEPS_FIRST)
	@scripts/install-deps.sh --check build bench
	$(MAKE) all
	BUILD=$(BUILD) bench/run

# Fuzzing: libcommon rebuilt with clang's sanitizers and coverage, one binary
# per tests/fuzz/fuzz_*.c, seeds made from tests/data (never committed).
FUZZ_CC      ?= clang-14
FUZZ_SECONDS ?= 60
FUZZ_BUILD   := build/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS  := -O1 -g $(SS_CPPFLAGS) -std=c11 $(WARN) -DFUZZ_SRCDIR='"$(CURDIR)"' $(FUZZ_SAN)
FUZZ_TARGETS := $(patsubst tests/fuzz/%.c,$(FUZZ_BUILD)/%,$(wildcard tests/fuzz/fuzz_*.c))

$(FUZZ_BUILD)/obj/%.o: libcommon/%.c $(HEADERS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/libcommon.a: $(LIB_SRC:libcommon/%.c=$(FUZZ_BUILD)/obj/%.o)
	rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_BUILD)/libcommon.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(FUZZ_BUILD)/libcommon.a $(SS_LDLIBS)

# A target that builds a tool's own source in (#include) depends on it too.
$(FUZZ_BUILD)/fuzz_prom: tools/metric-check/prom.c tools/metric-check/prom.h
$(FUZZ_BUILD)/fuzz_redis_url: tools/svc-probe/redis_url.c tools/svc-probe/redis_url.h
$(FUZZ_BUILD)/fuzz_interval: tools/alert-send/interval.c tools/alert-send/interval.h
$(FUZZ_BUILD)/fuzz_blueprint: $(wildcard tools/cfg-resolve/*.c tools/cfg-resolve/*.h)

fuzz-build: $(FUZZ_TARGETS)

fuzz-seeds:
	tests/fuzz/seeds.sh $(FUZZ_BUILD)/seeds

fuzz: $(DEPS_FIRST)
	@scripts/install-deps.sh --check build fuzz
	$(MAKE) fuzz-build fuzz-seeds
	FUZZ_BUILD=$(FUZZ_BUILD) tests/fuzz/run $(FUZZ_SECONDS)

# install: the tools and the deploy script (as shipshape-deploy) in BINDIR,
# the schema the tools look for at <bindir>/../share/shipshape/config/, the
# man pages, the systemd unit with BINDIR in its paths (as
# shipshape-watch.service), and the company configs as examples under DOCDIR.
# uninstall removes exactly those files, then the folders only shipshape uses.
INST_BIN    = $(notdir $(TOOLS)) $(if $(wildcard scripts/deploy_production.sh),shipshape-deploy)
INST_MAN    = $(foreach s,1 5 7,$(patsubst man/%,%,$(wildcard man/man$(s)/*.$(s))))
INST_EXAMPLES = production.yaml local.yaml minimal.yaml
UNIT        = shipshape-watch.service

install: $(TOOLS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/config $(DESTDIR)$(DOCDIR)/examples \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(SYSTEMDUNITDIR)
	install -m 0755 $(TOOLS) $(DESTDIR)$(BINDIR)/
	$(if $(wildcard scripts/deploy_production.sh),install -m 0755 scripts/deploy_production.sh $(DESTDIR)$(BINDIR)/shipshape-deploy)
	install -m 0644 config/schema.yaml $(DESTDIR)$(DATADIR)/config/
	install -m 0644 $(addprefix config/,$(INST_EXAMPLES)) $(DESTDIR)$(DOCDIR)/examples/
	$(foreach s,1 5 7,install -m 0644 $(wildcard man/man$(s)/*.$(s)) $(DESTDIR)$(MANDIR)/man$(s)/;)
	sed 's|/usr/local/bin/|$(BINDIR)/|g' config/health-watch.service >$(DESTDIR)$(SYSTEMDUNITDIR)/$(UNIT)
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$(UNIT)

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(INST_BIN)) \
	  $(addprefix $(DESTDIR)$(MANDIR)/,$(INST_MAN)) \
	  $(DESTDIR)$(DATADIR)/config/schema.yaml \
	  $(addprefix $(DESTDIR)$(DOCDIR)/examples/,$(INST_EXAMPLES)) \
	  $(DESTDIR)$(SYSTEMDUNITDIR)/$(UNIT)
	rmdir $(DESTDIR)$(DATADIR)/config $(DESTDIR)$(DATADIR) \
	  $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR) 2>/dev/null || true

clean:
	rm -rf build
