#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# `make demo`: a live TCP handoff between three QEMU guests on one L2
# segment. guest0 is the client, guest1 the front-end (VIP 198.18.0.100,
# node 1), guest2 the back-end (node 2) with an ordinary HTTP server. The
# client downloads 10 MB through the VIP; while it runs, both nodes show
# `batonctl conn list`; afterwards the demo prints the proof: the address
# the server saw, and the bytes the front-end and the back-end sent
# compared with the response size.
#
# guests: 3
# memory: 512M
# timeout: 300
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd ip curl python3 sha256sum jq

readonly vip=198.18.0.100 be_port=8080 size=$((10 * 1024 * 1024))
readonly httpd="$BATON_REPO/tests/vm/tools/httpd.py"
work=$(mktemp -d)
defer rm -rf "$work"

show() {
	echo "guest$BATON_GUEST# $*"
	"$@"
}

tx() {
	link_stat - eth0 tx_bytes
}

setup_guest_net
show insmod "$BATON_KO"
case $BATON_GUEST in
1)
	baton_frontend - "$vip"
	show "$BATONCTL" config set node-id 1 key "$BATON_TEST_KEY"
	show "$BATONCTL" peer add 2 "$(guest_addr 2)"
	wait_for -t 60 sh -c "$BATONCTL -j peer list | jq -e '.[0].state == \"up\"' >/dev/null" ||
		fail "control channel not up"
	show "$BATONCTL" peer list
	show "$BATONCTL" service add "$vip:80" scheduler rr
	show "$BATONCTL" backend add "$vip:80" "$(guest_addr 2):$be_port" peer 2
	show "$BATONCTL" service list
	wait_listen - 80
	;;
2)
	mkdir -p "$work/www"
	head -c "$size" /dev/urandom >"$work/www/big"
	publish sha256 "$(sha256sum <"$work/www/big" | cut -d' ' -f1)"
	python3 "$httpd" "$(guest_addr 2)" "$be_port" "$work/www" >"$BATON_OUT/httpd.log" 2>&1 &
	defer kill $!
	wait_listen - "$be_port"
	show "$BATONCTL" config set node-id 2 key "$BATON_TEST_KEY"
	show "$BATONCTL" peer add 1 "$(guest_addr 1)"
	;;
esac
barrier ready 180

tx0=$(tx)
barrier start
if ((BATON_GUEST == 0)); then
	show curl -sS --limit-rate 2M -o "$work/big" "http://$vip/big" &
	curl_pid=$!
	sleep 2
	publish running 1
	wait "$curl_pid" || fail "download failed"
	sum=$(sha256sum <"$work/big" | cut -d' ' -f1)
	echo "guest0: downloaded $(stat -c %s "$work/big") bytes, sha256 $sum"
	[ "$sum" = "$(fetch 2 sha256)" ] || fail "the bytes differ from the server's file"
	echo "guest0: the bytes are the server's file"
	publish done 1
else
	fetch 0 running >/dev/null
	show "$BATONCTL" conn list
	fetch 0 done 200 >/dev/null
	publish tx "$(($(tx) - tx0))"
fi
barrier measured
case $BATON_GUEST in
1)
	show "$BATONCTL" stats
	fe=$(fetch 1 tx)
	be=$(fetch 2 tx)
	echo
	echo "== proof of the handoff =="
	echo "the server saw the client as: $(cut -d' ' -f1 "$BATON_OUT/httpd.log") (client is $(guest_addr 0))"
	echo "response size:            $size bytes"
	pct=$(awk -v a="$fe" -v b="$size" 'BEGIN { printf "%.3f", 100 * a / b }')
	echo "front-end NIC sent:       $fe bytes ($pct% of the response)"
	echo "back-end NIC sent:        $be bytes (straight to the client, source $vip)"
	;;
esac
barrier shown
show rmmod baton
barrier done
