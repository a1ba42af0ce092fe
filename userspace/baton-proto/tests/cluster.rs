// SPDX-License-Identifier: GPL-2.0

//! Front-end group ownership and views of `src/proto/cluster.rs`.

use baton_proto::{
    cluster::{
        awaiting_admits, awaiting_expired, awaits_copy, backup_of, backups, owners, pass_to, place,
        relayed_fate, suspect, transition, FlowId, Owners, Pass, Place, Relayed, Transition, View,
        ViewError, AWAITING_AGE_MS, AWAITING_MAX, COPY_WAIT_MS, MAX_MEMBERS, SILENT_MS, SUSPECT_MS,
    },
    config::{check_member_add, MemberError, PeerConf},
    packet::V6,
    service::{Endpoint, Ip},
};
use proptest::prelude::*;

fn flow(i: u32) -> FlowId {
    FlowId {
        client: Endpoint {
            addr: [198, 18, (i >> 16) as u8, (i >> 8) as u8],
            port: 1024 + (i & 0xff) as u16 * 251,
        },
        vip: Endpoint {
            addr: [198, 18, 0, 100],
            port: 80,
        },
    }
}

fn members(n: u32) -> Vec<u32> {
    (1..=n).map(|i| i * 7 + 3).collect()
}

fn owner_of(m: &[u32], f: &FlowId) -> u32 {
    owners(m, f.hash()).unwrap().owner
}

/// The hash is part of the protocol: members of different versions must
/// compute the same owners. These values pin it.
#[test]
fn known_answers() {
    let f = FlowId {
        client: Endpoint {
            addr: [198, 18, 0, 1],
            port: 40000,
        },
        vip: Endpoint {
            addr: [198, 18, 0, 100],
            port: 80,
        },
    };
    assert_eq!(f.hash(), KNOWN_HASH);
    assert_eq!(
        owners(&[1, 2, 3], f.hash()),
        Some(Owners {
            owner: KNOWN_OWNER,
            backup: Some(KNOWN_BACKUP)
        })
    );
}

const KNOWN_HASH: u64 = 6_242_159_376_752_794_310;
const KNOWN_OWNER: u32 = 2;
const KNOWN_BACKUP: u32 = 3;

fn flow6(i: u32) -> FlowId<V6> {
    let mut client = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    client[12..].copy_from_slice(&i.to_be_bytes());
    let mut vip = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    vip[15] = 0x64;
    FlowId {
        client: Endpoint {
            addr: client,
            port: 1024 + (i & 0xff) as u16 * 251,
        },
        vip: Endpoint {
            addr: vip,
            port: 80,
        },
    }
}

/// FNV-1a as the protocol defines the hash (the reference the pinned
/// values were taken from).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// An IPv6 connection hashes its 36 bytes in the order of the IPv4 ones:
/// client address, client port, VIP, VIP port. Pinned too.
#[test]
fn known_answers_v6() {
    let f = flow6(1);
    let mut b = Vec::new();
    b.extend_from_slice(&f.client.addr);
    b.extend_from_slice(&f.client.port.to_be_bytes());
    b.extend_from_slice(&f.vip.addr);
    b.extend_from_slice(&f.vip.port.to_be_bytes());
    assert_eq!(b.len(), 36);
    assert_eq!(f.hash(), fnv1a(&b));
    assert_eq!(f.hash(), KNOWN_HASH6);
}

const KNOWN_HASH6: u64 = 5_947_059_079_230_907_983;

/// The IPv4 hash is FNV-1a over the 12 bytes.
#[test]
fn v4_hash_is_fnv1a_of_12_bytes() {
    for i in 0..1000 {
        let f = flow(i);
        let mut b = Vec::new();
        b.extend_from_slice(&f.client.addr);
        b.extend_from_slice(&f.client.port.to_be_bytes());
        b.extend_from_slice(&f.vip.addr);
        b.extend_from_slice(&f.vip.port.to_be_bytes());
        assert_eq!(f.hash(), fnv1a(&b));
    }
}

