#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Harness self-test (tests/vm/selftest/run.sh): must FAIL on the guest-side
# time limit.
#
# guests: 1
# timeout: 5
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

sleep 600
