#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Soak run of handoff-lossy: 200 handed-off transfers over the lossy links
# (100 downloads and 100 uploads of 1 MB, 8 at a time), then the same
# targeted losses and checks as the scenario itself. `make soak`.
#
# guests: 1
# memory: 1024M
# timeout: 2400
set -euo pipefail
export BATON_LOSSY_TRANSFERS=${BATON_LOSSY_TRANSFERS:-200}
exec "$(dirname "$0")/../scenarios/handoff-lossy.sh"