/// IPv6 connections spread over the members as evenly as IPv4 ones.
#[test]
fn shares_are_even_v6() {
    let m = members(8);
    let mut owned = [0u32; 8];
    let n = 80_000;
    for i in 0..n {
        let o = owners(&m, flow6(i).hash()).unwrap();
        owned[m.iter().position(|&x| x == o.owner).unwrap()] += 1;
    }
    for c in owned {
        let share = f64::from(c) / f64::from(n);
        assert!((share - 0.125).abs() < 0.01, "share {share}: {owned:?}");
    }
}

#[test]
fn small_groups() {
    assert_eq!(owners(&[], 5), None);
    assert_eq!(
        owners(&[4], 5),
        Some(Owners {
            owner: 4,
            backup: None
        })
    );
    assert_eq!(
        owners(&[4, 4, 4], 5).unwrap().backup,
        None,
        "one member, repeated"
    );
    let two = owners(&[4, 9], 5).unwrap();
    assert_ne!(Some(two.owner), two.backup);
}

#[test]
fn shares_are_even() {
    let m = members(8);
    let mut owned = [0u32; 8];
    let mut backed = [0u32; 8];
    let n = 80_000;
    for i in 0..n {
        let o = owners(&m, flow(i).hash()).unwrap();
        owned[m.iter().position(|&x| x == o.owner).unwrap()] += 1;
        backed[m.iter().position(|&x| Some(x) == o.backup).unwrap()] += 1;
    }
    for c in owned.iter().chain(backed.iter()) {
        let share = f64::from(*c) / f64::from(n);
        assert!(
            (share - 0.125).abs() < 0.01,
            "share {share}: {owned:?} {backed:?}"
        );
    }
}

proptest! {
    #[test]
    fn order_and_repeats_do_not_matter(
        set in proptest::collection::vec(1u32..10_000, 1..20),
        rot in 0usize..20,
        k in any::<u64>(),
    ) {
        let mut other = set.clone();
        other.rotate_left(rot % set.len());
        other.reverse();
        other.extend_from_slice(&set[..set.len() / 2]);
        prop_assert_eq!(owners(&set, k), owners(&other, k));
        let o = owners(&set, k).unwrap();
        prop_assert!(set.contains(&o.owner));
        prop_assert_ne!(Some(o.owner), o.backup);
        let distinct = { let mut s = set.clone(); s.sort(); s.dedup(); s.len() };
        prop_assert_eq!(o.backup.is_some(), distinct > 1);
    }

    /// Views that see the same set converge on one epoch, whatever each
    /// one's history.
    #[test]
    fn views_converge(changes_a in 0usize..5, changes_b in 0usize..5) {
        let mut a = View::new(1).unwrap();
        let mut b = View::new(2).unwrap();
        for i in 0..changes_a {
            a.set_members(&[1, 10 + i as u32]).unwrap();
        }
        for i in 0..changes_b {
            b.set_members(&[2, 20 + i as u32]).unwrap();
        }
        prop_assert!(a.set_members(&[2, 1]).unwrap());
        prop_assert!(b.set_members(&[1, 2, 2]).unwrap());
        prop_assert_eq!(a.members(), b.members());
        let (ea, eb) = (a.epoch(), b.epoch());
        a.merge(eb, b.digest());
        b.merge(ea, a.digest());
        prop_assert!(a.agrees(b.epoch(), b.digest()));
        prop_assert_eq!(a.epoch(), ea.max(eb));
    }
}

/// Group sizes and leavers the two tests below go over: deterministic, so
/// that the 1% margin is checked on fixed inputs, not sampled.
const SIZES: [u32; 8] = [2, 3, 4, 5, 8, 16, 33, 64];
const FLOWS: u32 = 20_000;

