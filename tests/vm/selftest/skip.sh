#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Harness self-test (tests/vm/selftest/run.sh): must be reported as SKIP.
#
# guests: 1
# timeout: 60
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd baton-no-such-tool
