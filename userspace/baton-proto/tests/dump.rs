// SPDX-License-Identifier: GPL-2.0

//! The resumable dump of a hash table (`baton_proto::dump`) against a model
//! table whose buckets change between and during the calls, and a model
//! buffer that marks messages as netlink's `nl_dump_check_consistent` does.
//! A dump that is not marked interrupted must list every entry present
//! from its start to its end exactly once, and nothing that was never in
//! the table.

use std::{
    cell::{Cell, RefCell},
    collections::{HashMap, HashSet, VecDeque},
};

use baton_proto::dump::{Cursor, Sink, Step, Table};
use proptest::{collection::vec, prelude::*};

#[derive(Clone, Copy, Debug)]
enum Change {
    /// A new key at the head of bucket `n % buckets`.
    Insert(usize),
    /// The key at position `n % len` of all keys goes.
    Remove(usize),
}

struct Model {
    buckets: RefCell<Vec<Vec<u32>>>,
    generation: Cell<u32>,
    next_key: Cell<u32>,
    /// Changes that happen while a call walks (one before each bucket).
    during: RefCell<VecDeque<Change>>,
    /// Every key that was in the table at some time.
    ever: RefCell<HashSet<u32>>,
    /// Keys removed since the dump started.
    removed: RefCell<HashSet<u32>>,
    /// Whether the table tells the dump where its next entry is, as the
    /// kernel's occupancy bitmap does.
    skips: Cell<bool>,
}

impl Model {
    fn new(buckets: usize, keys: &[usize]) -> Self {
        let m = Model {
            buckets: RefCell::new(vec![Vec::new(); buckets]),
            generation: Cell::new(1),
            next_key: Cell::new(1),
            during: RefCell::new(VecDeque::new()),
            ever: RefCell::new(HashSet::new()),
            removed: RefCell::new(HashSet::new()),
            skips: Cell::new(false),
        };
        for &b in keys {
            m.apply(Change::Insert(b));
        }
        m.removed.borrow_mut().clear();
        m
    }

    fn bump(&self) {
        let g = self.generation.get().wrapping_add(1);
        self.generation.set(if g == 0 { 1 } else { g });
    }

    fn apply(&self, c: Change) {
        let mut buckets = self.buckets.borrow_mut();
        match c {
            Change::Insert(n) => {
                let n = n % buckets.len();
                let key = self.next_key.get();
                self.next_key.set(key + 1);
                buckets[n].insert(0, key);
                self.ever.borrow_mut().insert(key);
            }
            Change::Remove(n) => {
                let total: usize = buckets.iter().map(Vec::len).sum();
                if total == 0 {
                    return;
                }
                let mut at = n % total;
                for b in buckets.iter_mut() {
                    if at < b.len() {
                        let key = b.remove(at);
                        self.removed.borrow_mut().insert(key);
                        break;
                    }
                    at -= b.len();
                }
            }
        }
        self.bump();
    }

    fn keys(&self) -> Vec<u32> {
        self.buckets.borrow().iter().flatten().copied().collect()
    }
}

impl Table for Model {
    type Item = u32;

    fn buckets(&self) -> usize {
        self.buckets.borrow().len()
    }

    fn generation(&self) -> u32 {
        self.generation.get()
    }

    fn walk(&self, bucket: usize, f: &mut dyn FnMut(&u32) -> bool) {
        let change = self.during.borrow_mut().pop_front();
        if let Some(c) = change {
            self.apply(c);
        }
        let items = self.buckets.borrow()[bucket].clone();
        for k in &items {
            if !f(k) {
                break;
            }
        }
    }

    fn next_occupied(&self, bucket: usize) -> usize {
        let buckets = self.buckets.borrow();
        if !self.skips.get() {
            return bucket;
        }
        (bucket..buckets.len())
            .find(|&b| !buckets[b].is_empty())
            .unwrap_or(buckets.len())
    }
}

/// One call's buffer: room for `room` messages; `prev_seq` and `seq` as in
/// the netlink callback, which outlives the buffer.
struct Buf<'a> {
    items: Vec<(u32, bool)>,
    room: usize,
    seq: u32,
    prev_seq: &'a mut u32,
}

impl Sink<u32> for Buf<'_> {
    type Mark = (usize, u32);

    fn set_generation(&mut self, generation: u32) {
        self.seq = generation;
    }

    fn mark(&self) -> (usize, u32) {
        (self.items.len(), *self.prev_seq)
    }

    fn is_start(&self, mark: (usize, u32)) -> bool {
        mark.0 == 0
    }

    fn trim(&mut self, mark: (usize, u32)) {
        self.items.truncate(mark.0);
        *self.prev_seq = mark.1;
    }

    fn put(&mut self, item: &u32) -> bool {
        if self.items.len() >= self.room {
            return false;
        }
        let intr = *self.prev_seq != 0 && self.seq != *self.prev_seq;
        *self.prev_seq = self.seq;
        self.items.push((*item, intr));
        true
    }
}

/// An empty buffer with room for `room` messages.
fn empty(room: usize, prev_seq: &mut u32) -> Buf<'_> {
    Buf {
        items: Vec::new(),
        room,
        seq: 0,
        prev_seq,
    }
}

struct Dumped {
    listed: Vec<u32>,
    interrupted: bool,
    calls: usize,
}