/// A member leaves: only its connections change owner (at most 1/N of
/// them plus 1%), and each goes to its backup, which has the copy.
#[test]
fn leave_moves_only_the_leavers() {
    for n in SIZES {
        let before = members(n);
        for gone in [
            before[0],
            before[before.len() / 2],
            before[before.len() - 1],
        ] {
            let after: Vec<u32> = before.iter().copied().filter(|&m| m != gone).collect();
            let mut moved = 0;
            for i in 0..FLOWS {
                let f = flow(i);
                let o = owners(&before, f.hash()).unwrap();
                let now = owner_of(&after, &f);
                if o.owner == gone {
                    assert_eq!(
                        Some(now),
                        o.backup,
                        "an orphan went elsewhere than its backup"
                    );
                    moved += 1;
                } else {
                    assert_eq!(now, o.owner, "a connection of a member that stayed moved");
                }
            }
            let frac = f64::from(moved) / f64::from(FLOWS);
            assert!(
                frac <= 1.0 / f64::from(n) + 0.01,
                "{moved} of {FLOWS} moved, {n} members"
            );
        }
    }
}

/// A member joins: only the connections it now owns move, to it.
#[test]
fn join_moves_only_to_the_joiner() {
    for n in SIZES.map(|n| n - 1) {
        let before = members(n);
        let joiner = 50_000;
        let mut after = before.clone();
        after.push(joiner);
        let mut moved = 0;
        for i in 0..FLOWS {
            let f = flow(i);
            let (a, b) = (owner_of(&before, &f), owner_of(&after, &f));
            if a != b {
                assert_eq!(b, joiner);
                moved += 1;
            }
        }
        let frac = f64::from(moved) / f64::from(FLOWS);
        assert!(
            frac <= 1.0 / f64::from(n + 1) + 0.01,
            "{moved} of {FLOWS} moved, {n} + 1 members"
        );
    }
}

#[test]
fn view_refusals_change_nothing() {
    assert_eq!(View::new(0), Err(ViewError::ZeroId));
    let mut v = View::new(1).unwrap();
    let before = v;
    assert_eq!(v.set_members(&[1, 0]), Err(ViewError::ZeroId));
    let many: Vec<u32> = (1..=65).collect();
    assert_eq!(v.set_members(&many), Err(ViewError::TooMany));
    assert_eq!(v, before);
    assert_eq!(v.set_members(&[1]), Ok(false), "same set: same epoch");
    assert_eq!(v.epoch(), 1);
    assert!(v.set_members(&(1..=64).collect::<Vec<_>>()).unwrap());
    assert_eq!(v.members().len(), 64);
    assert_eq!(v.epoch(), 2);
    // A different set under a later epoch is not taken.
    let mut w = View::new(1).unwrap();
    assert!(!w.merge(9, v.digest()));
    assert!(!w.agrees(2, v.digest()));
}

/// Seed 000 on a leave: every connection ends with exactly one member
/// holding it in its active table, which either held it there already or
/// promotes its copy; none has to fetch an entry it should own.
#[test]
fn transitions_on_leave() {
    let ids = members(5);
    let mut old = View::new(ids[0]).unwrap();
    old.set_members(&ids).unwrap();
    let mut new = old;
    new.set_members(&ids[1..]).unwrap();
    let (mut promoted, mut fetched) = (0, 0);
    for i in 0..5000 {
        let f = flow(i);
        let mut active = 0;
        for &m in &ids[1..] {
            let t = transition(&old, &new, m, &f);
            assert_ne!(
                t,
                Transition::Acquire,
                "one member left: its backup has the copy"
            );
            promoted += u32::from(t == Transition::Promote);
            fetched += u32::from(t == Transition::Fetch);
            active += u32::from(place(&new, m, &f) == Place::Active);
        }
        assert_eq!(active, 1);
    }
    // About a fifth each: the leaver's owned connections are promoted, and
    // those it owned or backed up need a new backup.
    assert!((800..1200).contains(&promoted), "{promoted}");
    assert!((1600..2400).contains(&fetched), "{fetched}");
}

