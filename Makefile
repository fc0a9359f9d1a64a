# im — one build for libim, the daemon and the clients.
# make            build everything
# make check      install missing packages, build, check the layering, run every test,
#                 then the store's on PostgreSQL (IM_TEST_STORE=pg)
# make run        install missing packages, build, start imd in ./run
# make install    PREFIX=/usr/local DESTDIR= SYSTEMDUNITDIR=
# make deb        a Debian package, im_VERSION_ARCH.deb
# make SANITIZE=address,undefined check   the suite under sanitizers
# make mutate     plant each bug of tools/mutations, see the tests catch it (slow)

PREFIX    ?= /usr/local
BINDIR    ?= $(PREFIX)/bin
MANPREFIX ?= $(PREFIX)/share/man
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
CC        ?= cc

PKGS      = openssl json-c sqlite3 sox libcurl libpq
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
# sd_notify: imd alone links libsystemd
IMD_LIBS   := $(shell pkg-config --libs libsystemd 2>/dev/null)

WARN     = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wvla -Wimplicit-fallthrough -Werror
# -MMD -MP: each object's header dependencies in a .d file beside it
IM_CFLAGS = -std=c11 -D_GNU_SOURCE -O2 -g $(WARN) -MMD -MP -Ilib $(PKG_CFLAGS)
ifdef SANITIZE
IM_CFLAGS += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
IM_LDFLAGS += -fsanitize=$(SANITIZE)
endif
ALL_CFLAGS  = $(IM_CFLAGS) $(CFLAGS)
# --as-needed: a client links only the libraries it calls (libsox stays out
# of imsend, whose start-up time matters)
ALL_LDFLAGS = -Wl,--as-needed $(IM_LDFLAGS) $(LDFLAGS)

ifndef V
Q = @
endif

CLIENTS = imuser imsend imrecv imgroup imwho imvoice
BINS    = $(addprefix bin/,imd $(CLIENTS))

LIB_SRC = $(wildcard lib/*.c)
LIB_OBJ = $(LIB_SRC:.c=.o)
IMD_SRC = $(wildcard cmd/imd/*.c)
IMD_OBJ = $(IMD_SRC:.c=.o)
TEST_C  = $(wildcard tests/unit/*.c)
TEST_BIN = $(patsubst tests/unit/%.c,tests/unit/bin/%,$(TEST_C))
ALL_OBJ = $(LIB_OBJ) $(patsubst %.c,%.o,$(wildcard cmd/*/*.c))

# an LD_PRELOAD library the tests use to watch and break imd's disk writes
SHIM    = tests/preload/imshim.so

all: $(BINS)

-include $(ALL_OBJ:.o=.d) $(TEST_BIN:=.d)

