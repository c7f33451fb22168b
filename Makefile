# Thin wrappers: each target delegates to npm, scripts/, go or pytest.
# The nats-server every target uses: the pinned one scripts/setup.sh installs
# (docs/nats-server.md), unless TASKWIRE_NATS_SERVER is set.
export TASKWIRE_NATS_SERVER ?= $(CURDIR)/.tools/bin/nats-server

.PHONY: setup generate check-generated build lint test test-ts dev bench bench-quick clean

setup:            ## install what is missing (the pinned nats-server, npm packages, Go plugins)
	bash scripts/setup.sh --all

generate: setup   ## regenerate TS, Go and Python code from proto/
	bash scripts/generate.sh

check-generated: setup
	bash scripts/check-generated.sh

build:            ## compile the TS packages to dist/ (npx taskwire uses it)
	bash scripts/setup.sh
	npm run --silent build

lint:             ## eslint (no floating promises) + strict tsc + buf lint
	bash scripts/setup.sh
	npm run --silent lint
	bash scripts/install-tools.sh >/dev/null && cd proto && ../.tools/bin/buf lint

test:             ## every suite, TS + Python + Go; ends with "N passed, N failed"
	bash scripts/test.sh

test-ts:          ## only the TypeScript suites
	bash scripts/setup.sh
	npx --no-install mocha

dev: build        ## nats-server (the pinned one) + broker + demo worker on 127.0.0.1
	npx --no-install taskwire dev --worker examples/quickstart/tasks.ts

bench:            ## taskwire vs raw JetStream/gRPC ceilings vs BullMQ (~10 min)
	bash bench/run.sh

bench-quick:      ## the same in under 2 minutes
	bash bench/run.sh --quick

clean:
	rm -rf .taskwire */dist clients/ts/dist *.tsbuildinfo */*.tsbuildinfo
