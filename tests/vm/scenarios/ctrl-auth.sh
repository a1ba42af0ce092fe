#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The authenticated control channel, and a peer that misbehaves. Nodes a
# (id 5) and b (id 3, so that b connects to a) share a key set with `batonctl config set key-file`;
# tests/vm/tools/ctrlpeer.py in namespace m speaks the protocol to a as
# node 1 (a configured peer of a, so it gets past the stranger check).
# Checks:
#   - the key is never shown (config show says "auth on", save leaves it
#     out with a note); a and b come up;
#   - b with a wrong key, then with none: the channel stays down, each
#     side logs why (bad MAC; the peer has no key / requires one); with
#     the right key again it comes back;
#   - from m: a HELLO without the key followed by forged HANDOFF_REQ and
#     CONN_END, a wrong key, a replayed frame, a frame of an earlier
#     channel, reordered frames, an oversized and a truncated frame, a
#     wrong version and garbage: each connection is closed, with its log
#     line, the forged frames are never acted on (no handoff, stats
#     unchanged), and the a-b channel stays up on the same connection;
#   - m with the key completes the handshake (peer 1 up on a);
#   - moves from m: a MOVE_REQ for a connection a does not serve answered
#     MOVE_NACK INVALID, an unsolicited MOVE_ACK (with data) and MOVE_NACK
#     ignored, the channel held;
#   - replication frames from m: a copy from a peer that is no member is
#     ignored, from a member kept until its REPLICA_END or until the member
#     is deleted from the group (nothing taken over); a copy of a handoff
#     (HANDOFF_COPY) likewise, confirmed by COPY_ACK only from a member;
#     TAKEOVER and REPLICA_END of unknown connections change nothing; a
#     short REPLICA, a HANDOFF_COPY that would resume, a VIEW out of
#     order and a SYNCED of epoch 0 close the channel, logged;
#   - m sends 300 handoffs at once whose replays all time out: a refuses
#     those beyond its replay queue at once (NACK OVERLOAD), its
#     heartbeats to m keep their pace and the a-b channel stays up; the
#     flows are all gone afterwards;
#   - 1000 silent connections from m at once are all closed, rate-limited
#     log lines, and meanwhile b re-establishes its channel to a;
#   - rmmod is clean.
#
# guests: 1
# memory: 512M
# timeout: 420
#
#               switch ns "sw" (br0)        198.18.4.0/24
#        /               |                \
#   a .1 node 5     b .2 node 3      m .3 ctrlpeer.py ("node 1")
set -euo pipefail
# shellcheck source=tests/vm/lib.sh
. "$(dirname "$0")/../lib.sh"

require_cmd ip jq python3

readonly a_addr=198.18.4.1 b_addr=198.18.4.2
readonly tool="$BATON_REPO/tests/vm/tools/ctrlpeer.py"
readonly key=4f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8
readonly wrong=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
work=$(mktemp -d)
defer rm -rf "$work"
printf '%s\n' "$key" >"$work/key"
printf '%s\n' "$wrong" >"$work/wrong"
chmod 600 "$work/key" "$work/wrong"

lan_setup 4 sw a b m
baton_load

# peer_field NS ID FIELD: FIELD of peer ID in NS's peer list.
peer_field() {
	ns_exec "$1" "$BATONCTL" -j peer list | jq -er ".[] | select(.\"node-id\" == $2) | .\"$3\""
}

peer_is() {
	[ "$(peer_field "$1" "$2" state)" = "$3" ]
}

# logged TEXT: the kernel log has TEXT (fixed string).
logged() {
	dmesg | grep -qF -- "$1"
}

ns_exec a "$BATONCTL" config set node-id 5 key-file "$work/key"
ns_exec b "$BATONCTL" config set node-id 3 key-file "$work/key"
ns_exec a "$BATONCTL" peer add 3 "$b_addr"
ns_exec b "$BATONCTL" peer add 5 "$a_addr"
wait_for -t 30 peer_is a 3 up || fail "a-b channel with a shared key not up"
wait_for -t 10 peer_is b 5 up || fail "b-a channel not up"
check_eq "config show (text)" "$(ns_exec a "$BATONCTL" config show | grep -o 'auth [a-z]*')" "auth on"
check_eq "config show (json)" "$(ns_exec a "$BATONCTL" -j config show | jq -c .auth)" true
for cmd in "config show" "-j config show" "save" "peer list"; do
	# shellcheck disable=SC2086 # words of the command
	if ns_exec a "$BATONCTL" $cmd | grep -qi "${key:0:16}"; then
		fail "batonctl $cmd shows the key"
	fi
done
ns_exec a "$BATONCTL" save | grep -q '^# a control-channel key is set; it is not saved' ||
	fail "save does not say the key was left out"
