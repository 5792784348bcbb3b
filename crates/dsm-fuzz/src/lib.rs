//! Fuzz targets: each takes arbitrary bytes, runs one decoder or verifier that faces input
//! from outside, and panics only if a property is broken (a decoder accepts bytes that do
//! not re-encode to themselves, a verifier panics, a bound is exceeded). The libFuzzer
//! harness in `fuzz/` calls these; `tests/smoke.rs` runs every target over its committed
//! seed corpus and a few thousand deterministic mutations in `cargo test`.
#![forbid(unsafe_code)]

use dsm_core::codec::Canonical;
use dsm_core::receipt::{verify_proposal_bytes, verify_receipt_bytes, EmptyView};
use dsm_core::tripwire::{EquivocationProof, Statement};
use dsm_protocol::message::SessionMessage;
use std::time::Duration;

/// Decodes strictly; anything accepted must re-encode to exactly the input (one encoding
/// per value) and stay under the type's size cap.
fn canonical<T: Canonical>(data: &[u8]) {
    if let Ok(v) = T::from_bytes(data) {
        let again = v.to_bytes();
        assert_eq!(again, data, "accepted bytes are not the canonical encoding");
        assert!(again.len() <= T::MAX_ENCODED_LEN);
    }
}

/// A session message from the wire (also every b0x item).
pub fn session_message(data: &[u8]) {
    canonical::<SessionMessage>(data);
    // A b0x item sealed to its recipient (PROTOCOL.md §16.3): strict decoding, and opening
    // with a fixed key never panics.
    canonical::<dsm_protocol::mailbox::SealedItem>(data);
    if let Ok(s) = dsm_protocol::mailbox::SealedItem::from_bytes(data) {
        let (_, sk) = dsm_core::crypto::KemSecretKey::from_seeds(&[1; 32], &[2; 32]);
        let _ = dsm_protocol::mailbox::open_item(
            &sk,
            &dsm_core::identity::DeviceId(dsm_core::hash::Digest([3; 32])),
            &s,
        );
    }
    // What a sealed item opens to (PROTOCOL.md §16.1): an envelope with its reply-to;
    // checking a reply-to never panics.
    canonical::<dsm_protocol::mailbox::Envelope>(data);
    canonical::<dsm_protocol::mailbox::ReplyTo>(data);
    if let Ok(r) = dsm_protocol::mailbox::ReplyTo::from_bytes(data) {
        let _ = r.verify(&dsm_core::identity::DeviceId(dsm_core::hash::Digest(
            [3; 32],
        )));
    }
}

/// A receipt through the whole acceptance predicate.
pub fn receipt(data: &[u8]) {
    canonical::<dsm_core::receipt::Receipt>(data);
    let _ = verify_receipt_bytes(data, &EmptyView);
}

/// A signed proposal through the sender-side checks.
pub fn proposal(data: &[u8]) {
    canonical::<dsm_core::receipt::SignedProposal>(data);
    let _ = verify_proposal_bytes(data, &EmptyView);
}

/// An equivocation proof (as published at storage nodes and imported from files).
pub fn equivocation_proof(data: &[u8]) {
    canonical::<EquivocationProof>(data);
    if let Ok((proof, what)) = EquivocationProof::verify_bytes(data) {
        assert_eq!(proof.to_bytes(), data);
        let _ = what.device();
    }
    canonical::<Statement>(data);
    // Parcel evidence and lineage hops (PROTOCOL.md §5.6): strict decoding, and the
    // stateless verifier never panics.
    canonical::<dsm_core::parcel::ParcelFork>(data);
    canonical::<dsm_core::parcel::Hop>(data);
    canonical::<dsm_core::parcel::ParcelStatement>(data);
    canonical::<dsm_core::parcel::LineageManifest>(data);
    if let Ok(f) = dsm_core::parcel::ParcelFork::from_bytes(data) {
        let _ = f.verify();
    }
}

/// Identities, heads, steps and tree proofs (contact cards, stored state, vectors).
pub fn core_objects(data: &[u8]) {
    canonical::<dsm_core::identity::GenesisRecord>(data);
    canonical::<dsm_core::identity::DeviceIdentity>(data);
    canonical::<dsm_core::chain::DeviceHead>(data);
    canonical::<dsm_core::chain::RelationshipStep>(data);
    canonical::<dsm_core::smt::SmtProof>(data);
    // The hex ids in storage-node paths (the node parses nothing else it is sent).
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(d) = dsm_core::hash::Digest::from_hex(text) {
            assert_eq!(d.to_hex(), text.to_ascii_lowercase());
        }
    }
}