#[test]
fn member_add_checks() {
    let peer = |node_id| PeerConf {
        node_id,
        addr: Ip::V4([198, 18, 0, node_id as u8]),
        port: 7300,
    };
    let peers: Vec<PeerConf> = (2..=65).map(peer).collect();
    assert_eq!(check_member_add(&peers, 1, &[], 2), Ok(()));
    assert_eq!(
        check_member_add(&peers, 1, &[], 0),
        Err(MemberError::ZeroId)
    );
    assert_eq!(check_member_add(&peers, 1, &[], 1), Err(MemberError::OwnId));
    assert_eq!(
        check_member_add(&peers, 1, &[], 66),
        Err(MemberError::NotPeer)
    );
    assert_eq!(
        check_member_add(&peers, 1, &[2, 3], 3),
        Err(MemberError::Exists)
    );
    // Client packets are passed to members over IPv4.
    let mut v6_peers = peers.clone();
    v6_peers[0].addr = Ip::V6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    assert_eq!(
        check_member_add(&v6_peers, 1, &[], 2),
        Err(MemberError::NotV4)
    );
    assert_eq!(check_member_add(&v6_peers, 1, &[], 3), Ok(()));
    // 63 members and this node make 64: room for none more.
    let members: Vec<u32> = (2..=63).collect();
    assert_eq!(check_member_add(&peers, 1, &members, 64), Ok(()));
    let members: Vec<u32> = (2..=64).collect();
    assert_eq!(
        check_member_add(&peers, 1, &members, 65),
        Err(MemberError::TooMany)
    );
    // Every refusal has a message for the user.
    for e in [
        MemberError::Missing,
        MemberError::ZeroId,
        MemberError::OwnId,
        MemberError::NotPeer,
        MemberError::Exists,
        MemberError::NotFound,
        MemberError::TooMany,
    ] {
        assert!(!e.message().to_bytes().is_empty());
    }
}

#[test]
fn announced_views() {
    let v = View::announced(3, [1, 4, 9]).unwrap();
    assert_eq!((v.epoch(), v.members(), v.size()), (3, &[1, 4, 9][..], 3));
    // The same set as a view reached by set_members: same digest.
    let mut mine = View::new(9).unwrap();
    mine.set_members(&[4, 1, 9]).unwrap();
    assert_eq!(mine.digest(), v.digest());
    assert!(View::announced(0, [1]).is_none());
    assert!(View::announced(1, []).is_none());
    assert!(View::announced(1, [2, 2]).is_none());
    assert!(View::announced(1, [0, 2]).is_none());
    assert!(View::announced(1, 1..=64).is_some());
    assert!(View::announced(1, 1..=65).is_none());
}

#[test]
fn the_backup_is_the_first_of_the_others() {
    let m = members(5);
    for i in 0..2000 {
        let k = flow(i).hash();
        let o = owners(&m, k).unwrap();
        for &owner in &m {
            let b = backup_of(&m, owner, k).unwrap();
            assert_ne!(b, owner);
            // The first of the others, which is the first or the second
            // of the whole ranking: where any member finds a copy.
            let others: Vec<u32> = m.iter().copied().filter(|&x| x != owner).collect();
            assert_eq!(b, owners(&others, k).unwrap().owner);
            assert!(b == o.owner || Some(b) == o.backup);
        }
    }
    assert_eq!(backup_of(&[7], 7, 1), None);
    assert_eq!(backup_of(&[], 7, 1), None);
}

