# wsksock - top-level targets. Every target installs the Debian packages it
# needs first (apt-get as root, or through sudo).
#   make demo    build everything and run the seed scenario under Wine
#   make check   build everything and run the test suite (ctest)
#   make build   build only
#   make faults  host bed: run the fault scenario once per fault site and
#                occurrence; ends with "faults: S sites, R runs, F failed, L leaked"
#   make coverage  host bed: line and branch coverage of the library
#   make clean   remove build trees

BUILD   ?= build
WINDIR  := $(BUILD)/win
HOSTDIR := $(BUILD)/host
COVDIR  := $(BUILD)/coverage
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_ARGS ?=

.PHONY: all deps build demo check faults coverage clean

all: build

deps:
	@tools/install-deps

build: deps
	cmake -S . -B $(WINDIR) -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/mingw-w64.cmake -DCMAKE_BUILD_TYPE=Release
	cmake --build $(WINDIR) -j $(JOBS)
	cmake -S . -B $(HOSTDIR) -DWSKSOCK_DRIVERS_DIR=$(CURDIR)/$(WINDIR) -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(HOSTDIR) -j $(JOBS)

demo: build
	tools/wskrun --timeout 60 --until 'Hi, lyshark.com B' \
	    $(WINDIR)/examples/seed-server.sys $(WINDIR)/examples/seed-client.sys

check: build
	cd $(HOSTDIR) && ctest --output-on-failure --timeout 600 $(CTEST_ARGS)

faults: deps
	cmake -S . -B $(HOSTDIR) -DWSKSOCK_DRIVERS_DIR=$(CURDIR)/$(WINDIR) -DCMAKE_BUILD_TYPE=Debug
	cmake --build $(HOSTDIR) -j $(JOBS) --target lib_faults
	tools/faultrun --logs $(HOSTDIR)/faults $(HOSTDIR)/tests/host/lib/lib_faults

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

clean:
	rm -rf $(BUILD)
