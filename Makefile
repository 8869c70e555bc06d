# Postroom: the commands a newcomer needs. Everything installs what it is missing.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help run start stop test lint fmt sync bench-converter bench-fetcher bench-e2e bench-floor fidelity bounces

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

run:  ## install what is missing and run Postroom in the foreground (Ctrl-C stops everything)
	@deploy/local/run.sh

start:  ## like run, but in the background
	@deploy/local/run.sh --background

stop:  ## stop a stack started by run/start
	@deploy/local/run.sh --stop

test:  ## install and start the servers the tests need, then lint and run the whole suite
	@deploy/local/test.sh

lint:  ## ruff + mypy --strict
	@deploy/local/bootstrap.sh >/dev/null
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy shared/src services/fetcher/src services/converter/src services/replier/src services/api/src services/cli/src tests bench

fmt:  ## format and autofix
	.venv/bin/ruff format .
	.venv/bin/ruff check --fix .

bench-converter:  ## converter parse+classify+map throughput and peak memory (store excluded)
	@deploy/local/bootstrap.sh >/dev/null
	.venv/bin/python bench/bench_converter.py

bounces:  ## bounce fidelity against sisimai's expectations (CORPUS=dir, default the test copy)
	@deploy/local/bootstrap.sh >/dev/null
	.venv/bin/python bench/bounces.py $(if $(CORPUS),--corpus $(CORPUS))

bench-fetcher:  ## fetcher mails/s (real Dovecot + RabbitMQ, SQLite store) and APPEND-to-event delay
	@deploy/local/bootstrap.sh >/dev/null
	.venv/bin/python bench/bench_fetcher.py

bench-e2e:  ## the whole pipeline on the real stack: mails/s, CPU ms per mail per process, broker messages, RSS, trickle latency (N=2000)
	@deploy/local/bootstrap.sh >/dev/null
	.venv/bin/python bench/bench_e2e.py $(if $(N),--mails $(N))

bench-floor:  ## what the chosen libraries alone cost per mail (IMAP, publish+confirm, deliver+ack, parse, SQLite, SMTP), no Postroom code
	@deploy/local/bootstrap.sh >/dev/null
	.venv/bin/python bench/bench_floor.py

fidelity:  ## parse every mail of CORPUS (default ../shared/corpus) with Postroom and with the stdlib's policy.default; agreement per field, every unexplained disagreement
	@deploy/local/bootstrap.sh >/dev/null
	.venv/bin/python -m bench.fidelity $(CORPUS)
