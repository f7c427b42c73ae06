# wsksock - top-level targets. Every target installs the Debian packages it
# needs first (apt-get as root, or through sudo).
#   make demo    build everything and run the seed scenario under Wine
#   make check   build everything and run the test suite (ctest)
#   make build   build only
#   make faults  host bed: run the fault scenario once per fault site and
#                occurrence; ends with "faults: S sites, R runs, F failed, L leaked"
#   make coverage  host bed: line and branch coverage of the library
#   make chaos   host bed: the chaos test (tests/host/chaos) in each completion
#                mode for DURATION seconds (default 60), random seeds printed;
#                ends with "chaos: N operations, S seeds, F failures, L leaks"
#   make bench   echo servers (raw WSK, wsksock, Winsock under Wine, native)
#                measured by one client in interleaved rounds: a table,
#                bench/results.json and bench/results.png (a few minutes)
#   make bench-quick  the same with tiny sizes and one round (pieces work)
#   make bench-http  examples/httpd under Wine and nginx natively, serving the
#                same page, each measured by wrk (100 connections, 10 s):
#                requests/s and their ratio
#   make bench-echo  examples/echo-server (ks_poll) and examples/event-echo (event
#                and async APIs): 1,000 connections x 1 MiB echoed with checksums,
#                on both beds (make check runs 1,000 x 64 KiB and 200 x 256 KiB)
#   make bench-instr  host bed: instructions per operation (callgrind) and pool
#                per idle socket, wsksock against raw WSK (bench/instr-results.json)
#   make msvc-check WDK_KM=<kit>/Include/<version>/km WDK_SHARED=<kit>/Include/<version>/shared
#                the WDK build: library, examples and test drivers compiled by
#                clang-cl in MSVC mode against those WDK headers, linked by
#                lld-link, and the Wine suite and the demo run on them; ends
#                with "msvc-check: F files compiled, D drivers linked, P passed,
#                N failed". Without the folders: one "skipped" line, exit 0
#   make docs    the HTML reference of the public headers (Doxygen, warnings
#                are errors): $(BUILD)/docs/html/index.html
#   make clean   remove build trees

BUILD   ?= build
WINDIR  := $(BUILD)/win
# The drivers make bench measures: a release build (no KS_ASSERT checks),
# where $(WINDIR), the tests' tree, checks them.
BENCHWINDIR := $(BUILD)/win-release
HOSTDIR := $(BUILD)/host
COVDIR  := $(BUILD)/coverage
INSTRDIR := $(BUILD)/instr
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_ARGS ?=

.PHONY: all deps build demo check docs msvc-check faults chaos coverage bench bench-release bench-quick bench-http bench-instr bench-echo clean

all: build

deps:
	@tools/install-deps

build: deps
	cmake -S . -B $(WINDIR) -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/mingw-w64.cmake -DCMAKE_BUILD_TYPE=Release \
	    -DWSKSOCK_ASSERTS=ON
	cmake --build $(WINDIR) -j $(JOBS)
	cmake -S . -B $(HOSTDIR) -DWSKSOCK_DRIVERS_DIR=$(CURDIR)/$(WINDIR) -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(HOSTDIR) -j $(JOBS)

demo: build
	tools/wskrun --timeout 60 --until 'Hi, lyshark.com B' \
	    $(WINDIR)/examples/seed-server.sys $(WINDIR)/examples/seed-client.sys

check: build
	cd $(HOSTDIR) && ctest --output-on-failure --timeout 600 $(CTEST_ARGS)

docs: deps
	tools/docs $(BUILD)/docs

WDK_KM ?=
WDK_SHARED ?=
msvc-check: deps
	@if tools/msvc-check --probe --km "$(WDK_KM)" --shared "$(WDK_SHARED)"; then \
	    $(MAKE) --no-print-directory build && \
	    tools/msvc-check --km "$(WDK_KM)" --shared "$(WDK_SHARED)"; \
	fi

