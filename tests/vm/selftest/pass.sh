#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Harness self-test (tests/vm/selftest/run.sh): must PASS.  Also the scenario
# the self-test boots with a broken init to provoke a kernel panic or a hang.
#
# guests: 1
# timeout: 60
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

check_eq "guest index" "$BATON_GUEST" 0
check_eq "out share writable" "$(echo ok >"$BATON_OUT/probe" && cat "$BATON_OUT/probe")" ok