/// Dumps `m`: call `i` has room for `rooms[i % len]` messages; after it,
/// `between[i]` changes (if any) happen.
fn dump(
    m: &Model,
    rooms: &[usize],
    between: &[Vec<Change>],
    pick: impl Fn(&u32) -> bool,
) -> Dumped {
    let mut cursor = Cursor::new(m.generation());
    let mut prev_seq = 0;
    let mut seq: u32;
    let mut out = Dumped {
        listed: Vec::new(),
        interrupted: false,
        calls: 0,
    };
    loop {
        let mut buf = empty(rooms[out.calls % rooms.len()], &mut prev_seq);
        let step = cursor.step(m, &mut buf, &pick);
        seq = buf.seq;
        for (k, intr) in buf.items {
            out.listed.push(k);
            out.interrupted |= intr;
        }
        if let Some(changes) = between.get(out.calls) {
            for &c in changes {
                m.apply(c);
            }
        }
        out.calls += 1;
        match step {
            Step::More => assert!(out.calls < 100_000, "no progress"),
            Step::Done => break,
            Step::TooBig => panic!("an entry does not fit an empty buffer of {:?}", rooms),
        }
    }
    // NLMSG_DONE is checked too.
    out.interrupted |= prev_seq != 0 && seq != prev_seq;
    out
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        any::<usize>().prop_map(Change::Insert),
        any::<usize>().prop_map(Change::Remove),
    ]
}

fn check(m: &Model, at_start: &[u32], d: &Dumped, pick: impl Fn(&u32) -> bool) {
    if d.interrupted {
        return;
    }
    let mut seen = HashMap::new();
    for k in &d.listed {
        *seen.entry(*k).or_insert(0) += 1;
        assert!(pick(k), "{k} listed but not selected");
        assert!(m.ever.borrow().contains(k), "{k} was never in the table");
    }
    let twice: Vec<_> = seen.iter().filter(|(_, &n)| n > 1).collect();
    assert!(twice.is_empty(), "listed twice: {twice:?}");
    let removed = m.removed.borrow();
    for k in at_start {
        if pick(k) && !removed.contains(k) {
            assert!(seen.contains_key(k), "{k} was there throughout, not listed");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Changes between and during calls: an uninterrupted dump is exact.
    #[test]
    fn uninterrupted_dumps_list_each_entry_once(
        buckets in 1usize..12,
        keys in vec(any::<usize>(), 0..80),
        rooms in vec(1usize..12, 1..4),
        between in vec(vec(change(), 0..4), 0..40),
        during in vec(change(), 0..20),
        even in any::<bool>(),
        skips in any::<bool>(),
    ) {
        let m = Model::new(buckets, &keys);
        m.skips.set(skips);
        *m.during.borrow_mut() = during.into();
        let at_start = m.keys();
        let pick = |k: &u32| !even || k.is_multiple_of(2);
        let d = dump(&m, &rooms, &between, pick);
        check(&m, &at_start, &d, pick);
    }

    /// Without changes a dump is never interrupted and lists the table.
    #[test]
    fn quiet_dumps_are_exact(
        buckets in 1usize..12,
        keys in vec(any::<usize>(), 0..80),
        rooms in vec(1usize..12, 1..4),
        skips in any::<bool>(),
    ) {
        let m = Model::new(buckets, &keys);
        m.skips.set(skips);
        let d = dump(&m, &rooms, &[], |_| true);
        prop_assert!(!d.interrupted);
        let mut listed = d.listed.clone();
        listed.sort_unstable();
        let mut want = m.keys();
        want.sort_unstable();
        prop_assert_eq!(listed, want);
    }

    /// Changes that leave every split bucket alone do not interrupt: with
    /// room for any bucket, a busy table's dump completes.
    #[test]
    fn buckets_that_fit_are_never_interrupted(
        buckets in 1usize..12,
        keys in vec(any::<usize>(), 0..40),
        between in vec(vec(change(), 0..4), 0..40),
        during in vec(change(), 0..20),
        skips in any::<bool>(),
    ) {
        let m = Model::new(buckets, &keys);
        m.skips.set(skips);
        *m.during.borrow_mut() = during.into();
        // Room for the largest bucket the changes can make.
        let room = keys.len() + 4 * 40 + 20 + 1;
        let d = dump(&m, &[room], &between, |_| true);
        prop_assert!(!d.interrupted);
    }
}

#[test]
fn a_split_bucket_that_changes_interrupts_the_dump() {
    // One bucket of 10, 3 a buffer: split; an insert after the first call.
    let m = Model::new(1, &[0; 10]);
    let d = dump(&m, &[3], &[vec![Change::Insert(0)]], |_| true);
    assert!(d.interrupted);
    // The same without the insert.
    let m = Model::new(1, &[0; 10]);
    let d = dump(&m, &[3], &[], |_| true);
    assert!(!d.interrupted);
    assert_eq!(d.listed.len(), 10);
    assert_eq!(d.calls, 4);
}

#[test]
fn a_bucket_that_does_not_fit_goes_whole_into_the_next_buffer() {
    // Buckets of 2 and 3 keys; room for 4: the second bucket is taken
    // back out of the first buffer.
    let m = Model::new(2, &[0, 0, 1, 1, 1]);
    let mut cursor = Cursor::new(m.generation());
    let mut prev_seq = 0;
    let mut buf = empty(4, &mut prev_seq);
    assert_eq!(cursor.step(&m, &mut buf, |_| true), Step::More);
    assert_eq!(buf.items.len(), 2);
    let mut buf = empty(4, &mut prev_seq);
    assert_eq!(cursor.step(&m, &mut buf, |_| true), Step::Done);
    assert_eq!(buf.items.len(), 3);
}

#[test]
fn an_entry_too_big_for_an_empty_buffer_is_an_error() {
    let m = Model::new(1, &[0]);
    let mut cursor = Cursor::new(m.generation());
    let mut prev_seq = 0;
    let mut buf = empty(0, &mut prev_seq);
    assert_eq!(cursor.step(&m, &mut buf, |_| true), Step::TooBig);
}
