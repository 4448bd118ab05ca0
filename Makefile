# The front door: everything real happens in scripts/ and Meson. See README.md.
BUILD      ?= build
BUILD_SAN  ?= build-sanitize
MESON_OPTS ?=

.PHONY: all deps build spdk demo check check-sanitize bench fuzz lab lab-auth clean

all: build

deps:
	@bash scripts/deps.sh

$(BUILD)/build.ninja: | deps
	meson setup $(BUILD) $(MESON_OPTS)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

# SPDK v25.09 with csdlab's patches, once per machine (a cache outside the repo), and
# csd-spdk-tgt against it; make check then runs the SPDK tests too (docs/spdk.md)
spdk: deps
	@bash scripts/spdk.sh >/dev/null
	@if [ -f $(BUILD)/build.ninja ]; then meson setup --reconfigure $(BUILD) $(MESON_OPTS); \
	 else meson setup $(BUILD) $(MESON_OPTS); fi >/dev/null
	ninja -C $(BUILD)

demo: build
	@bash scripts/demo.sh $(BUILD)

check: build
	@bash scripts/run-tests.sh $(BUILD)

check-sanitize: deps
	@test -f $(BUILD_SAN)/build.ninja || meson setup $(BUILD_SAN) -Db_sanitize=address,undefined -Db_lundef=false $(MESON_OPTS)
	ninja -C $(BUILD_SAN)
	@bash scripts/run-tests.sh $(BUILD_SAN)

bench: build
	$(BUILD)/bench/vm
	$(BUILD)/bench/corpus

lab: build
	@bash lab/run-lab.sh $(BUILD)

lab-auth: build
	@bash lab/run-auth-lab.sh $(BUILD)

fuzz: deps
	@bash scripts/fuzz.sh $${FUZZ_SECONDS:-300}

clean:
	rm -rf $(BUILD) $(BUILD_SAN) build-fuzz
