#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Soak run of cluster-ecmp at the sizes of issue 15's test: 20 downloads
# and 5 uploads of 20 MB through three front-ends behind ECMP, one of
# them crashing mid-transfer. `make soak`.
#
# guests: 1
# memory: 1024M
# timeout: 900
set -euo pipefail
export BATON_ECMP_DOWN=${BATON_ECMP_DOWN:-20000000} BATON_ECMP_UP=${BATON_ECMP_UP:-20000000}
exec "$(dirname "$0")/../scenarios/cluster-ecmp.sh"
