// SPDX-License-Identifier: GPL-2.0

//! A netlink dump of a hash table, one message buffer per call, resumed
//! where the previous call stopped (what `conn-get` dumps the flow table
//! with).
//!
//! The table is read without a lock (RCU) while flows come and go, and a
//! dump of 100 000 connections takes many calls. The walk lists each entry
//! that is in the table from the dump's first call to its last exactly
//! once, without a snapshot: it goes bucket by bucket, an entry never
//! changes bucket, and a call ends between two buckets whenever it can (the
//! bucket that does not fit is taken back out of the buffer and sent whole
//! next time). An entry that comes or goes during the dump may or may not
//! be listed, as with any dump.
//!
//! Only a bucket larger than a whole buffer is split between calls, at a
//! count of its entries; if the table changed in between (its generation,
//! bumped on every insert and removal), the count may now skip or repeat an
//! entry. Then the dump's generation changes, and netlink marks the next
//! message `NLM_F_DUMP_INTR` (`nl_dump_check_consistent`): the reader knows
//! the listing may be inconsistent and can ask again. Changes that cannot
//! break the listing do not interrupt it, so that a dump of a busy table
//! completes.

/// A hash table to dump.
pub trait Table {
    /// What a bucket holds.
    type Item;

    /// Number of buckets.
    fn buckets(&self) -> usize;

    /// A counter that changes with every insert and removal (wrapping, but
    /// never 0: netlink takes 0 as "no generation").
    fn generation(&self) -> u32;

    /// Calls `f` on the entries of bucket `bucket` in order (an insert puts
    /// an entry first), until it returns `false`.
    fn walk(&self, bucket: usize, f: &mut dyn FnMut(&Self::Item) -> bool);

    /// The first bucket from `bucket` on that may hold an entry (one it
    /// skips held none when it looked), or [`Table::buckets`]: a dump of
    /// a large table with few entries need not visit every bucket.
    fn next_occupied(&self, bucket: usize) -> usize {
        bucket
    }
}

/// A message buffer of one call of the dump.
pub trait Sink<T> {
    /// A place in the buffer.
    type Mark: Copy;

    /// The generation that the next messages carry (see the module
    /// documentation).
    fn set_generation(&mut self, generation: u32);

    /// Where the buffer is now.
    fn mark(&self) -> Self::Mark;

    /// Whether nothing is before `mark` in this buffer.
    fn is_start(&self, mark: Self::Mark) -> bool;

    /// Takes out what was put after `mark`.
    fn trim(&mut self, mark: Self::Mark);

    /// Puts `item` as one message; `false` if it does not fit.
    fn put(&mut self, item: &T) -> bool;
}

/// What a call of [`Cursor::step`] left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The buffer is full: call again with a new one.
    More,
    /// The table was walked to its end.
    Done,
    /// One entry does not fit an empty buffer.
    TooBig,
}

/// Where a dump is between two calls.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    /// The next bucket to walk.
    bucket: u32,
    /// Entries of `bucket` already walked: non-zero only for a bucket split
    /// between calls.
    index: u32,
    /// The table's generation when `index` was counted.
    counted: u32,
    /// The generation the messages carry.
    epoch: u32,
}

impl Cursor {
    /// A dump of a table whose generation is `generation` now.
    pub fn new(generation: u32) -> Self {
        Self {
            bucket: 0,
            index: 0,
            counted: generation,
            epoch: generation,
        }
    }

    /// Puts the next entries that `pick` selects into `sink`, one message
    /// each, from where the previous call stopped.
    pub fn step<T, S>(&mut self, table: &T, sink: &mut S, pick: impl Fn(&T::Item) -> bool) -> Step
    where
        T: Table + ?Sized,
        S: Sink<T::Item>,
    {
        // Read before the walk: a change during it shows at the next call.
        let now = table.generation();
        if self.index > 0 && now != self.counted {
            self.epoch = now;
        }
        sink.set_generation(self.epoch);
        loop {
            if self.index == 0 {
                let next = table.next_occupied(self.bucket as usize);
                self.bucket = u32::try_from(next).unwrap_or(u32::MAX);
            }
            if self.bucket as usize >= table.buckets() {
                break;
            }
            let mark = sink.mark();
            let skip = self.index;
            let mut walked = 0u32;
            let mut put = false;
            let mut full = false;
            table.walk(self.bucket as usize, &mut |item| {
                if walked >= skip && pick(item) {
                    if !sink.put(item) {
                        full = true;
                        return false;
                    }
                    put = true;
                }
                walked = walked.saturating_add(1);
                true
            });
            if full {
                if !sink.is_start(mark) {
                    // Earlier buckets fill this buffer: this one goes
                    // whole into the next.
                    sink.trim(mark);
                } else if !put {
                    return Step::TooBig;
                } else {
                    self.index = walked;
                    self.counted = now;
                }
                return Step::More;
            }
            self.bucket = self.bucket.saturating_add(1);
            self.index = 0;
        }
        Step::Done
    }
}
