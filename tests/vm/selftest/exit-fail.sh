#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Harness self-test (tests/vm/selftest/run.sh): must FAIL on the scenario's
# exit status; with two guests, only guest 1 fails.
#
# guests: 2
# timeout: 60
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

barrier started
((BATON_GUEST == 0)) || fail "deliberate failure on guest $BATON_GUEST"
