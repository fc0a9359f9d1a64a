# fuzz.mk — libFuzzer targets; run from the top: make fuzz (or make -f fuzz/fuzz.mk)
# Everything it builds goes under fuzz/bin/ (instrumented copies of lib/ and
# cmd/imd/ objects included), so the normal build is never touched.

FUZZ_CC   ?= clang
FZ_PKGS    = openssl json-c sqlite3 libcurl libpq
FZ_SAN     = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FZ_CFLAGS  = -std=c11 -D_GNU_SOURCE -g -O1 $(FZ_SAN) -fsanitize=fuzzer-no-link \
             -Ilib -Icmd/imd $(shell pkg-config --cflags $(FZ_PKGS))
FZ_WARN    = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla
FZ_LDFLAGS = -fsanitize=fuzzer,address,undefined
FZ_LIBS    = $(shell pkg-config --libs $(FZ_PKGS)) -lhttp_parser -lpthread

O = fuzz/bin/obj
HDRS = $(wildcard lib/*.h cmd/imd/*.h fuzz/*.h)

FZ_LIB_SRC = $(wildcard lib/*.c)
FZ_LIB_OBJ = $(patsubst lib/%.c,$(O)/lib/%.o,$(FZ_LIB_SRC))
# the daemon without main.c (its own main) and conn.c (sockets, TLS): fz_imd.c fakes conn.h
FZ_IMD_SRC = $(filter-out cmd/imd/main.c cmd/imd/conn.c,$(wildcard cmd/imd/*.c))
FZ_IMD_OBJ = $(patsubst cmd/imd/%.c,$(O)/imd/%.o,$(FZ_IMD_SRC)) $(O)/fz_imd.o
FZ_IMD_WRAP = -Wl,--wrap=loop_watch,--wrap=accept4,--wrap=EVP_PBE_scrypt

TARGETS = fuzz_http fuzz_json_message fuzz_ndjson fuzz_config fuzz_emoji
all: $(addprefix fuzz/bin/,$(TARGETS))

$(O)/lib/%.o: lib/%.c $(HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FZ_CFLAGS) -c -o $@ $<

$(O)/imd/%.o: cmd/imd/%.c $(HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FZ_CFLAGS) -c -o $@ $<

$(O)/%.o: fuzz/%.c $(HDRS)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FZ_CFLAGS) $(FZ_WARN) -Werror -c -o $@ $<

$(O)/libim.a: $(FZ_LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

fuzz/bin/fuzz_http fuzz/bin/fuzz_json_message: fuzz/bin/%: $(O)/%.o $(FZ_IMD_OBJ) $(O)/libim.a
	$(FUZZ_CC) $(FZ_LDFLAGS) $(FZ_IMD_WRAP) -o $@ $^ $(FZ_LIBS)

# stream.c is #included by the harness (its static reader is the target)
$(O)/fuzz_ndjson.o: lib/stream.c
fuzz/bin/fuzz_ndjson: $(O)/fuzz_ndjson.o $(O)/libim.a
	$(FUZZ_CC) $(FZ_LDFLAGS) -o $@ $^ $(FZ_LIBS)

fuzz/bin/fuzz_config fuzz/bin/fuzz_emoji: fuzz/bin/%: $(O)/%.o $(O)/libim.a
	$(FUZZ_CC) $(FZ_LDFLAGS) -o $@ $^ $(FZ_LIBS)

.PHONY: all