#[test]
fn backups_rank_the_others() {
    let m = members(6);
    let mut out = [0u32; MAX_MEMBERS];
    for i in 0..1000 {
        let k = flow(i).hash();
        for &owner in &m {
            let n = backups(&m, owner, k, 3, &mut out);
            assert_eq!(n, 3);
            // The first takes the connection over: backup_of's.
            assert_eq!(Some(out[0]), backup_of(&m, owner, k));
            // Each next one is the backup once the ones before it left.
            let mut rest: Vec<u32> = m.clone();
            for &b in &out[..n] {
                assert_eq!(Some(b), backup_of(&rest, owner, k));
                rest.retain(|&x| x != b);
            }
            // Every other member with n large enough, the owner never.
            let all = backups(&m, owner, k, MAX_MEMBERS, &mut out);
            assert_eq!(all, m.len() - 1);
            let mut got = out[..all].to_vec();
            got.sort_unstable();
            let want: Vec<u32> = m.iter().copied().filter(|&x| x != owner).collect();
            assert_eq!(got, want);
        }
    }
    // Repeats count once; a short `out` bounds the answer.
    assert_eq!(backups(&[3, 3, 5, 5], 9, 1, 8, &mut out), 2);
    assert_eq!(backups(&[1, 2, 3], 9, 1, 8, &mut out[..1]), 1);
    assert_eq!(backups(&[7], 7, 1, 8, &mut out), 0);
    assert_eq!(backups(&[], 7, 1, 8, &mut out), 0);
}

/// A member without state for a connection passes its packets to the first
/// of the ranking, which holds it whoever owns it and however many copies
/// there are: as owner, or as the first backup (point 5 of issue 15).
#[test]
fn relays_go_to_a_holder() {
    let m = members(6);
    let mut out = [0u32; MAX_MEMBERS];
    for i in 0..2000 {
        let k = flow(i).hash();
        let first = owners(&m, k).unwrap().owner;
        for &me in &m {
            let to = pass_to(&m, me, k, |_| false);
            if me == first {
                assert_eq!(to, None);
                continue;
            }
            let Some(Pass::To(to)) = to else {
                panic!("{to:?}")
            };
            assert_eq!(to, first);
            assert_ne!(to, me);
            for &owner in &m {
                // With one copy or more, `to` is the owner or keeps a copy.
                for n in 1..=m.len() {
                    let got = backups(&m, owner, k, n, &mut out);
                    assert!(to == owner || out[..got].contains(&to));
                }
            }
        }
        // After a member leaves, the first of the rest holds the copy the
        // takeover promotes: the relays of the new view go where the
        // connection went.
        for &gone in &m {
            let rest: Vec<u32> = m.iter().copied().filter(|&x| x != gone).collect();
            let first_rest = owners(&rest, k).unwrap().owner;
            assert_eq!(Some(first_rest), backup_of(&m, gone, k));
        }
    }
    let never = |_| false;
    assert_eq!(pass_to(&[], 1, 7, never), None);
    assert_eq!(pass_to(&[1], 1, 7, never), None);
    assert_eq!(pass_to(&[2], 1, 7, never), Some(Pass::To(2)));
}

/// A first of the ranking that has been silent is skipped for the second,
/// which holds the copy of every connection the first owned and is the
/// member the views give it to once they drop the first; a second that is
/// this node or silent too holds the packet back.
#[test]
fn relays_skip_a_silent_first() {
    let m = members(6);
    let mut out = [0u32; MAX_MEMBERS];
    for i in 0..2000 {
        let k = flow(i).hash();
        let first = owners(&m, k).unwrap().owner;
        let second = backup_of(&m, first, k).unwrap();
        for &me in &m {
            for &quiet in &m {
                if quiet == me {
                    continue;
                }
                let to = pass_to(&m, me, k, |x| x == quiet);
                if me == first {
                    assert_eq!(to, None);
                } else if quiet != first {
                    assert_eq!(to, Some(Pass::To(first)));
                } else if me == second {
                    assert_eq!(to, Some(Pass::Hold));
                } else {
                    assert_eq!(to, Some(Pass::To(second)));
                    // It holds the copy of the first's connection with any
                    // number of copies, and takes it over in the view
                    // without the first.
                    for n in 1..m.len() {
                        let got = backups(&m, first, k, n, &mut out);
                        assert_eq!(out[0], second);
                        assert!(got >= 1);
                    }
                    let rest: Vec<u32> = m.iter().copied().filter(|&x| x != first).collect();
                    assert_eq!(owners(&rest, k).unwrap().owner, second);
                }
            }
            // Both silent: nowhere to go.
            if me != first && me != second {
                let both = |x| x == first || x == second;
                assert_eq!(pass_to(&m, me, k, both), Some(Pass::Hold));
            }
        }
    }
    assert_eq!(pass_to(&[2], 1, 7, |_| true), Some(Pass::Hold));
}