faults: deps
	cmake -S . -B $(HOSTDIR) -DWSKSOCK_DRIVERS_DIR=$(CURDIR)/$(WINDIR) -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(HOSTDIR) -j $(JOBS) --target lib_faults tls_test
	tools/faultrun --logs $(HOSTDIR)/faults $(HOSTDIR)/tests/host/lib/lib_faults
	# TLS (wsksock/tls.h): one mode is enough, the sockets' modes ran above.
	rm -rf $(HOSTDIR)/faults-tls-certs
	python3 tests/tls/tlspeer.py certs --out $(HOSTDIR)/faults-tls-certs > /dev/null
	TLS_TEST_CERTS=$(CURDIR)/$(HOSTDIR)/faults-tls-certs tools/faultrun --completion mixed \
	    --logs $(HOSTDIR)/faults-tls $(HOSTDIR)/tests/host/tls/tls_test tls-fault-scenario

# Chaos: random seeds (printed, "chaos: seed N"), DURATION seconds per
# completion mode; every mode runs even if one fails, the status says.
DURATION ?= 60
CHAOS_ARGS ?=
chaos: deps
	cmake -S . -B $(HOSTDIR) -DWSKSOCK_DRIVERS_DIR=$(CURDIR)/$(WINDIR) -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(HOSTDIR) -j $(JOBS) --target chaos
	rc=0; for mode in async inline mixed; do \
	    echo "== KSHIM_COMPLETION=$$mode"; \
	    KSHIM_COMPLETION=$$mode $(HOSTDIR)/tests/host/chaos/chaos --duration $(DURATION) \
	        $(CHAOS_ARGS) || rc=1; \
	done; exit $$rc

# Coverage: the host bed's tests (ctest label "hostbed") and the fault runs,
# in a separate tree built with gcov instrumentation and no sanitizers.
coverage: deps
	cmake -S . -B $(COVDIR) -DWSKSOCK_COVERAGE=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(COVDIR) -j $(JOBS)
	find $(COVDIR) -name '*.gcda' -delete
	cd $(COVDIR) && ctest -L hostbed -j $(JOBS) --timeout 600 --output-on-failure $(CTEST_ARGS) || true
	tools/faultrun --logs $(COVDIR)/faults $(COVDIR)/tests/host/lib/lib_faults > $(COVDIR)/faults.txt || true
	tail -1 $(COVDIR)/faults.txt
	tools/coverage-report $(COVDIR)

# Benchmark under Wine (bench/run_bench.py; BENCH_ARGS e.g. --rounds 5).
BENCH_ARGS ?=
bench-release: build
	cmake -S . -B $(BENCHWINDIR) -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/mingw-w64.cmake \
	    -DCMAKE_BUILD_TYPE=Release -DWSKSOCK_ASSERTS=OFF
	cmake --build $(BENCHWINDIR) -j $(JOBS)

bench: bench-release
	python3 bench/run_bench.py --win $(BENCHWINDIR) --host $(HOSTDIR) $(BENCH_ARGS)

bench-quick: bench-release
	python3 bench/run_bench.py --quick --win $(BENCHWINDIR) --host $(HOSTDIR) $(BENCH_ARGS)

# HTTP: examples/httpd (Wine) beside nginx (native), wrk for each in turn.
bench-http: bench-release
	python3 bench/http_bench.py --win $(BENCHWINDIR) $(BENCH_HTTP_ARGS)

# examples/echo-server's full load: wine.echo-server and host_echo-server
# with 1 MiB per connection (their figures: wsksuite: figure lines).
bench-echo: build
	cd $(HOSTDIR) && ECHO_SERVER_BYTES=1048576 EVENT_ECHO_CONNS=1000 EVENT_ECHO_BYTES=1048576 \
	    ctest -R 'echo-server$$|event-echo' -V --timeout 600 \
	    > bench-echo.log; rc=$$?; grep -E 'wsksuite: (figure|FAIL|RESULT)|tests passed' \
	    bench-echo.log; exit $$rc

# Instruction counts: a separate tree without sanitizers (callgrind and
# AddressSanitizer do not mix), optimised as a driver would be, with debug
# information so that callgrind can attribute every function to its file.
bench-instr: deps
	cmake -S . -B $(INSTRDIR) -DWSKSOCK_SANITIZE=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(INSTRDIR) -j $(JOBS) --target instr_ks instr_raw
	bench/instr/bench-instr --build $(INSTRDIR) --out bench/instr-results.json

clean:
	rm -rf $(BUILD)
