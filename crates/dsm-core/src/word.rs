//! Enums a store keeps as one word per variant (a recovery step, a settlement, a notice
//! status): the word table is written once, with the enum, and read back strictly.

/// An enum with one stored word per variant.
pub trait Word: Sized + Copy + 'static {
    /// What one is called in an error ("a notice status").
    const WHAT: &'static str;
    /// Every variant.
    const ALL: &'static [Self];
    /// Its word.
    fn word(self) -> &'static str;
    /// The variant a stored word names, or `None` for any other text.
    fn from_word(word: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.word() == word)
    }
}
