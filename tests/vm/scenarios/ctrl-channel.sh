#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The persistent control channel between two nodes (guests on one L2
# segment): node ids and peers set with batonctl; the node with the smaller
# id connects, HELLO both ways, heartbeats; `batonctl peer list` shows the
# state and counters. Then:
#   - garbage sent to a node's control port is refused and logged, and the
#     real channel stays up;
#   - so is a connection from an IPv6 address that is no peer's (the port
#     takes both families), logged as [ADDR]:PORT;
#   - 300 silent connections from an address that is no peer's are each
#     closed at once (logged, rate-limited), and the real channel stays up;
#   - with heartbeat-timeout-ms 20000 the channel stays up through 4 s of
#     silence (guest 1's link down), connects stays 1;
#   - the link of guest 1 goes down for a while: both sides declare the peer
#     down (heartbeat timeout, 3 s), reconnect when it returns, connects = 2;
#   - peer errors carry the kernel's message (duplicate, own id, unknown),
#     an unprivileged user gets "permission denied";
#   - deleting a peer whose thread sleeps in its 5 s reconnection backoff
#     returns at once (within 2 s);
#   - deleting the peer closes the channel on both sides;
#   - the same two nodes as peers by IPv6 address: the channel comes up
#     over IPv6, heartbeats flow, deleting closes it; rmmod is clean.
#
# guests: 2
# memory: 512M
# timeout: 300
#
#   guest0 node 1 198.18.0.1 ---- bridge ---- 198.18.0.2 node 2 guest1
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd ip jq socat ss setpriv

readonly other=$((1 - BATON_GUEST))
readonly me=$((BATON_GUEST + 1)) peer_id=$((other + 1))

# peer FIELD: a field of the only peer in `batonctl -j peer list`.
peer() {
	batonctl -j peer list | jq -er ".[0][\"$1\"]"
}

peer_state_is() {
	[ "$(peer state)" = "$1" ]
}

setup_guest_net
baton_load
batonctl config set node-id "$me"
batonctl peer add "$peer_id" "$(guest_addr "$other")"
wait_for -t 60 peer_state_is up || fail "channel to node $peer_id not up"
batonctl peer list
check_eq "connects" "$(peer connects)" 1
check_eq "peer port" "$(peer port)" 7300
n0=$(peer msgs-in) w0=$(peer writes-out)
sleep 3
check_ge "heartbeats received in 3 s" "$(($(peer msgs-in) - n0))" 2
check_ge "socket writes in 3 s" "$(($(peer writes-out) - w0))" 2
# A write carries one frame or several, counted before it: of one
# reading, never fewer frames than writes.
sent=$(batonctl -j peer list | jq -er '.[0] | "\(."msgs-out") \(."writes-out")"')
check_ge "frames sent, against their writes (${sent#* })" "${sent% *}" "${sent#* }"
[ "$(peer last-rx-ms)" -lt 3000 ] || fail "last frame $(peer last-rx-ms) ms ago"
check_eq "channels on the control port" \
	"$(ss -Htn state established '( sport = :7300 or dport = :7300 )' | wc -l)" 1
barrier up

# Garbage to guest 1's control port, from guest 0 (a known peer address).
if ((BATON_GUEST == 0)); then
	printf 'GET / HTTP/1.0\r\n\r\n' |
		timeout 10 socat -t 3 - "TCP:$(guest_addr 1):7300" >/dev/null || true
fi
barrier garbage-sent
if ((BATON_GUEST == 1)); then
	wait_for -t 10 sh -c "dmesg | grep -q 'connection from 198.18.0.1:[0-9]* refused: bad frame magic'" ||
		fail "garbage was not refused with a log line"
fi
check_eq "still up after garbage" "$(peer state)" up
check_eq "connects after garbage" "$(peer connects)" 1
barrier garbage-checked

# The control port takes IPv6 connections too (one dual-stack listener):
# an IPv6 stranger is turned away and logged with its address as
# [ADDR]:PORT (before the strangers below, whose lines use up the log's
# rate limit).
# (Kept through the link's downs below, which flush IPv6 addresses by
# default.)
sysctl -qw net.ipv6.conf.eth0.keep_addr_on_down=1
ip addr add "2001:db8::$me/64" dev eth0 nodad
if ((BATON_GUEST == 0)); then
	ip addr add 2001:db8::50/64 dev eth0 nodad
	printf 'x' | timeout 10 socat -t 3 - "TCP6:[2001:db8::2]:7300,bind=[2001:db8::50]" >/dev/null || true
	ip addr del 2001:db8::50/64 dev eth0
fi
barrier v6-stranger-sent
if ((BATON_GUEST == 1)); then
	wait_for -t 10 sh -c "dmesg | grep -q 'connection from \[2001:db8::50\]:[0-9]* refused: not a peer address'" ||
		fail "the IPv6 stranger was not refused with a log line"
fi
check_eq "still up after the IPv6 stranger" "$(peer state)" up
barrier v6-stranger-checked

# 300 silent connections to guest 1's control port from an address that is
# no peer's: each is turned away at once (no HELLO wait), so all of them
# are closed within seconds, and the real channel stays up.
if ((BATON_GUEST == 0)); then
	ip addr add 198.18.0.50/24 dev eth0
	closed=$(timeout 60 python3 - "$(guest_addr 1)" <<'PY'
import socket, sys, time
peer = sys.argv[1]
socks = []
closed = 0
for _ in range(300):
    s = socket.socket()
    s.bind(("198.18.0.50", 0))
    s.settimeout(5)
    try:
        s.connect((peer, 7300))
    except (ConnectionResetError, ConnectionRefusedError):
        closed += 1  # turned away while connecting
        continue
    socks.append(s)
deadline = time.time() + 5
for s in socks:
    s.settimeout(max(0.01, deadline - time.time()))
    try:
        if s.recv(1) == b"":
            closed += 1
    except ConnectionResetError:
        closed += 1
    except OSError:
        pass
print(closed)
PY
	)
	check_eq "stranger connections closed within 5 s" "$closed" 300
	ip addr del 198.18.0.50/24 dev eth0