rc=0
out=$("$BATONCTL" config set key 0011223344 2>&1) || rc=$?
check_eq "exit code of a short key (usage error)" "$rc" 2
grep -qF "expected 32 to 128 hex digits" <<<"$out" || fail "short key: $out"
if grep -qF 0011223344 <<<"$out"; then
	fail "the usage error shows the key"
fi
expect_error "key-file: $work/nope" "$BATONCTL" config set key-file "$work/nope"
log "a and b authenticated; the key is never shown"

# b with a wrong key: both sides refuse the other's AUTH.
ns_exec b "$BATONCTL" config set key-file "$work/wrong"
wait_for -t 10 peer_is a 3 down || fail "channel still up with different keys"
wait_for -t 15 logged "bad MAC" || fail "no 'bad MAC' log line for the wrong key"
sleep 3
check_eq "a-b state with a wrong key" "$(peer_field a 3 state)" down
# b without a key: refused on both sides, each saying which has none.
ns_exec b "$BATONCTL" config set key none
check_eq "b auth off" "$(ns_exec b "$BATONCTL" -j config show | jq -c .auth)" false
wait_for -t 15 logged "the peer has no key, and this node requires authentication" ||
	fail "a did not log that b has no key"
wait_for -t 15 logged "the peer requires authentication, and this node has no key" ||
	fail "b did not log that a requires a key"
check_eq "a-b state without b's key" "$(peer_field a 3 state)" down
ns_exec b "$BATONCTL" config set key-file "$work/key"
wait_for -t 30 peer_is a 3 up || fail "a-b channel did not come back with the right key"
connects=$(peer_field a 3 connects)
log "wrong key and no key refused; the right key brings the channel back ($connects connects)"

# m misbehaves as node 1, a configured peer of a.
ns_exec a "$BATONCTL" peer add 1 198.18.4.3
stats0=$(ns_exec a "$BATONCTL" -j stats | jq -c .)

# attack NAME [ARGS] -- LOG_TEXT: run one attack from m; it must succeed
# (the node behaved) and a must have logged LOG_TEXT.
attack() {
	local want=${*: -1} out name=$1
	[ "$name" = --key ] && name=$3
	out=$(ns_exec m env BATON_SLOW="$BATON_SLOW" timeout 90 python3 "$tool" "$a_addr" 7300 1 "${@:1:$#-2}") ||
		fail "attack $name: $out"
	log "$out"
	if [ -n "$want" ]; then
		wait_for -t 10 logged "$want" || fail "attack $name: no log line '$want'"
	fi
	check_eq "a-b channel after attack $name" "$(peer_field a 3 state)" up
	check_eq "a-b connects after attack $name" "$(peer_field a 3 connects)" "$connects"
}

attack forge -- "the peer has no key, and this node requires authentication"
attack --key "$wrong" wrong-key -- "bad MAC"
attack --key "$key" handshake -- "channel to peer 1 up"
check_eq "peer 1 connects after its handshake" "$(peer_field a 1 connects)" 1
attack --key "$key" replay -- "sequence number out of order"
attack --key "$key" cross-replay -- "bad MAC (wrong key, or a forged or replayed frame)"
attack --key "$key" reorder -- "sequence number out of order"
attack --key "$key" oversized -- "frame too long"
attack --key "$key" truncated -- ""
attack --key "$key" version -- "unknown protocol version"
attack garbage -- "bad frame magic"
check_eq "stats unchanged by the forged frames" "$(ns_exec a "$BATONCTL" -j stats | jq -c .)" "$stats0"
check_eq "no connection state on a" "$(ns_exec a "$BATONCTL" -j conn list | jq .total)" 0
# Moves (issue 16): a MOVE_REQ for a connection a does not serve is
# refused (MOVE_NACK INVALID); an unsolicited MOVE_ACK, with data, or
# MOVE_NACK changes nothing; the channel holds.
attack --key "$key" move -- ""
check_eq "no connection state on a after the moves" "$(ns_exec a "$BATONCTL" -j conn list | jq .total)" 0

