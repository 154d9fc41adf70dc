# Thin wrapper around CMake: `make run` builds and starts the demo, `make test` runs
# every suite in a normal and an ASan+UBSan build.
SHELL      := /bin/bash
BUILD      ?= build
BUILD_ASAN ?= build-asan
JOBS       ?= $(shell nproc)

.PHONY: all deps deps-test deps-bench deps-deb deps-vm test-vm build build-asan run test test-normal test-asan deb fuzz \
	chaos mutants mutants-ci bench clean

all: build

deps:
	@./scripts/install-deps.sh

deps-test:
	@./scripts/install-deps.sh test

deps-bench:
	@./scripts/install-deps.sh bench

deps-vm:
	@./scripts/install-deps.sh vm

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

$(BUILD_ASAN)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD_ASAN) -DCMAKE_BUILD_TYPE=Debug -DLV_SANITIZE=ON

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

build-asan: deps $(BUILD_ASAN)/CMakeCache.txt
	cmake --build $(BUILD_ASAN) -j $(JOBS)

run: build
	@mkdir -p run
	exec $(BUILD)/bin/loopvisord -c examples/demo.json -s run/control.sock

# Prints ctest's table, then check's own summary line of every suite.
define run_ctest
	cd $(1) && ctest --output-on-failure --timeout 300 -j 2 -LE chaos; rc=$$?; \
	echo "== check summaries ($(1)) =="; \
	grep -h -E '^[0-9]+%: Checks:' Testing/Temporary/LastTest.log || true; \
	exit $$rc
endef

test: test-normal test-asan

test-normal: deps-test build
	$(call run_ctest,$(BUILD))

test-asan: deps-test build-asan
	$(call run_ctest,$(BUILD_ASAN))

# Faults and storms (tests/chaos): CHAOS_SECONDS bounds the crash storm (30 s by default)
CHAOS_SECONDS ?= 30

# ... and then every integration suite again with the daemon under valgrind's memcheck
# (its workers, forked by the zygote it exec'd, run natively; test_chaos also memchecks the
# zygote and module workers). Waits stretch with CK_TIMEOUT_MULTIPLIER.

# What needs the memory controller in cgroup v2 (test_memory, which this project's CI hosts
# skip for the lack of it), with test_cgroups, in a VM of Debian's kernel under qemu's
# software emulation (tests/vm/run.sh). A few minutes; not part of make test or CI.
test-vm: deps-test deps-vm build
	sh tests/vm/run.sh $(BUILD)

chaos: deps-test build
	cd $(BUILD) && CHAOS_SECONDS=$(CHAOS_SECONDS) ctest --output-on-failure -L chaos -V | \
		grep -E '^[0-9]+: (crash storm|state save|hostile|[0-9]+%: Checks)|:[FE]:|tests passed|Failed'; \
		test $${PIPESTATUS[0]} -eq 0
	cd $(BUILD) && LV_VALGRIND=1 CK_TIMEOUT_MULTIPLIER=10 ctest --output-on-failure -j 2 \
		-L integration
	@if [ "$(CHAOS_MUTANTS)" != no ]; then ./scripts/mutants.sh build-mutants $(MUTANTS_CHAOS); fi

# Mutants (tests/mutants/*.patch): each a deliberate one-line breakage of a promised
# behaviour and the test that must catch it; applied one at a time to a scratch copy in
# build-mutants/, which fails if any survives or no longer applies. MUTANTS= picks some.
# CI runs MUTANTS_CI (those whose suites take seconds); make chaos runs all the others.
MUTANTS ?=
MUTANTS_CI = $(addprefix tests/mutants/,03-reader-may-shut-down.patch \
	11-09-no-role-peers-keep-slots.patch 45-unlisted-peer-reads.patch 31-batch-of-257-accepted.patch \
	05-ready-before-workers-settle.patch 11-06-notify-by-process-group.patch \
	39-notify-fds-kept.patch 11-24-zygote-signals-reaped-pids.patch 11-03-std-fds-left-closed.patch \
	22-output-null-takes-pipes.patch 07-worker-keeps-daemon-descriptors.patch \
	02-start-keeps-the-hold.patch 49-start-judged-on-the-state-now.patch \
	52-reply-limit-per-client-off.patch 55-spawn-request-waits-for-its-answer.patch \
	59-empty-params-array-refused.patch 60-blank-line-is-a-parse-error.patch \
	96-http-unix-peer-without-role-reads.patch \
	90-deb-enables-units-on-install.patch 91-pc-prefix-of-configure-time.patch \
	92-completion-ignores-socket-option.patch 118-probe-stop-is-a-clean-exit.patch \
	140-regex-cost-unchecked.patch \
	129-cgroup-killed-leaf-reused.patch)
MUTANTS_CHAOS = $(filter-out $(MUTANTS_CI),$(sort $(wildcard tests/mutants/*.patch)))
CHAOS_MUTANTS ?= yes

mutants: deps-test
	./scripts/mutants.sh build-mutants $(MUTANTS)

mutants-ci: deps-test
	./scripts/mutants.sh build-mutants $(MUTANTS_CI)

# Benchmarks (bench/): a Release build, then loopvisor side by side with supervisord, runit
# and s6 and a bare fork baseline; a table on stdout, bench/results/latest.json and PNG
# plots for docs/benchmarks.md. BENCH_ARGS=--quick for a smoke run. Not part of make test.
BUILD_RELEASE ?= build-release
BENCH_ARGS ?=

bench: deps-bench
	cmake -S . -B $(BUILD_RELEASE) -DCMAKE_BUILD_TYPE=Release
	cmake --build $(BUILD_RELEASE) -j $(JOBS) --target loopvisord loopvisorctl ticker \
		lvbench_baseline lvbench_rpcload lvbench_httpd
	python3 bench/run.py --build $(BUILD_RELEASE) --out bench/results $(BENCH_ARGS)

# libFuzzer targets (clang): the control-socket framing and dispatch, the config validator,
# the env_file parser with the template expander, the worker channel, the notify parser,
# the HTTP listener's own request reading and the http probes' answer reader, each for
# FUZZ_SECONDS from the seeds in
# tests/fuzz/corpus (new inputs collect in build-fuzz/corpus).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS = rpc config channel notify envfile http http_response

fuzz: deps-test
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLV_FUZZ=ON
	cmake --build build-fuzz -j $(JOBS)
	@for t in $(FUZZ_TARGETS); do \
		mkdir -p build-fuzz/corpus/$$t; \
		echo "== fuzz_$$t for $(FUZZ_SECONDS) s =="; \
		if ! build-fuzz/fuzz/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
			-print_final_stats=1 -artifact_prefix=build-fuzz/crash-$$t- \
			build-fuzz/corpus/$$t tests/fuzz/corpus/$$t >build-fuzz/fuzz-$$t.log 2>&1; then \
			tail -40 build-fuzz/fuzz-$$t.log; exit 1; \
		fi; \
		grep -E 'Done [0-9]+ runs|stat::number_of_executed_units' build-fuzz/fuzz-$$t.log; \
	done

# The Debian packages (debian/: loopvisor, loopvisor-dev, loopvisor-dbgsym) built with
# dpkg-buildpackage from a copy of the source, into build-deb/, and checked with lintian
deb: deps-deb
	./scripts/build-deb.sh build-deb $(JOBS)
	lintian --fail-on error,warning build-deb/*.changes

deps-deb:
	@./scripts/install-deps.sh deb

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) $(BUILD_RELEASE) build-deb build-fuzz build-mutants run
