//! Test support for the conformance-vector files (`crates/*/tests/vectors/*.txt`): one
//! format, one comparison, one schema check, shared by dsm-core, dsm-token and
//! dsm-recovery's tests.
//!
//! A vector file is a `#` header line, then one vector per line:
//! `name <TAB> proto message type or "-" <TAB> hex`.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use prost::Message;
use prost_reflect::{DescriptorPool, DynamicMessage};

/// One vector: name, proto message type (or `-` for a digest or raw bytes), hex.
pub type Vector = (String, &'static str, String);

/// The file text: `header` (one line, without the `#`), then the vectors.
pub fn render(header: &str, vectors: &[Vector]) -> String {
    let mut out = format!("# {header}\n");
    for (n, t, h) in vectors {
        out.push_str(&format!("{n}\t{t}\t{h}\n"));
    }
    out
}

/// Asserts that the file at `path` holds exactly `text`, line by line. With
/// `DSM_WRITE_VECTORS` set, writes `text` first (after a deliberate, versioned change) —
/// never under CI (`CI` set), where that would compare the file with itself.
pub fn check_file(path: &str, text: &str) {
    if std::env::var_os("DSM_WRITE_VECTORS").is_some() {
        assert!(
            std::env::var_os("CI").is_none(),
            "DSM_WRITE_VECTORS is refused under CI: it would compare the vectors with themselves"
        );
        std::fs::write(path, text).unwrap();
    }
    let file =
        std::fs::read_to_string(path).expect("vector file (generate with DSM_WRITE_VECTORS=1)");
    for (a, b) in file.lines().zip(text.lines()) {
        assert_eq!(a, b, "vector differs");
    }
    assert_eq!(file.lines().count(), text.lines().count());
}

/// The published schema, `proto/dsm.proto`, compiled by protox.
pub fn schema() -> DescriptorPool {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../proto");
    let fds = protox::compile(["dsm.proto"], [root]).expect("proto/dsm.proto compiles");
    DescriptorPool::from_file_descriptor_set(fds).unwrap()
}

/// Every message vector of the file at `path` decodes under its schema type with no
/// unknown field and re-encodes to the identical bytes. Returns how many were checked.
pub fn round_trip_file(path: &str) -> usize {
    let pool = schema();
    let file = std::fs::read_to_string(path).unwrap();
    let mut checked = 0;
    for line in file.lines().filter(|l| !l.starts_with('#')) {
        let mut it = line.split('\t');
        let (name, ty, hexs) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
        if ty == "-" {
            continue;
        }
        let desc = pool
            .get_message_by_name(ty)
            .unwrap_or_else(|| panic!("{name}: {ty} not in schema"));
        let bytes = hex::decode(hexs).unwrap();
        let msg = DynamicMessage::decode(desc, bytes.as_slice())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            msg.unknown_fields().next().is_none(),
            "{name}: schema lacks a field we encode"
        );
        assert_eq!(
            msg.encode_to_vec(),
            bytes,
            "{name}: schema re-encoding differs"
        );
        checked += 1;
    }
    checked
}