# Replication frames (issue 15). From a peer that is no member of a's
# front-end group, a copy (of a connection, or of a handoff) is ignored;
# from a member it is kept (a handoff's confirmed) until its REPLICA_END;
# a TAKEOVER or REPLICA_END of an unknown connection changes nothing;
# malformed ones (a copy of a handoff that would resume among them) close
# the channel.
common() {
	ns_exec a "$BATONCTL" -j stats | jq .common
}
# copy_held WANT: a copy sent by m is held (1) or not (0) while m keeps
# its channel up, and gone once m ends it.
copy_held() {
	ns_exec m timeout 30 python3 "$tool" --key "$key" "$a_addr" 7300 1 replica >"$work/replica" 2>&1 &
	local pid=$!
	sleep 2
	check_eq "copies on a while m holds its channel" "$(common)" "$1"
	wait "$pid" || fail "attack replica: $(cat "$work/replica")"
	check_eq "copies on a after m's REPLICA_END" "$(common)" 0
}
# copy_kept WANT: a copy of a handoff from m (HANDOFF_COPY) is kept and
# confirmed with COPY_ACK (1) or ignored (0) while m holds its channel,
# and gone after m's REPLICA_END.
copy_kept() {
	local ack pid
	ack=$([ "$1" = 1 ] && echo yes || echo no)
	ns_exec m timeout 30 python3 "$tool" --key "$key" "$a_addr" 7300 1 copy "$ack" >"$work/copy" 2>&1 &
	pid=$!
	if [ "$1" = 1 ]; then
		wait_for -t 10 sh -c "[ \$(ip netns exec a $BATONCTL -j stats | jq .pending) -eq 1 ]" ||
			fail "a does not keep member 1's copy of a handoff"
	else
		sleep 1.5
		check_eq "copies of handoffs on a from a non-member" "$(ns_exec a "$BATONCTL" -j stats | jq .pending)" 0
	fi
	wait "$pid" || fail "attack copy: $(cat "$work/copy")"
	log "$(cat "$work/copy")"
	check_eq "copies of handoffs on a after m's REPLICA_END" "$(ns_exec a "$BATONCTL" -j stats | jq .pending)" 0
}
copy_held 0
copy_kept 0
ns_exec a "$BATONCTL" cluster add 1
copy_held 1
copy_kept 1
# A member deleted from the group while a holds its copy: the copy goes,
# and nothing is taken over (the member still forwards its connections).
ns_exec m timeout 30 python3 "$tool" --key "$key" "$a_addr" 7300 1 replica >"$work/replica" 2>&1 &
pid=$!
wait_for -t 10 sh -c "[ \$(ip netns exec a $BATONCTL -j stats | jq .common) -eq 1 ]" ||
	fail "a does not keep member 1's copy"
ns_exec a "$BATONCTL" cluster del 1
check_eq "copies on a once 1 is no member" "$(common)" 0
wait "$pid" || fail "attack replica: $(cat "$work/replica")"
attack --key "$key" takeover -- ""
attack --key "$key" replica-short -- "payload length does not match the message type"
attack --key "$key" copy-resume -- "field out of range"
attack --key "$key" view-unsorted -- "field out of range"
check_eq "copies taken over from m" "$(ns_exec a "$BATONCTL" -j stats | jq .promoted)" 0
check_eq "no connection state on a after the replication frames" \
	"$(ns_exec a "$BATONCTL" -j conn list | jq .total)" 0

# m (node 1) sends 300 handoffs at once for a server of a's whose accept
# queue is full (its SYNs are dropped, each replay runs out its 1.5 s): a
# replays them on its pool, refuses those beyond its queue at once with
# NACK OVERLOAD, and its channels' heartbeats are never held up.
ns_exec a python3 -c '
import socket, sys, time
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], 9999)); l.listen(0)
# One connection fills an accept queue of backlog 0: later SYNs are dropped.
held = socket.create_connection((sys.argv[1], 9999))
print("full", flush=True)
time.sleep(600)
' "$a_addr" >"$work/full" 2>&1 &
full=$!
defer kill "$full"
wait_for -t 30 grep -q full "$work/full" || fail "the listener that never accepts did not start"
attack --key "$key" overload 300 "$a_addr" 9999 -- ""

# 1000 silent connections from m at once, while b restarts its channel:
# b's handshake is not held up behind m's.
dmesg -C
flood_start=$SECONDS
ns_exec m timeout 120 python3 "$tool" "$a_addr" 7300 1 flood 1000 >"$work/flood" 2>&1 &
flood=$!
sleep 1
ns_exec b "$BATONCTL" config set key-file "$work/key" # a new key object: b reconnects
wait_for -t 15 peer_is a 3 up || fail "b could not reconnect during the flood"
check_ge "a-b connects after b's restart" "$(peer_field a 3 connects)" $((connects + 1))
wait "$flood" || fail "flood: $(cat "$work/flood")"
flood_secs=$((SECONDS - flood_start))
log "$(cat "$work/flood") (${flood_secs}s)"
refused=$(dmesg | grep -c 'refused: too many handshakes pending' || true)
check_ge "flood refusals logged" "$refused" 1
# net_ratelimit: a burst of 10 lines per 5 s (the debug kernel takes
# longer over the 1000 connections, so it may log more of them).
most=$((10 * (flood_secs / 5 + 2)))
((refused <= most)) || fail "flood log not rate-limited: $refused lines in ${flood_secs}s (at most $most)"
check_eq "a-b channel after the flood" "$(peer_field a 3 state)" up

# The refused and timed-out handoffs left nothing behind.
wait_for -t $((120 * BATON_SLOW)) sh -c "[ \$(ip netns exec a $BATONCTL -j conn list | jq .total) -eq 0 ]" ||
	fail "flows of the overload left on a: $(ns_exec a "$BATONCTL" -j conn list | jq .total)"
ns_exec a "$BATONCTL" peer del 1
baton_unload
echo "ctrl-auth: ok"
