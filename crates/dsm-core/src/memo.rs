//! A few recent answers of a pure, costly function, kept per thread: a session asks for the
//! same device ids and proposal digests many times over. Each entry is compared with the
//! whole input, never a fingerprint of it, so a memoized answer is exactly the computed one.

/// The last [`Recent::SLOTS`] (input, answer) pairs, replaced round-robin.
pub(crate) struct Recent<K, V> {
    next: usize,
    slots: Vec<(K, V)>,
}

impl<K, V: Copy> Recent<K, V> {
    /// How many answers are kept.
    pub(crate) const SLOTS: usize = 8;

    /// An empty memo.
    pub(crate) const fn new() -> Self {
        Recent {
            next: 0,
            slots: Vec::new(),
        }
    }

    /// The answer for the input `is` recognises, or `compute`'s, kept with `key()`. `is`
    /// must compare the whole input.
    pub(crate) fn get(
        &mut self,
        is: impl Fn(&K) -> bool,
        key: impl FnOnce() -> K,
        compute: impl FnOnce() -> V,
    ) -> V {
        if let Some((_, v)) = self.slots.iter().find(|(k, _)| is(k)) {
            return *v;
        }
        let v = compute();
        if self.slots.len() < Self::SLOTS {
            self.slots.push((key(), v));
        } else {
            self.slots[self.next] = (key(), v);
        }
        self.next = (self.next + 1) % Self::SLOTS;
        v
    }
}