/// Transport frames: the frame decoder and the stream reader agree and respect the cap.
pub fn frame(data: &[u8]) {
    let a = dsm_transport::decode_frame(data);
    let b = dsm_transport::read_frame(&mut &data[..]);
    if let Ok(p) = &a {
        assert!(p.len() <= dsm_transport::MAX_FRAME_LEN);
        assert_eq!(
            b.as_ref().ok(),
            Some(p),
            "decode_frame and read_frame disagree"
        );
    }
}

/// Chunk packets (BLE-, NFC-style and serial links): the input is a sequence of packets
/// `u8 len ‖ bytes`, fed to a listening chunked link; whatever it delivers stays within
/// the frame cap and the link never panics.
pub fn chunk_packets(data: &[u8]) {
    use dsm_transport::chunked::{ChunkOptions, ChunkedLink};
    use dsm_transport::packet::memory_packets;
    let (x, _y) = memory_packets(255);
    let opts = ChunkOptions {
        rto: Duration::from_millis(1),
        window: 8,
        timeout: Duration::from_millis(1),
        linger: Duration::ZERO,
    };
    let Ok(mut link) = ChunkedLink::accept(x, opts) else {
        return;
    };
    let mut rest = data;
    while let Some((&n, tail)) = rest.split_first() {
        let n = usize::from(n).min(tail.len());
        link.feed(&tail[..n]);
        rest = &tail[n..];
        while let Some(m) = link.take_delivered() {
            assert!(m.len() <= dsm_transport::MAX_FRAME_LEN);
        }
    }
}

/// COBS blocks and APDUs.
pub fn cobs_and_apdu(data: &[u8]) {
    if let Some(d) = dsm_transport::packet::cobs_decode(data) {
        let mut again = Vec::new();
        dsm_transport::packet::cobs_encode(&d, &mut again);
        assert!(again.len() <= data.len() + 2);
    }
    if let Some(d) = dsm_transport::apdu::parse_command(data) {
        assert!(d.len() <= dsm_transport::apdu::APDU_MTU);
        assert_eq!(dsm_transport::apdu::command(d), data);
    }
    if let Some(d) = dsm_transport::apdu::parse_response(data) {
        assert!(d.len() <= dsm_transport::apdu::APDU_MTU);
    }
}

/// QR packets into a fountain decoder, and arbitrary bytes as a PNG image.
pub fn qr(data: &[u8]) {
    if let Ok(h) = dsm_qr::PacketHeader::parse(data) {
        let mut d = dsm_qr::MessageDecoder::new(h.session, h.direction, h.seq);
        if let Ok(Some(m)) = d.push(data) {
            assert_eq!(m.len(), h.message_len as usize);
        }
    }
    let _ = dsm_qr::decode_png(data);
}

/// A storage node's b0x or evidence listing, as the wallet parses it.
pub fn node_listing(data: &[u8]) {
    for with_device in [false, true] {
        if let Some(items) = dsm_wallet::nodes::parse_listing(data, with_device) {
            let total: usize = items.iter().map(|(_, _, b)| b.len()).sum();
            assert!(total <= data.len());
        }
    }
    // A b0x listing of three addresses (PROTOCOL.md §15): items name only those, in order.
    let entries: Vec<dsm_core::slot::B0xCursor> = (0..3u8)
        .map(|i| dsm_core::slot::B0xCursor {
            blind: (i > 0).then_some(dsm_core::hash::Digest([i; 32])),
            cursor: u64::from(i),
        })
        .collect();
    if let Some((complete, items)) = dsm_wallet::nodes::parse_b0x_listing(data, &entries) {
        assert!(complete <= entries.len());
        assert!(items
            .iter()
            .all(|(i, seq, _)| *i <= complete && *i < 3 && *seq > 0));
        assert!(items
            .windows(2)
            .all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1)));
    }
}

/// A token policy document's policy bytes (imported from files and storage nodes).
pub fn token_policy(data: &[u8]) {
    canonical::<dsm_token::TokenPolicy>(data);
    if let Ok(p) = dsm_token::TokenPolicy::from_bytes(data) {
        assert!(
            p.validate().is_ok(),
            "the decoder accepted an invalid policy"
        );
        let _ = p.token_id();
    }
}