/// The member ranked first holds a connection's packets while its first
/// held one is at most COPY_WAIT_MS old, then lets its stack answer; a
/// clock read before the first held packet's (another CPU's) still holds.
#[test]
fn awaits_copy_for_a_bounded_time() {
    assert!(awaits_copy(None, 0));
    assert!(awaits_copy(None, u64::MAX));
    let t = 1_000_000;
    assert!(awaits_copy(Some(t), t));
    assert!(awaits_copy(Some(t), t + COPY_WAIT_MS));
    assert!(!awaits_copy(Some(t), t + COPY_WAIT_MS + 1));
    assert!(!awaits_copy(Some(0), u64::MAX));
    assert!(awaits_copy(Some(t), t - 1));
}

/// Packets awaiting a copy take at most their share of the holding area
/// (1024 entries), and leave it only once their connection's wait is
/// over: a packet still there decides that the next one goes to the stack.
#[test]
fn awaiting_packets_bounded_in_number_and_age() {
    assert!(awaiting_admits(0));
    assert!(awaiting_admits(AWAITING_MAX - 1));
    assert!(!awaiting_admits(AWAITING_MAX));
    let t = 1_000_000;
    assert!(!awaiting_expired(t, t + AWAITING_AGE_MS));
    assert!(awaiting_expired(t, t + AWAITING_AGE_MS + 1));
    assert!(!awaiting_expired(t, t - 1));
}

proptest! {
    /// No held packet is freed while its connection still awaits its copy.
    #[test]
    fn awaiting_not_freed_during_the_wait(at in any::<u64>(), dt in 0u64..4 * COPY_WAIT_MS) {
        let now = at.saturating_add(dt);
        prop_assert!(!(awaits_copy(Some(at), now) && awaiting_expired(at, now)));
        // The wait is over before the packet goes, with room for a
        // retransmission between the two.
        if awaiting_expired(at, now) {
            prop_assert!(now - at > COPY_WAIT_MS + COPY_WAIT_MS / 2);
        }
    }
}

/// A packet passed to a suspect member is freed once the member is heard
/// from after it, passed again once the member is silent or gone, and
/// kept only in between.
#[test]
fn relayed_packets_freed_or_passed_again() {
    let at = 1_000_000;
    assert!(!suspect(at, at + SUSPECT_MS));
    assert!(suspect(at, at + SUSPECT_MS + 1));
    let last = at - SUSPECT_MS - 1;
    assert_eq!(relayed_fate(Some(last), at, at), Relayed::Keep);
    assert_eq!(relayed_fate(Some(at + 1), at, at + 2), Relayed::Free);
    assert_eq!(
        relayed_fate(Some(last), at, last + SILENT_MS),
        Relayed::Keep
    );
    assert_eq!(
        relayed_fate(Some(last), at, last + SILENT_MS + 1),
        Relayed::Again
    );
    assert_eq!(relayed_fate(None, at, at), Relayed::Again);
}

proptest! {
    /// Every kept packet is resolved within SILENT_MS of the last frame
    /// from its member before it went.
    #[test]
    fn relayed_packets_kept_at_most_silent_ms(heard in 0u64..1 << 40, gap in 0u64..10_000, dt in 0u64..10_000) {
        let at = heard + gap;
        let now = at + dt;
        if relayed_fate(Some(heard), at, now) == Relayed::Keep {
            prop_assert!(now - heard <= SILENT_MS);
        }
    }
}
