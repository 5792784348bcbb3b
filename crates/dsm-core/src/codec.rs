//! The canonical binary encoding: a strict subset of Protocol Buffers (proto3).
//!
//! Every protocol object has exactly one encoding, and it is the one a conforming proto3
//! encoder produces for the schema in `proto/dsm.proto` when it writes fields in ascending
//! field-number order (as deterministic serialisers do):
//!
//! * only wire types 0 (varint) and 2 (length-delimited) occur;
//! * fields appear in strictly ascending field-number order; a repeated field's elements
//!   are consecutive and in the object's order; no field appears twice otherwise;
//! * scalar fields (`uint64`, `uint32`, enums) equal to 0 and empty `bytes` are omitted —
//!   a present default value is *rejected*;
//! * varints are minimal (no redundant `0x80` continuation bytes);
//! * fixed-size `bytes` (digests: 32, amounts: 16) have exactly that length;
//! * sub-messages are always written when set, even when empty;
//! * no unknown fields and no trailing bytes.
//!
//! Decoding enforces every rule, and [`Canonical::from_bytes`] additionally re-encodes the
//! result and compares, so any accepted byte string is the unique encoding of its value.
//! The size cap of the top-level type is checked before a single byte is parsed.

use thiserror::Error;

/// Why bytes were refused by the canonical decoder. The decoder never panics.
#[derive(Debug, Clone, PartialEq, Eq, Error, Hash)]
pub enum DecodeError {
    /// The input is longer than the type's cap; nothing was parsed.
    #[error("input is {len} bytes, over the {max}-byte cap for this object")]
    TooLarge {
        /// Input length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// The input ended inside a value.
    #[error("input ends in the middle of a value")]
    Truncated,
    /// A varint used more bytes than needed or overflowed 64 bits.
    #[error("non-minimal or overlong varint")]
    NonMinimalVarint,
    /// A field key with number 0, an unsupported wire type, or a wire type that does not
    /// match the schema.
    #[error("field {field}: wire type {wire_type} is not allowed here")]
    WireType {
        /// Field number.
        field: u32,
        /// Wire type seen.
        wire_type: u8,
    },
    /// A field that the schema does not have at this position: unknown, duplicated, or out
    /// of ascending order.
    #[error("unexpected field {field} (unknown, repeated or out of order)")]
    UnexpectedField {
        /// Field number seen.
        field: u32,
    },
    /// A field with a default value (0 or empty) was written; canonical encoders omit it.
    #[error("field {field} carries its default value and must be omitted")]
    DefaultPresent {
        /// Field number.
        field: u32,
    },
    /// A required field (fixed-size bytes or a sub-message) is missing.
    #[error("required field {field} is missing")]
    Missing {
        /// Field number.
        field: u32,
    },
    /// A fixed-length field had the wrong length, or a bounded field was too long.
    #[error("field {field} has length {len}, expected {expected}")]
    Length {
        /// Field number.
        field: u32,
        /// Length seen.
        len: usize,
        /// What the schema requires (exact length, or the maximum).
        expected: usize,
    },
    /// A repeated field had more elements than allowed.
    #[error("field {field} has more than {max} elements")]
    TooMany {
        /// Field number.
        field: u32,
        /// The cap.
        max: usize,
    },
    /// A value is outside its domain (unknown enum value, unsorted list, zero amount, …).
    #[error("invalid value: {0}")]
    Invalid(&'static str),
    /// The decoded value re-encodes to different bytes. Unreachable if the decoder is
    /// correct; kept as a second line of defence.
    #[error("bytes are not the canonical encoding of the value they decode to")]
    NotCanonical,
}

const WT_VARINT: u8 = 0;
const WT_LEN: u8 = 2;

/// Appends canonical encodings. Field methods skip default values as the rules require.
///
/// A sub-message is written in place: its length is counted first by a writer that only
/// counts (a walk over the fields, no bytes copied), so nested messages are never encoded
/// into a buffer of their own and copied out again at every level. [`Canonical::to_bytes`]
/// counts once for the whole tree — the counting pass records every sub-message's length
/// in the order the writing pass meets them — so encoding costs two walks at any depth.
#[derive(Default)]
pub struct Writer {
    buf: Vec<u8>,
    /// Only count: `len` grows, `buf` stays empty.
    counting: bool,
    len: usize,
    /// Sub-message lengths in pre-order: recorded while counting, read back while writing.
    lens: Vec<usize>,
    /// The next recorded length to read back.
    next_len: usize,
    /// Whether `lens` holds a counting pass of exactly what is being written.
    recorded: bool,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// A writer that only counts the bytes it would write.
    fn counter() -> Self {
        Writer {
            counting: true,
            ..Self::default()
        }
    }

    /// The length of `m`'s canonical encoding, without encoding it.
    pub fn encoded_len<T: Canonical>(m: &T) -> usize {
        let mut c = Writer::counter();
        m.encode(&mut c);
        c.len
    }

    /// `m`'s canonical encoding: one counting pass that records every sub-message's length,
    /// then one writing pass into a buffer of exactly the right size.
    fn encode_whole<T: Canonical>(m: &T) -> Vec<u8> {
        let mut c = Writer::counter();
        m.encode(&mut c);
        let mut w = Writer {
            buf: Vec::with_capacity(c.len),
            lens: c.lens,
            recorded: true,
            ..Self::default()
        };
        m.encode(&mut w);
        debug_assert_eq!(w.next_len, w.lens.len());
        w.buf
    }

    /// The bytes written so far.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    fn put(&mut self, b: &[u8]) {
        if self.counting {
            self.len += b.len();
        } else {
            self.buf.extend_from_slice(b);
        }
    }

    fn varint(&mut self, mut v: u64) {
        if self.counting {
            // 7 bits per byte, at least one byte.
            self.len += (64 - (v | 1).leading_zeros() as usize).div_ceil(7);
            return;
        }
        let mut tmp = [0u8; 10];
        let mut n = 0;
        while v >= 0x80 {
            tmp[n] = (v as u8) | 0x80;
            v >>= 7;
            n += 1;
        }
        tmp[n] = v as u8;
        self.put(&tmp[..=n]);
    }

    fn key(&mut self, field: u32, wt: u8) {
        self.varint(u64::from(field) << 3 | u64::from(wt));
    }

    /// A `uint64`/`uint32`/enum field; omitted when 0.
    pub fn uint(&mut self, field: u32, v: u64) {
        if v != 0 {
            self.key(field, WT_VARINT);
            self.varint(v);
        }
    }

    /// A `bytes` field; omitted when empty.
    pub fn bytes(&mut self, field: u32, b: &[u8]) {
        if !b.is_empty() {
            self.key(field, WT_LEN);
            self.varint(b.len() as u64);
            self.put(b);
        }
    }

    /// A sub-message field; always written.
    pub fn message<T: Canonical>(&mut self, field: u32, m: &T) {
        if self.counting {
            // Counted in place, its length recorded for the writing pass.
            let slot = self.lens.len();
            self.lens.push(0);
            let start = self.len;
            m.encode(self);
            let len = self.len - start;
            self.lens[slot] = len;
            self.key(field, WT_LEN);
            self.varint(len as u64);
            return;
        }
        let len = match self.lens.get(self.next_len) {
            Some(&len) if self.recorded => {
                self.next_len += 1;
                len
            }
            // A writer used without a counting pass (`Writer::new`): count this one.
            _ => Self::encoded_len(m),
        };
        self.key(field, WT_LEN);
        self.varint(len as u64);
        m.encode(self);
    }

    /// An optional sub-message field; written only when present.
    pub fn optional_message<T: Canonical>(&mut self, field: u32, m: Option<&T>) {
        if let Some(m) = m {
            self.message(field, m);
        }
    }

    /// A repeated sub-message field, in order.
    pub fn repeated_message<T: Canonical>(&mut self, field: u32, ms: &[T]) {
        for m in ms {
            self.message(field, m);
        }
    }

    /// A repeated `bytes` field whose elements are never empty, in order.
    pub fn repeated_bytes<B: AsRef<[u8]>>(&mut self, field: u32, items: &[B]) {
        for b in items {
            let b = b.as_ref();
            self.key(field, WT_LEN);
            self.varint(b.len() as u64);
            self.put(b);
        }
    }
}

/// Reads one message strictly, field by field in ascending order.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader over the whole of `buf`, which must be consumed exactly.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn read_varint_at(&self, mut pos: usize) -> Result<(u64, usize), DecodeError> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = *self.buf.get(pos).ok_or(DecodeError::Truncated)?;
            pos += 1;
            let chunk = u64::from(b & 0x7f);
            if i == 9 && b > 1 {
                return Err(DecodeError::NonMinimalVarint);
            }
            v |= chunk << (7 * i);
            if b & 0x80 == 0 {
                if b == 0 && i > 0 {
                    return Err(DecodeError::NonMinimalVarint);
                }
                return Ok((v, pos));
            }
        }
        Err(DecodeError::NonMinimalVarint)
    }

    /// Peeks the next key: `(field, wire type, position after the key)`.
    fn peek_key(&self) -> Result<Option<(u32, u8, usize)>, DecodeError> {
        if self.pos == self.buf.len() {
            return Ok(None);
        }
        let (k, after) = self.read_varint_at(self.pos)?;
        let field =
            u32::try_from(k >> 3).map_err(|_| DecodeError::UnexpectedField { field: u32::MAX })?;
        let wt = (k & 7) as u8;
        if field == 0 || (wt != WT_VARINT && wt != WT_LEN) {
            return Err(DecodeError::WireType {
                field,
                wire_type: wt,
            });
        }
        Ok(Some((field, wt, after)))
    }

    /// Consumes the key of `field` if it is next; checks its wire type.
    fn take_key(&mut self, field: u32, wt: u8) -> Result<bool, DecodeError> {
        match self.peek_key()? {
            Some((f, w, after)) if f == field => {
                if w != wt {
                    return Err(DecodeError::WireType {
                        field,
                        wire_type: w,
                    });
                }
                self.pos = after;
                Ok(true)
            }
            // A field number below the one being read was already passed: the field is
            // duplicated or out of order (or unknown and misplaced).
            Some((f, _, _)) if f < field => Err(DecodeError::UnexpectedField { field: f }),
            _ => Ok(false),
        }
    }

    fn take_len_delimited(&mut self) -> Result<&'a [u8], DecodeError> {
        let (len, after) = self.read_varint_at(self.pos)?;
        let len = usize::try_from(len).map_err(|_| DecodeError::Truncated)?;
        let end = after.checked_add(len).ok_or(DecodeError::Truncated)?;
        if end > self.buf.len() {
            return Err(DecodeError::Truncated);
        }
        self.pos = end;
        Ok(&self.buf[after..end])
    }

    /// A `uint64`-style field; absent means 0, a present 0 is refused.
    pub fn uint(&mut self, field: u32) -> Result<u64, DecodeError> {
        if !self.take_key(field, WT_VARINT)? {
            return Ok(0);
        }
        let (v, after) = self.read_varint_at(self.pos)?;
        self.pos = after;
        if v == 0 {
            return Err(DecodeError::DefaultPresent { field });
        }
        Ok(v)
    }

    /// A `uint32`-style field (also enums) with an upper bound.
    pub fn uint_max(&mut self, field: u32, max: u64) -> Result<u64, DecodeError> {
        let v = self.uint(field)?;
        if v > max {
            return Err(DecodeError::Invalid("integer field out of range"));
        }
        Ok(v)
    }

    /// A `bytes` field of at most `max` bytes; absent means empty, a present empty value is
    /// refused.
    pub fn bytes(&mut self, field: u32, max: usize) -> Result<&'a [u8], DecodeError> {
        if !self.take_key(field, WT_LEN)? {
            return Ok(&[]);
        }
        let b = self.take_len_delimited()?;
        if b.is_empty() {
            return Err(DecodeError::DefaultPresent { field });
        }
        if b.len() > max {
            return Err(DecodeError::Length {
                field,
                len: b.len(),
                expected: max,
            });
        }
        Ok(b)
    }

    /// A required fixed-length `bytes` field.
    pub fn fixed<const N: usize>(&mut self, field: u32) -> Result<[u8; N], DecodeError> {
        if !self.take_key(field, WT_LEN)? {
            return Err(DecodeError::Missing { field });
        }
        let b = self.take_len_delimited()?;
        <[u8; N]>::try_from(b).map_err(|_| DecodeError::Length {
            field,
            len: b.len(),
            expected: N,
        })
    }

    /// An optional fixed-length `bytes` field: absent is `None`; present, it has exactly
    /// `N` bytes.
    pub fn optional_fixed<const N: usize>(
        &mut self,
        field: u32,
    ) -> Result<Option<[u8; N]>, DecodeError> {
        match self.bytes(field, N)? {
            [] => Ok(None),
            b => <[u8; N]>::try_from(b)
                .map(Some)
                .map_err(|_| DecodeError::Length {
                    field,
                    len: b.len(),
                    expected: N,
                }),
        }
    }

    /// A required sub-message.
    pub fn message<T: Canonical>(&mut self, field: u32) -> Result<T, DecodeError> {
        self.optional_message(field)?
            .ok_or(DecodeError::Missing { field })
    }

    /// An optional sub-message.
    pub fn optional_message<T: Canonical>(&mut self, field: u32) -> Result<Option<T>, DecodeError> {
        if !self.take_key(field, WT_LEN)? {
            return Ok(None);
        }
        let inner = self.take_len_delimited()?;
        let mut r = Reader::new(inner);
        let v = T::decode(&mut r)?;
        r.finish()?;
        Ok(Some(v))
    }

    /// A repeated sub-message field of at most `max` elements.
    pub fn repeated_message<T: Canonical>(
        &mut self,
        field: u32,
        max: usize,
    ) -> Result<Vec<T>, DecodeError> {
        let mut out = Vec::new();
        while let Some(m) = self.optional_message(field)? {
            if out.len() == max {
                return Err(DecodeError::TooMany { field, max });
            }
            out.push(m);
        }
        Ok(out)
    }

    /// A repeated `bytes` field of at most `max` elements, each at most `max_len` bytes.
    pub fn repeated_bytes(
        &mut self,
        field: u32,
        max: usize,
        max_len: usize,
    ) -> Result<Vec<&'a [u8]>, DecodeError> {
        let mut out = Vec::new();
        while self.take_key(field, WT_LEN)? {
            if out.len() == max {
                return Err(DecodeError::TooMany { field, max });
            }
            let b = self.take_len_delimited()?;
            if b.is_empty() {
                return Err(DecodeError::DefaultPresent { field });
            }
            if b.len() > max_len {
                return Err(DecodeError::Length {
                    field,
                    len: b.len(),
                    expected: max_len,
                });
            }
            out.push(b);
        }
        Ok(out)
    }

    /// A repeated `bytes` field of content-addressed objects (at most `max`, each at most
    /// `max_len` bytes) that must be strictly ascending bytewise — each object once, in one
    /// order, so the message has one encoding; `refusal` says which message broke it.
    pub fn ascending_objects(
        &mut self,
        field: u32,
        max: usize,
        max_len: usize,
        refusal: &'static str,
    ) -> Result<Vec<Vec<u8>>, DecodeError> {
        let objects: Vec<Vec<u8>> = self
            .repeated_bytes(field, max, max_len)?
            .into_iter()
            .map(<[u8]>::to_vec)
            .collect();
        if !objects.windows(2).all(|w| w[0] < w[1]) {
            return Err(DecodeError::Invalid(refusal));
        }
        Ok(objects)
    }

    /// A repeated fixed-length `bytes` field of at most `max` elements.
    pub fn repeated_fixed<const N: usize>(
        &mut self,
        field: u32,
        max: usize,
    ) -> Result<Vec<[u8; N]>, DecodeError> {
        let mut out = Vec::new();
        while self.take_key(field, WT_LEN)? {
            if out.len() == max {
                return Err(DecodeError::TooMany { field, max });
            }
            let b = self.take_len_delimited()?;
            out.push(<[u8; N]>::try_from(b).map_err(|_| DecodeError::Length {
                field,
                len: b.len(),
                expected: N,
            })?);
        }
        Ok(out)
    }

    /// Everything not read yet, consumed at once: for types that parse their own nested
    /// structure with an explicit depth budget.
    pub fn remaining(&mut self) -> &'a [u8] {
        let rest = &self.buf[self.pos..];
        self.pos = self.buf.len();
        rest
    }

    /// Requires that every byte was consumed: anything left is an unknown, duplicated or
    /// out-of-order field (or garbage).
    pub fn finish(&self) -> Result<(), DecodeError> {
        match self.peek_key()? {
            None => Ok(()),
            Some((field, _, _)) => Err(DecodeError::UnexpectedField { field }),
        }
    }
}

/// A protocol object with one canonical encoding.
pub trait Canonical: Sized {
    /// The largest encoding accepted by [`Canonical::from_bytes`]; checked before parsing.
    const MAX_ENCODED_LEN: usize;

    /// Writes this value's fields.
    fn encode(&self, w: &mut Writer);

    /// Reads this value's fields (the caller checks the reader is exhausted).
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError>;

    /// The canonical bytes.
    fn to_bytes(&self) -> Vec<u8> {
        Writer::encode_whole(self)
    }

    /// Strictly decodes canonical bytes: size cap first, then every rule of the module
    /// docs, then a re-encoding check.
    fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        if bytes.len() > Self::MAX_ENCODED_LEN {
            return Err(DecodeError::TooLarge {
                len: bytes.len(),
                max: Self::MAX_ENCODED_LEN,
            });
        }
        let mut r = Reader::new(bytes);
        let v = Self::decode(&mut r)?;
        r.finish()?;
        if v.to_bytes() != bytes {
            return Err(DecodeError::NotCanonical);
        }
        Ok(v)
    }
}