/// The source proof of an ALLOCATION or BURN head, checked against a head pair.
pub fn source_proof(data: &[u8]) {
    canonical::<dsm_token::source::SourceProof>(data);
    canonical::<dsm_token::authority::SignedMint>(data);
    canonical::<dsm_token::authority::MintConflict>(data);
    canonical::<dsm_token::reissue::ReissueStatement>(data);
    canonical::<dsm_token::reissue::ReissueRequest>(data);
    canonical::<dsm_token::reissue::ReissueRecord>(data);
    if let Ok(r) = dsm_token::reissue::ReissueRequest::from_bytes(data) {
        // A refresher's first step on a request: total, a statement or a typed refusal.
        let _ = dsm_token::reissue::statement_for(&r.token, &r.burn);
    }
    if let Ok(p) = dsm_token::source::SourceProof::from_bytes(data) {
        // Total on every decoded proof: a once-key or a typed refusal, never a panic.
        let _ = p.once_key();
        if let dsm_token::source::Source::Reissue(r) = &p.source {
            let _ = dsm_token::reissue::statement_for(&r.signed.statement.token, &r.burn.statement);
        }
        let parent = dsm_core::chain::DeviceHead::initial(
            dsm_core::identity::DeviceId(dsm_core::hash::Digest([1; 32])),
            &dsm_core::identity::GenesisDigest(dsm_core::hash::Digest([2; 32])),
        );
        if let Ok(child) =
            parent.allocation_child(&p.token(), dsm_core::chain::Amount(1), p.cause())
        {
            let rules = dsm_token::source::TokenRules::new();
            assert!(
                rules.check_source(&parent, &child, &p).is_err(),
                "no policy is known"
            );
        }
    }
}

/// A DJTE emission step (read from storage-node slots), verified against a vault.
pub fn emission_step(data: &[u8]) {
    canonical::<dsm_token::djte::EmissionStep>(data);
    canonical::<dsm_token::djte::EmissionState>(data);
    if let Ok(step) = dsm_token::djte::EmissionStep::from_bytes(data) {
        let policy = dsm_token::era::era_policy(dsm_token::policy::JoinGate {
            operators: vec![dsm_core::identity::DeviceId(dsm_core::hash::Digest(
                [3; 32],
            ))],
            k: 1,
            fee_token: dsm_core::chain::TokenId(dsm_core::hash::Digest([4; 32])),
            fee: dsm_core::chain::Amount(1),
        });
        let state = dsm_token::djte::EmissionState::genesis(&policy).expect("ERA has emissions");
        let _ = dsm_token::djte::verify_step(&policy, &state, &step, true);
        let _ = dsm_token::djte::verify_step(&policy, &state, &step, false);
    }
}

/// Vault objects (imported from files and storage-node slots): strict decoding with bounded
/// nesting, and the resolution and conflict checks never panic.
pub fn vault(data: &[u8]) {
    use dsm_token::vault::*;
    canonical::<Condition>(data);
    canonical::<Witness>(data);
    canonical::<VaultPolicy>(data);
    canonical::<SignedVaultLock>(data);
    canonical::<VaultResolution>(data);
    canonical::<VaultConflict>(data);
    canonical::<VaultDocument>(data);
    canonical::<dsm_token::source::Consumption>(data);
    canonical::<dsm_token::source::ConsumedParcels>(data);
    if let Ok(d) = VaultDocument::from_bytes(data) {
        // A beneficiary's first step on a document: a statement or a typed refusal.
        let _ = dsm_token::source::lock_statement(&d.lock.policy, &d.backing.consumption);
    }
    if let Ok(r) = VaultResolution::from_bytes(data) {
        if r.lock.policy.condition(r.branch).work() <= 1_000_000 {
            let _ = dsm_token::source::TokenRules::check_resolution(&r);
        }
    }
    if let Ok(c) = VaultConflict::from_bytes(data) {
        let work = c.a.lock.policy.condition(c.a.branch).work()
            + c.b.lock.policy.condition(c.b.branch).work();
        if work <= 1_000_000 {
            let _ = dsm_token::source::TokenRules::new().import_vault_conflict(&c);
        }
    }
}