fi
barrier strangers-sent
if ((BATON_GUEST == 1)); then
	dmesg | grep -q "connection from 198.18.0.50:[0-9]* refused: not a peer address" ||
		fail "stranger connections were not logged"
fi
check_eq "still up after strangers" "$(peer state)" up
check_eq "connects after strangers" "$(peer connects)" 1
barrier strangers-checked

# A longer heartbeat timeout (a setting) rides out a silence of 4 s, which
# the default 3 s would take for a dead peer: no reconnect.
batonctl config set heartbeat-timeout-ms 20000
check_eq "heartbeat timeout set" "$(batonctl -j config show | jq '."heartbeat-timeout-ms"')" 20000
barrier long-heartbeat
if ((BATON_GUEST == 1)); then
	ip link set eth0 down
	sleep 4
	ip link set eth0 up
fi
barrier silence-over 60
# The frames held back during the silence come with TCP's next
# retransmission, within seconds.
sleep 8
check_eq "up through 4 s of silence (heartbeat-timeout-ms 20000)" "$(peer state)" up
check_eq "connects through the silence" "$(peer connects)" 1
barrier long-heartbeat-checked
batonctl config set heartbeat-timeout-ms 3000

# Link failure on guest 1.
if ((BATON_GUEST == 1)); then
	ip link set eth0 down
	wait_for -t 15 peer_state_is down || fail "link down: peer still up"
	sleep 2
	ip link set eth0 up
else
	wait_for -t 15 peer_state_is down || fail "peer 2 unreachable but still up"
fi
log "peer down seen"
wait_for -t 60 peer_state_is up || fail "no reconnect after the link came back"
check_eq "connects after reconnect" "$(peer connects)" 2
barrier reconnected

# Errors and permissions.
expect_error "a peer with this node-id exists" batonctl peer add "$peer_id" "$(guest_addr "$other")"
expect_error "peer node-id is this node's own node-id" batonctl peer add "$me" 198.18.0.99
expect_error "no peer with this node-id" batonctl peer del 99
expect_error "peer node-id is this node's own node-id" batonctl config set node-id "$peer_id"
rc=0
setpriv --reuid=65534 --regid=65534 --clear-groups "$BATONCTL" peer del "$peer_id" 2>/dev/null || rc=$?
check_eq "unprivileged peer del: exit code" "$rc" 4
setpriv --reuid=65534 --regid=65534 --clear-groups "$BATONCTL" peer list >/dev/null ||
	fail "unprivileged peer list failed"
barrier errors-checked

# Stopping a peer's thread does not wait out its reconnection backoff:
# peers 3 and 4 on guest 0 (node 1 dials them) are at TEST-NET-1 addresses
# that have no route, so each dial fails at once and after 12 s the backoff
# is at its 5 s maximum; deleting each takes well under that.
if ((BATON_GUEST == 0)); then
	batonctl peer add 3 192.0.2.3
	batonctl peer add 4 192.0.2.4
	sleep 12
	limit=$((BATON_SLOW > 1 ? 4000 : 2000))
	for p in 3 4; do
		t0=$(date +%s%N)
		batonctl peer del "$p"
		ms=$((($(date +%s%N) - t0) / 1000000))
		log "peer del $p (in backoff) took $ms ms"
		((ms < limit)) || fail "peer del $p took $ms ms (>= $limit): its thread slept out its backoff"
	done
	check_eq "peers after deleting 3 and 4" "$(batonctl -j peer list | jq -c '[.[]."node-id"]')" "[$peer_id]"
fi
barrier backoff-checked

# Deleting the peer on guest 0 closes the channel; guest 1 sees it go down.
if ((BATON_GUEST == 0)); then
	batonctl peer del "$peer_id"
	check_eq "peers after del" "$(batonctl -j peer list)" "[]"
else
	wait_for -t 15 peer_state_is down || fail "channel still up after the peer deleted us"
	batonctl peer del "$peer_id"
fi
barrier deleted

# The channel over IPv6: peers by IPv6 address, HELLO (each side checks
# the other's address), heartbeats; then deleted as before.
batonctl peer add "$peer_id" "[2001:db8::$peer_id]"
wait_for -t 60 peer_state_is up || fail "channel to node $peer_id over IPv6 not up"
batonctl peer list
check_eq "IPv6 peer address" "$(peer addr)" "2001:db8::$peer_id"
check_eq "connects over IPv6" "$(peer connects)" 1
check_eq "channels over IPv6 on the control port" \
	"$(ss -Htn state established '( sport = :7300 or dport = :7300 )' | grep -c '2001:db8::')" 1
n0=$(peer msgs-in)
sleep 3
check_ge "heartbeats received over IPv6 in 3 s" "$(($(peer msgs-in) - n0))" 2
barrier v6-up
if ((BATON_GUEST == 0)); then
	batonctl peer del "$peer_id"
else
	wait_for -t 15 peer_state_is down || fail "IPv6 channel still up after the peer deleted us"
fi
barrier v6-deleted
baton_unload
log "all checks passed"
