# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The front door: `make demo`, `make test`, `make bench`. The real build is
# meson's; this only strings the steps together.

BUILD ?= build
KILN = $(BUILD)/tools/kiln
CORPUS ?= $(CURDIR)/../shared/corpus/siderolabs-extensions

.PHONY: all deps build demo test bench clean

all: build

deps:
	./scripts/install-deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD)

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

demo: deps build
	./scripts/demo.sh $(KILN)

test: deps build
	./scripts/run-tests.sh $(BUILD)

bench: deps build
	./scripts/bench.sh $(BUILD) $(CORPUS)

clean:
	rm -rf $(BUILD) _out
