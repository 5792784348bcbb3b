//! An independent, permissive wire tokenizer for tests that build mutated encodings
//! (`codec.rs`, `reject.rs`): it knows varints and wire types 0 and 2, nothing of the
//! schema, and shares no code with `dsm_core::codec`.
#![allow(dead_code)]

pub fn varint(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
    out
}

/// The same value with one redundant continuation byte (`… | 0x80, 0x00`).
pub fn non_minimal(v: &[u8]) -> Vec<u8> {
    let mut v = v.to_vec();
    *v.last_mut().unwrap() |= 0x80;
    v.push(0x00);
    v
}

pub fn read_varint(b: &[u8]) -> (u64, usize) {
    let mut v = 0u64;
    for (i, x) in b.iter().enumerate() {
        v |= u64::from(x & 0x7f) << (7 * i);
        if x & 0x80 == 0 {
            return (v, i + 1);
        }
    }
    panic!("test tokenizer: unterminated varint");
}

/// One encoded field as raw pieces: key bytes, length bytes (wire type 2 only) and body
/// (the payload, or the value varint for wire type 0). Serialised as `key ‖ len ‖ body`.
#[derive(Clone, Debug, PartialEq)]
pub struct F {
    pub key: Vec<u8>,
    pub len: Option<Vec<u8>>,
    pub body: Vec<u8>,
}

impl F {
    pub fn bytes(field: u32, body: &[u8]) -> F {
        F {
            key: varint(u64::from(field) << 3 | 2),
            len: Some(varint(body.len() as u64)),
            body: body.to_vec(),
        }
    }
    pub fn uint(field: u32, v: u64) -> F {
        F {
            key: varint(u64::from(field) << 3),
            len: None,
            body: varint(v),
        }
    }
    pub fn field(&self) -> u32 {
        (read_varint(&self.key).0 >> 3) as u32
    }
    pub fn wire_type(&self) -> u8 {
        (read_varint(&self.key).0 & 7) as u8
    }
    pub fn set_body(&mut self, body: Vec<u8>) {
        self.len = Some(varint(body.len() as u64));
        self.body = body;
    }
    pub fn with_key(&self, field: u64, wt: u8) -> F {
        F {
            key: varint(field << 3 | u64::from(wt)),
            ..self.clone()
        }
    }
}

/// Splits a (valid) encoding into its top-level fields.
pub fn parse(b: &[u8]) -> Vec<F> {
    let mut out = Vec::new();
    let mut p = 0;
    while p < b.len() {
        let (k, n) = read_varint(&b[p..]);
        let key = b[p..p + n].to_vec();
        p += n;
        match k & 7 {
            0 => {
                let (_, m) = read_varint(&b[p..]);
                out.push(F {
                    key,
                    len: None,
                    body: b[p..p + m].to_vec(),
                });
                p += m;
            }
            2 => {
                let (l, m) = read_varint(&b[p..]);
                let len = b[p..p + m].to_vec();
                p += m;
                let body = b[p..p + l as usize].to_vec();
                p += l as usize;
                out.push(F {
                    key,
                    len: Some(len),
                    body,
                });
            }
            wt => panic!("test tokenizer: wire type {wt}"),
        }
    }
    out
}

pub fn ser(fs: &[F]) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fs {
        out.extend_from_slice(&f.key);
        if let Some(l) = &f.len {
            out.extend_from_slice(l);
        }
        out.extend_from_slice(&f.body);
    }
    out
}
