#!/usr/bin/env bash
# `make test`: install what the tests need (Python deps, RabbitMQ, Dovecot, Postfix), lint, then
# run the whole suite. The suite starts and stops its own servers (tests/conftest.py) on ports
# of its own, so it does not disturb a `make run` stack. The browser tests (tests/browser/) drive
# Debian's own Chromium through Playwright: no browser is ever downloaded. The deployment files'
# test needs Debian's kubectl and docker-compose (stack.sh install-deploy-tools).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
cd "$REPO"
t0=$(date +%s)
deploy/local/bootstrap.sh >/dev/null
deploy/local/stack.sh install
deploy/local/stack.sh install-browser
deploy/local/stack.sh install-deploy-tools
echo "test: set-up took $(( $(date +%s) - t0 )) s"
make --no-print-directory lint
exec .venv/bin/pytest "$@"
