#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo`: two guests on one L2 segment load baton.ko, configure it with
# batonctl and show their hook counters before and after guest 0 pings
# guest 1. The handoff demo replaces this once the handoff exists.
#
# guests: 2
# memory: 512M
# timeout: 240
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd ip ping jq

show() {
	echo "guest$BATON_GUEST# $*"
	"$@"
}

setup_guest_net
show insmod "$BATON_KO" ctrl_port=7300
show modinfo -F version "$BATON_KO"
show "$BATONCTL" config set node-id "$((BATON_GUEST + 1))"
show "$BATONCTL" config show
show "$BATONCTL" status
barrier loaded
if ((BATON_GUEST == 0)); then
	show ping -c 5 -i 0.2 "$(guest_addr 1)"
fi
barrier pinged
show "$BATONCTL" status
show "$BATONCTL" -j status
show rmmod baton
show dmesg --notime --kernel | grep 'baton:' || true
barrier done
