#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Harness self-test (tests/vm/selftest/run.sh): must FAIL although the scenario
# exits 0, because a kernel warning line reaches the console.  The line is
# written to /dev/kmsg, as a WARN_ON() would print it.
#
# guests: 1
# timeout: 60
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

echo "WARNING: CPU: 0 PID: $$ at baton-harness-selftest (written to /dev/kmsg)" >/dev/kmsg
log "wrote a WARNING line to /dev/kmsg; the scenario itself succeeds"