/// dBTC objects (deposit proofs from files, withdrawal requests, payments and declines
/// exchanged with the keeper), and a deposit proof checked under a regtest bridge.
pub fn dbtc(data: &[u8]) {
    use dsm_token::dbtc::*;
    canonical::<BitcoinBridge>(data);
    canonical::<BtcMint>(data);
    canonical::<WithdrawalRequest>(data);
    canonical::<WithdrawalPayment>(data);
    canonical::<WithdrawalDecline>(data);
    canonical::<WithdrawalDocument>(data);
    if let Ok(d) = WithdrawalDocument::from_bytes(data) {
        // The keeper's first step on a document: a statement or a typed refusal.
        let _ = dsm_token::source::request_statement(&d.request, &d.backing.consumption);
    }
    if let Ok(m) = BtcMint::from_bytes(data) {
        let _ = m.outpoint_key();
        let _ = dsm_btc::verify_deposit(
            dsm_btc::BtcNetwork::Regtest,
            &dsm_btc::regtest::Chain::new().checkpoint,
            1,
            &[0; 32],
            &m.proof.0,
        );
    }
}

/// Recovery: capsules and object packs (served by storage nodes), capsule bodies and pack
/// plaintexts (decrypted), recovery b0x items (notices and answers from anyone),
/// tombstones and successions (from slots), conflict evidence, and typed recovery phrases.
/// Verifiers run on whatever decodes.
pub fn recovery(data: &[u8]) {
    use dsm_recovery::succession as s;
    canonical::<dsm_recovery::Capsule>(data);
    canonical::<dsm_recovery::SealedPack>(data);
    canonical::<dsm_recovery::body::CapsuleBody>(data);
    canonical::<dsm_recovery::body::ObjectPack>(data);
    canonical::<s::SignedTombstone>(data);
    canonical::<s::SignedSuccession>(data);
    canonical::<s::SignedAnswer>(data);
    canonical::<s::SuccessionConflict>(data);
    canonical::<s::SuccessionRecord>(data);
    if let Ok(r) = s::SuccessionRecord::from_bytes(data) {
        let _ = r.verify();
    }
    canonical::<s::RecoveryMessage>(data);
    if let Ok(s::RecoveryMessage::Notice(n)) = s::RecoveryMessage::from_bytes(data) {
        let _ = n.verify();
    }
    if let Ok(c) = s::SuccessionConflict::from_bytes(data) {
        let _ = c.verify();
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(m) = dsm_recovery::RecoveryMnemonic::parse(text) {
            assert_eq!(m.words().len(), 24);
        }
    }
}

/// An owned-slot write as a storage node receives it (PROTOCOL.md §15.2): strict decoding,
/// and the node's authorization check never panics, for the slot the write names and for
/// another one.
pub fn owned_slot(data: &[u8]) {
    canonical::<dsm_core::slot::OwnedPut>(data);
    canonical::<dsm_core::slot::SlotWrite>(data);
    canonical::<dsm_core::slot::Admission>(data);
    if let Ok(p) = dsm_core::slot::OwnedPut::from_bytes(data) {
        let e = p.write.entries[0];
        let _ = p.check(&e.owner, &e.key);
        let _ = p.check(&e.key, &e.owner);
    }
    // A sealed body read from a slot or a lineage list (PROTOCOL.md §2, "Sealed at the
    // nodes"): whatever opens is the one canonical sealing of what it opened to.
    let context = dsm_core::hash::Digest([1; 32]);
    let parent = dsm_core::chain::HeadDigest(context);
    if let Some(plain) = dsm_core::slot::open_anchor_body(&parent, data) {
        assert_eq!(dsm_core::slot::seal_anchor_body(&parent, &plain), data);
    }
    let parcel = dsm_core::parcel::ParcelId(context);
    if let Some(hop) = dsm_core::parcel::open_hop(&parcel, data) {
        assert_eq!(dsm_core::parcel::seal_hop(&parcel, &hop), data);
    }
    if let Some(object) = dsm_core::seal::open_object(&context, data) {
        assert_eq!(dsm_core::seal::seal_object(&object), data);
    }
    let token = dsm_core::chain::TokenId(context);
    if let Some(m) = dsm_token::authority::open_mint(&token, data) {
        assert_eq!(dsm_token::authority::seal_mint(&m), data);
    }
    // A b0x read (the body of POST /v1/b0x-list and /v1/b0x-ack, PROTOCOL.md §16.1).
    canonical::<dsm_core::slot::B0xRead>(data);
    if let Ok(r) = dsm_core::slot::B0xRead::from_bytes(data) {
        assert!(!r.scope.entries.is_empty() && r.scope.entries.len() <= 4096);
        assert_eq!(r.scope.addresses().len(), r.scope.entries.len());
        for op in [
            dsm_core::slot::B0xOp::List,
            dsm_core::slot::B0xOp::Acknowledge,
        ] {
            let _ = r.check("127.0.0.1:7800", op);
        }
    }
}

