//! Decoders of peer input never panic: arbitrary bytes, and mutations of a valid message.

use dsm_core::codec::Canonical;
use dsm_core::hash::Digest;
use dsm_protocol::message::{Close, Refusal, RefusalCode, SessionMessage};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn session_message_from_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = SessionMessage::from_bytes(&bytes);
    }

    #[test]
    fn session_message_from_mutated_refusal(i in 0usize..40, v in any::<u8>()) {
        let mut b = SessionMessage::Refusal(Refusal { proposal_commit: Digest([5; 32]), code: RefusalCode::Invalid }).to_bytes();
        let k = i % b.len();
        b[k] = v;
        if let Ok(m) = SessionMessage::from_bytes(&b) {
            prop_assert_eq!(m.to_bytes(), b, "accepted bytes are canonical");
        }
    }
}

#[test]
fn close_is_two_bytes() {
    assert_eq!(SessionMessage::Close(Close).to_bytes(), vec![0x2a, 0x00]);
}
