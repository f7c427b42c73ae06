# wsksock - top-level targets. Every target installs the Debian packages it
# needs first (apt-get as root, or through sudo).
#   make demo    build everything and run the seed scenario under Wine
#   make check   build everything and run the test suite (ctest)
#   make build   build only
#   make clean   remove build trees

BUILD   ?= build
WINDIR  := $(BUILD)/win
HOSTDIR := $(BUILD)/host
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
CTEST_ARGS ?=

.PHONY: all deps build demo check clean format tidy cppcheck lint

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

clean:
	rm -rf $(BUILD)