/// A fuzz target: arbitrary bytes in, a panic only when a property breaks.
pub type Target = fn(&[u8]);

/// Every target by name, for the smoke test and the harness.
pub const TARGETS: &[(&str, Target)] = &[
    ("session_message", session_message),
    ("receipt", receipt),
    ("proposal", proposal),
    ("equivocation_proof", equivocation_proof),
    ("core_objects", core_objects),
    ("frame", frame),
    ("chunk_packets", chunk_packets),
    ("cobs_and_apdu", cobs_and_apdu),
    ("qr", qr),
    ("node_listing", node_listing),
    ("token_policy", token_policy),
    ("source_proof", source_proof),
    ("emission_step", emission_step),
    ("vault", vault),
    ("dbtc", dbtc),
    ("recovery", recovery),
    ("owned_slot", owned_slot),
    ("wallet_text", wallet_text),
    ("backup_file", backup_file),
];

/// The capsule key the `backup_file` target and its seeds use (a fixed test key: the
/// fuzzer cannot reach the decoder behind a real phrase's AEAD otherwise).
pub fn fuzz_backup_key() -> dsm_recovery::CapsuleKey {
    dsm_recovery::CapsuleKey::from_parts([7; 32], dsm_core::hash::Digest([9; 32]))
}

/// A backup file (`dsm backup import`, PROTOCOL.md §20.9), from a disk or a stranger: the
/// header check and the AEAD never panic; what opens is a strict snapshot that seals back
/// to the same bytes; and a snapshot plaintext decodes strictly on its own.
pub fn backup_file(data: &[u8]) {
    use dsm_recovery::backup;
    canonical::<backup::WalletSnapshot>(data);
    if let Ok(generation) = backup::generation(data) {
        if let Ok(snapshot) = backup::open(&fuzz_backup_key(), data) {
            let nonce: [u8; 24] = data[20..backup::HEADER_LEN].try_into().expect("24 bytes");
            assert_eq!(
                backup::seal(&fuzz_backup_key(), generation, &snapshot, nonce),
                data,
                "an opened backup does not seal back to its bytes"
            );
        }
    }
}

/// What a user or a file hands the wallet as text: a contact card (typed, pasted or read
/// from a QR image) and the identity document it names, an amount (with 0, 2 and 18 decimal places) and the wallet's summary
/// file. Each is parsed or refused without panicking, and what is accepted reads back the
/// same from the form the wallet writes.
pub fn wallet_text(data: &[u8]) {
    // An identity document as a node serves it (sealed) or as it decodes (PROTOCOL.md
    // §12.6): strict decoding, and opening never panics.
    canonical::<dsm_protocol::card::ContactDocument>(data);
    let card = dsm_protocol::card::ContactCard {
        name: "x".into(),
        device: dsm_core::identity::DeviceId(dsm_core::hash::Digest([7; 32])),
        document: Some(dsm_core::hash::object_address(data)),
    };
    let _ = dsm_protocol::card::ContactDocument::open(&card, data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok((card, _)) = dsm_protocol::card::ContactCard::parse(text) {
            let again = dsm_protocol::card::ContactCard::parse(&card.to_text());
            assert_eq!(again, Ok((card, false)), "a card does not read back");
        }
        for decimals in [0, 2, 18] {
            if let Ok(a) = dsm_token::units::parse_units(text, decimals) {
                let shown = dsm_token::units::format_units(a, decimals);
                assert_eq!(
                    dsm_token::units::parse_units(&shown, decimals),
                    Ok(a),
                    "an amount does not read back"
                );
            }
        }
    }
    if let Ok(s) = dsm_wallet::summary::WalletSummary::from_bytes(data) {
        let again = dsm_wallet::summary::WalletSummary::from_bytes(&s.to_bytes());
        assert_eq!(again.ok(), Some(s), "a summary does not read back");
    }
}

/// A deliberately planted bug, to show the fuzzer finds crashes that need structure: it
/// panics only on a well-formed transport frame whose payload is a canonical `Close`
/// session message followed by nothing — bytes no mutation of random data hits by luck
/// alone. Used only by `fuzz/fuzz_targets/planted.rs`; never by the smoke test.
pub fn planted(data: &[u8]) {
    if let Ok(p) = dsm_transport::decode_frame(data) {
        if let Ok(SessionMessage::Close(_)) = SessionMessage::from_bytes(&p) {
            panic!("planted bug reached: a framed Close");
        }
    }
}
