#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# cluster-ecmp with the route learnt by BGP (issue 15, point 7): Debian's
# FRR (bgpd and zebra) on the router and on the three front-ends, each
# announcing the VIP with a 3 s hold time; zebra installs a plain
# multipath route, and the crashed front-end's route goes when the
# router's hold timer expires. See cluster-ecmp.sh for the checks.
#
# guests: 1
# memory: 1024M
# timeout: 600
set -euo pipefail
export BATON_ECMP_BGP=1
exec "$(dirname "$0")/cluster-ecmp.sh"