%.o: %.c
	@$(if $(Q),echo "  CC $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

lib/libim.a: $(LIB_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

bin/imd: $(IMD_OBJ) lib/libim.a
	@mkdir -p bin
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(IMD_OBJ) lib/libim.a $(PKG_LIBS) $(IMD_LIBS) -lhttp_parser -lpthread

.SECONDEXPANSION:
$(addprefix bin/,$(CLIENTS)): bin/%: $$(addsuffix .o,$$(basename $$(wildcard cmd/%/*.c))) lib/libim.a
	@mkdir -p bin
	@$(if $(Q),echo "  LD $@")
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) lib/libim.a $(PKG_LIBS)

# no sanitizer flags: it is preloaded ahead of everything, runtime included
$(SHIM): tests/preload/imshim.c
	$(Q)$(CC) -std=c11 -O2 -g $(WARN) -fPIC -shared $(CFLAGS) -o $@ $< -ldl

tests/unit/bin/%: tests/unit/%.c lib/libim.a
	@mkdir -p tests/unit/bin
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< lib/libim.a $(PKG_LIBS)

# unit tests of imd's parts that need lib/ only, linked with their objects
tests/unit/bin/test_timeheap: tests/unit/test_timeheap.c cmd/imd/timeheap.o lib/libim.a
	@mkdir -p tests/unit/bin
	$(Q)$(CC) $(ALL_CFLAGS) -Icmd/imd $(ALL_LDFLAGS) -o $@ $< cmd/imd/timeheap.o lib/libim.a $(PKG_LIBS)
STORE_OBJ = $(patsubst %.c,%.o,$(wildcard cmd/imd/store*.c))
tests/unit/bin/test_store: tests/unit/test_store.c $(STORE_OBJ) lib/libim.a
	@mkdir -p tests/unit/bin
	$(Q)$(CC) $(ALL_CFLAGS) -Icmd/imd $(ALL_LDFLAGS) -o $@ $< $(STORE_OBJ) lib/libim.a $(PKG_LIBS)

deps:
	@./tools/deps.sh

# the scripts of the store's features, run once more with imd on PostgreSQL
# (the t28* scripts run several nodes on it in the first pass already)
# (not those of SQLite's own failing writes and fsyncs)
PG_TESTS = $(filter-out tests/t0450-% tests/t0460-%, \
	$(wildcard tests/t0*.sh tests/t1*.sh)) tests/t2450-health-metrics.sh

check: deps
	$(MAKE) all $(TEST_BIN) $(SHIM)
	@if git grep -nE '^(<<<<<<<|>>>>>>>)( |$$)' 2>/dev/null; then \
		echo "merge markers left in these files" >&2; exit 1; fi
	./tools/layering.sh
	./tests/run.sh
	IM_TEST_STORE=pg ./tests/run.sh $(PG_TESTS)

layering: all
	./tools/layering.sh

# imd makes ./run itself, mode 0700
run: deps
	$(MAKE) all
	./bin/imd -d run -l 127.0.0.1:7443

man-lint:
	mandoc -Tlint -W warning man/man*/*.[1-8]

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANPREFIX)/man1 $(DESTDIR)$(MANPREFIX)/man5 \
		$(DESTDIR)$(MANPREFIX)/man7 $(DESTDIR)$(MANPREFIX)/man8
	install -m 755 $(BINS) $(DESTDIR)$(BINDIR)
	for s in 1 5 7 8; do \
		for f in man/man$$s/*.$$s; do \
			[ -e "$$f" ] || continue; \
			install -m 644 "$$f" $(DESTDIR)$(MANPREFIX)/man$$s || exit 1; \
		done; \
	done
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	sed 's|/usr/bin/imd|$(BINDIR)/imd|' contrib/imd.service >$(DESTDIR)$(SYSTEMDUNITDIR)/imd.service
	chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/imd.service

clean:
	rm -f lib/*.o lib/*.d lib/libim.a cmd/*/*.o cmd/*/*.d $(BINS) $(SHIM)
	rm -rf bin tests/unit/bin fuzz/bin build

.PHONY: all deps check layering run install clean man-lint fuzz fuzz-run bench mutate

# im_VERSION_ARCH.deb of the tree as it is, built apart in build/deb
# (contrib/debian/build.sh; lintian is run by tests/t2740-deb.sh)
deb:
	./contrib/debian/build.sh

.PHONY: deb

# not part of check: a build and a few tests per mutation (see tests/README)
# make mutate MUTATE="borrowed-file since-group-inclusive"   some of them
mutate: deps
	./tools/mutate $(MUTATE)

# libFuzzer targets (clang); see fuzz/README.md. FUZZ_SECONDS per target.
fuzz:
	$(MAKE) -f fuzz/fuzz.mk
fuzz-run: fuzz
	./fuzz/run.sh $(FUZZ_SECONDS)

# im side by side with mosquitto (not part of check); see bench/RESULTS.md
# and the head of bench/run.sh (scenarios, BENCH_STORES, BENCH_DB, RUNS...).
# make bench BENCH="stream oneshot" RUNS=3   runs a subset
# make bench stream fanout                   the same, scenarios as goals
BENCH_SCENARIOS = stream fanout latency oneshot idle files history nodes pgcount 1 2 3 4 5 6 7 8 9
ifneq ($(filter bench,$(MAKECMDGOALS)),)
BENCH_GOALS := $(filter $(BENCH_SCENARIOS),$(MAKECMDGOALS))
ifneq ($(BENCH_GOALS),)
BENCH ?= $(BENCH_GOALS)
$(BENCH_GOALS): bench ; @:
.PHONY: $(BENCH_GOALS)
endif
endif
bench: deps
	@./bench/deps.sh
	$(MAKE) bin/imd bin/imsend bin/imrecv bin/imuser
	./bench/run.sh $(BENCH)
