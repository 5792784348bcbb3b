//! Shared fixtures: wallets on memory or redb stores, and ways to run sessions between them.
#![allow(dead_code)]

pub mod cluster;
pub mod leaks;

use dsm_core::chain::{Amount, RelationshipKey, TipDigest};
use dsm_core::codec::Canonical;
use dsm_core::crypto::SuiteId;
use dsm_core::receipt::{verify_receipt, EmptyView};
use dsm_protocol::message::SessionMessage;
use dsm_protocol::session::{Ledger, Session};
use dsm_transport::{memory_pair, Link};
use dsm_wallet::driver::{run, Report};
use dsm_wallet::keystore::KdfParams;
use dsm_wallet::store::{MemoryStore, Store};
use dsm_wallet::{token, Wallet, DEFAULT_TOKEN};
use std::time::Duration;

pub const PASS: &[u8] = b"correct horse battery staple";

/// Recovery options for tests: ML-DSA-65, [`PASS`], cheap KDF parameters.
pub const RECOVER_OPTS: dsm_wallet::wallet::recovery::RecoverOptions<'static> =
    dsm_wallet::wallet::recovery::RecoverOptions {
        suite: SuiteId::MlDsa65,
        passphrase: PASS,
        kdf: KdfParams {
            m_cost_kib: 64,
            t_cost: 1,
            p_cost: 1,
        },
        replace_successor: false,
    };

/// A wallet in memory whose identity `keys` controls (it writes recovery capsules), with
/// `funds` DEV.
pub fn recoverable(keys: &dsm_recovery::RecoveryKeys, funds: u128) -> Wallet {
    let mut w = Wallet::create_with_recovery(
        Box::new(MemoryStore::new()),
        SuiteId::MlDsa65,
        PASS,
        fast_kdf(),
        &[],
        keys,
    )
    .unwrap();
    if funds > 0 {
        w.dev_faucet(DEFAULT_TOKEN, Amount(funds)).unwrap();
    }
    w
}

/// The recovery keys of the phrase of entropy `[seed; 32]`, derived at a cheap cost.
pub fn recovery_keys(seed: u8) -> dsm_recovery::RecoveryKeys {
    dsm_recovery::RecoveryKeys::derive(
        &dsm_recovery::RecoveryMnemonic::from_entropy(&[seed; 32]),
        dsm_recovery::KdfCost {
            m_cost_kib: 64,
            t_cost: 1,
        },
    )
    .unwrap()
}

/// Cheap KDF parameters so tests that open wallets many times stay fast; the default
/// parameters are exercised by the keystore tests.
pub fn fast_kdf() -> KdfParams {
    KdfParams {
        m_cost_kib: 64,
        t_cost: 1,
        p_cost: 1,
    }
}

pub fn wallet_on(store: Box<dyn Store>, funds: u128) -> Wallet {
    let mut w = Wallet::create(store, SuiteId::MlDsa65, PASS, fast_kdf()).unwrap();
    if funds > 0 {
        w.dev_faucet(DEFAULT_TOKEN, Amount(funds)).unwrap();
    }
    w
}

/// `from` pays `to` `amount` DEV online (PROTOCOL.md §16.2), holding `to`'s card (introduced,
/// [`introduce`], if it was not yet).
pub fn pay_online(
    from: &mut Wallet,
    nodes: &dsm_wallet::nodes::NodeSet,
    to: &Wallet,
    amount: u128,
) -> Result<dsm_wallet::online::OnlineSent, dsm_wallet::online::OnlineError> {
    if from.peer_identity(&to.device_id()).unwrap().is_none() {
        introduce(from, to);
    }
    dsm_wallet::online::send_online(
        from,
        nodes,
        &to.device_id(),
        token(DEFAULT_TOKEN),
        Amount(amount),
    )
}

pub fn memory_wallet(funds: u128) -> (Wallet, MemoryStore) {
    let store = MemoryStore::new();
    (wallet_on(Box::new(store.clone()), funds), store)
}

/// `from` takes `to`'s identity document, checked, as from `to`'s card with the document
/// handed over in person: `from` can then post to `to` (its b0x addresses derive from its
/// identity, PROTOCOL.md §16.1) and seals what it posts.
#[allow(dead_code)]
pub fn introduce(from: &mut Wallet, to: &Wallet) {
    let sealed = to.sealed_document().unwrap().to_vec();
    let card = dsm_protocol::card::ContactCard {
        name: String::new(),
        device: to.device_id(),
        document: Some(dsm_core::hash::object_address(&sealed)),
    };
    from.accept_contact_document(&card, &sealed).unwrap();
}

pub fn reopen(store: &MemoryStore) -> Wallet {
    Wallet::open(Box::new(store.clone()), PASS).unwrap()
}

pub fn dev(w: &Wallet) -> u128 {
    w.balance(&token(DEFAULT_TOKEN)).0
}

pub fn tip(w: &Wallet, peer: &Wallet) -> TipDigest {
    let rel = RelationshipKey::between(&w.device_id(), &peer.device_id());
    Ledger::tree(w)
        .get(rel.as_bytes())
        .map(TipDigest)
        .unwrap_or_else(|| rel.genesis_tip())
}

/// Runs one session: `payer` dials `payee` over an in-memory link (each side on its own
/// thread), with optional wrapping of each side's link (fault injection).
pub fn session_with<F, G>(
    payer: &mut Wallet,
    payee: &mut Wallet,
    amounts: &[u128],
    timeout: Duration,
    wrap_d: F,
    wrap_l: G,
) -> (Report, Report)
where
    F: FnOnce(Box<dyn Link + Send>) -> Box<dyn Link + Send>,
    G: FnOnce(Box<dyn Link + Send>) -> Box<dyn Link + Send>,
{
    let (a, b) = memory_pair(timeout);
    session_over(
        payer,
        payee,
        amounts,
        wrap_d(Box::new(a)),
        wrap_l(Box::new(b)),
    )
}

/// Runs one session over the given pair of links (dialer's, listener's).
pub fn session_over(
    payer: &mut Wallet,
    payee: &mut Wallet,
    amounts: &[u128],
    mut la: Box<dyn Link + Send>,
    mut lb: Box<dyn Link + Send>,
) -> (Report, Report) {
    let peer = payee.device_id();
    let transfers = amounts
        .iter()
        .map(|a| (token(DEFAULT_TOKEN), Amount(*a)))
        .collect();
    std::thread::scope(|s| {
        let h = s.spawn(move || {
            let mut l = Session::listener();
            let r = run(&mut l, payee, lb.as_mut());
            drop(lb);
            r
        });
        let mut d = Session::dialer(peer, transfers);
        let rd = run(&mut d, payer, la.as_mut());
        drop(la);
        (rd, h.join().unwrap())
    })
}

pub fn session(payer: &mut Wallet, payee: &mut Wallet, amounts: &[u128]) -> (Report, Report) {
    session_with(payer, payee, amounts, Duration::from_secs(20), |l| l, |l| l)
}

/// Invariants between two wallets that only ever paid each other, starting from
/// `supply` in total: value conserved, tips agree, nothing pending, every receipt valid.
pub fn assert_settled(a: &Wallet, b: &Wallet, supply: u128) {
    assert_eq!(dev(a) + dev(b), supply, "value conserved");
    assert_eq!(tip(a, b), tip(b, a), "relationship tips agree");
    assert!(a.pending().unwrap().is_empty(), "a has nothing pending");
    assert!(b.pending().unwrap().is_empty(), "b has nothing pending");
    for w in [a, b] {
        for e in w.history().unwrap() {
            use dsm_wallet::EntryKind::*;
            match e.kind {
                Sent | Received if e.status == dsm_wallet::LineStatus::Final => {
                    let r = w
                        .receipt(&e.receipt.unwrap().to_hex())
                        .unwrap()
                        .expect("receipt stored");
                    verify_receipt(&r, &EmptyView).unwrap();
                }
                Sent => assert_eq!(e.status, dsm_wallet::LineStatus::Released, "{e:?}"),
                Refused => assert_eq!(e.status, dsm_wallet::LineStatus::Refused),
                Released | DevFaucet | Allocated | Minted | Emission | Burned | VaultLocked
                | VaultClaimed | VaultRefunded | WithdrawalRequested | WithdrawalRefunded
                | Succession | Reclaimed => {
                    assert_eq!(e.status, dsm_wallet::LineStatus::Final)
                }
                Received => panic!("a received transfer is final at once: {e:?}"),
            }
        }
    }
    // Every released amount matches a sent one that was refused.
    let released: u128 = a
        .history()
        .unwrap()
        .iter()
        .chain(b.history().unwrap().iter())
        .filter(|e| e.kind == dsm_wallet::EntryKind::Released)
        .map(|e| e.amount.unwrap().0)
        .sum();
    let refused: u128 = a
        .history()
        .unwrap()
        .iter()
        .chain(b.history().unwrap().iter())
        .filter(|e| e.kind == dsm_wallet::EntryKind::Refused)
        .map(|e| e.amount.unwrap().0)
        .sum();
    assert_eq!(
        released, refused,
        "what was refused is exactly what was released"
    );
}

/// Round-trips a message through its canonical bytes (what a wire does).
pub fn wire(m: &SessionMessage) -> SessionMessage {
    SessionMessage::from_bytes(&m.to_bytes()).unwrap()
}

/// Three embedded storage nodes on loopback, stopped when dropped.
pub fn three_nodes() -> cluster::Cluster {
    cluster::Cluster::with(3)
}

/// A GOLD token of `kind` with `issuer` as its only issuer (threshold 1), cap 10,000,
/// holders may burn.
pub fn gold(issuer: &Wallet, kind: dsm_token::policy::TokenKind) -> dsm_token::TokenPolicy {
    dsm_token::TokenPolicy {
        ticker: "GOLD".into(),
        decimals: 0,
        kind,
        cap: dsm_core::chain::Amount(10_000),
        salt: dsm_core::hash::tagged_hash(dsm_core::tags::Tag::Token, &[b"wallet-test-gold"]),
        issuers: dsm_token::policy::Issuers {
            threshold: 1,
            keys: vec![issuer.identity().public_key.clone()],
        },
        burn: dsm_token::policy::BurnRule::Holder,
        transfers: dsm_token::policy::TransferRule::Free,
        allowlist: None,
        initial: Vec::new(),
        djte: None,
        bitcoin: None,
        refreshers: None,
    }
}

/// A mint signed by `key` as issuer 0 of `t`, to `to` at its current head.
pub fn signed_mint(
    key: &dsm_core::crypto::SigningKey,
    t: dsm_core::chain::TokenId,
    seq: u64,
    before: u128,
    amount: u128,
    to: &Wallet,
) -> dsm_token::authority::SignedMint {
    let statement = dsm_token::authority::MintStatement {
        token: t,
        seq,
        minted_before: Amount(before),
        amount: Amount(amount),
        recipient: to.device_id(),
        recipient_parent_head: to.head().digest(),
    };
    let sig = dsm_token::authority::cosign(key, 0, &statement.digest(), &[seq as u8; 32]).unwrap();
    dsm_token::authority::SignedMint {
        statement,
        signatures: vec![sig],
    }
}

/// A GOLD token (as [`gold`]) whose only issuer is a bare key made from `seed`, its policy
/// imported into every wallet of `ws`: the key signs mints with [`signed_mint`].
pub fn gold_of_key(
    seed: u8,
    ws: &mut [&mut Wallet],
) -> (dsm_core::crypto::SigningKey, dsm_core::chain::TokenId) {
    use dsm_core::crypto::{SecretSeed, SigningKey};
    let key = SigningKey::from_seed(SuiteId::MlDsa65, &SecretSeed::from_bytes([seed; 32]));
    let mut p = gold(ws[0], dsm_token::policy::TokenKind::Fungible);
    p.issuers.keys = vec![key.public_key().clone()];
    for w in ws.iter_mut() {
        w.import_policy(p.clone(), None).unwrap();
    }
    (key, p.token_id())
}

/// Runs one session in which `payer` pays `payee` each of `amounts` of `token`.
pub fn session_token(
    payer: &mut Wallet,
    payee: &mut Wallet,
    token: dsm_core::chain::TokenId,
    amounts: &[u128],
) -> (Report, Report) {
    let (mut la, mut lb) = memory_pair(Duration::from_secs(20));
    let peer = payee.device_id();
    let transfers = amounts.iter().map(|a| (token, Amount(*a))).collect();
    std::thread::scope(|s| {
        let h = s.spawn(move || run(&mut Session::listener(), payee, &mut lb));
        let rd = run(&mut Session::dialer(peer, transfers), payer, &mut la);
        drop(la);
        (rd, h.join().unwrap())
    })
}

/// Feeds `offer` to `v` through a real listener session opened by `from`'s hello; returns
/// `v`'s answer.
pub fn deliver(
    from: &mut Wallet,
    v: &mut Wallet,
    offer: dsm_core::receipt::Offer,
) -> SessionMessage {
    let hello = Session::dialer(v.device_id(), vec![]).start(from).unwrap();
    let mut l = Session::listener();
    l.handle(wire(&hello[0]), v).unwrap();
    let out = l
        .handle(wire(&SessionMessage::Proposal(Box::new(offer))), v)
        .unwrap();
    out.into_iter().next().unwrap()
}

/// `m` spends again, from its current (later) head, the parcel `before` (a copy of `m`
/// taken before it spent it) still holds: a modified wallet that forgot it paid. Returns
/// the offer (with every object) and the parcel spent twice.
pub fn respend(
    m: &Wallet,
    before: &Wallet,
    to: &Wallet,
    token: dsm_core::chain::TokenId,
    amount: u128,
) -> (dsm_core::receipt::Offer, dsm_core::parcel::ParcelId) {
    use dsm_core::parcel::Parcel;
    use dsm_core::receipt::{propose, LocalDevice};
    let (id, held, _) = before.parcels(&token)[0];
    let input = Parcel {
        id,
        token,
        amount: held,
        holder: m.device_id(),
    };
    let l = LocalDevice {
        identity: m.identity(),
        key: m.signing_key(),
        head: m.head(),
        tree: m.tree(),
    };
    let signed = propose(
        &l,
        &to.device_id(),
        token,
        Amount(amount),
        &[input],
        &[5; 32],
    )
    .unwrap()
    .signed;
    (before.offer_for(&signed).unwrap(), id)
}

/// What a modified wallet `m` makes up to lock or withdraw value it never received: a
/// statement it really signs (rest = `cause`, the lock's or request's cause) consuming
/// `amount` of `token` from a parcel whose root is a dev grant of a policy token (which no
/// verifier accepts), with that parcel's manifest and objects.
pub fn made_up_consumption(
    m: &Wallet,
    token: dsm_core::chain::TokenId,
    amount: u128,
    cause: dsm_core::hash::Digest,
) -> (dsm_token::source::ConsumedParcels, Vec<Vec<u8>>) {
    use dsm_core::parcel::{Hop, LineageManifest, ManifestStart, ParcelStatement};
    use dsm_protocol::session::Ledger;
    let (fake, grant) = made_up_root(m, token, amount);
    let st = ParcelStatement::to_sink(m.device_id(), &token, &[fake], Amount(amount)).unwrap();
    let hop = Hop::sign(Ledger::signing_key(m), st, cause, &[3; 32]).unwrap();
    (
        dsm_token::source::ConsumedParcels {
            consumption: dsm_token::source::Consumption {
                hop,
                signer: m.identity().clone(),
            },
            manifests: vec![LineageManifest {
                parcel: fake.id,
                start: ManifestStart::Root(dsm_core::hash::object_address(&grant)),
                hops: vec![],
                signers: vec![],
                consumed: vec![],
            }],
        },
        vec![grant],
    )
}

/// A root `m` made up: a dev grant of a policy token (only label tokens have them).
pub fn made_up_root(
    m: &Wallet,
    token: dsm_core::chain::TokenId,
    amount: u128,
) -> (dsm_core::parcel::Parcel, Vec<u8>) {
    use dsm_core::codec::Canonical;
    use dsm_core::parcel::{root_id, Parcel, RootFacts};
    let g = dsm_core::chain::DevGrant {
        device: m.device_id(),
        token,
        amount: Amount(amount),
        height: 1,
    };
    let bytes = g.to_bytes();
    let parcel = Parcel {
        id: root_id(&RootFacts {
            once_key: g.once_key(),
            token,
            amount: Amount(amount),
            holder: m.device_id(),
            burned: None,
        }),
        token,
        amount: Amount(amount),
        holder: m.device_id(),
    };
    (parcel, bytes)
}

/// `offer` with its signer's write for its owned slots (PROTOCOL.md §15.2), as any wallet,
/// honest or modified, sends it: signed with `signer`'s key.
#[allow(dead_code)]
pub fn with_write(signer: &Wallet, offer: dsm_core::receipt::Offer) -> dsm_core::receipt::Offer {
    use dsm_core::slot::{statement_entries, Admission, SlotWrite};
    let entries = statement_entries(&dsm_core::tripwire::Statement::Proposal(
        offer.signed.clone(),
    ));
    let write = SlotWrite::sign(
        Admission::DeviceSlots {
            genesis_blind: dsm_core::slot::genesis_blind(&signer.identity().genesis),
        },
        dsm_protocol::session::Ledger::signing_key(signer),
        entries,
        &[6; 32],
    )
    .unwrap();
    dsm_core::receipt::Offer {
        slot_write: Some(write),
        ..offer
    }
}

/// The issuer holding `key` (the only issuer of `policy`) publishes mint `m` in its owned
/// slot at whichever nodes are up (PROTOCOL.md §15.2: only an issuer may write it).
#[allow(dead_code)]
pub fn publish_as_issuer(
    nodes: &dsm_wallet::nodes::NodeSet,
    key: &dsm_core::crypto::SigningKey,
    policy: &dsm_token::TokenPolicy,
    m: &dsm_token::authority::SignedMint,
) {
    use dsm_core::slot::{body_digest, OwnedPut, SlotEntry, SlotWrite};
    let (owner, slot) =
        dsm_token::authority::mint_slot(&policy.issuers, &m.statement.token, m.statement.seq);
    let body = dsm_token::authority::seal_mint(m);
    let write = SlotWrite::sign(
        dsm_token::authority::keys_admission(&policy.issuers),
        key,
        vec![SlotEntry {
            owner,
            key: slot,
            body: body_digest(&body),
        }],
        &[8; 32],
    )
    .unwrap();
    nodes
        .anchor_owned(&owner, &slot, &OwnedPut { write, body }, &|_| {
            dsm_wallet::nodes::Judged::Rival
        })
        .unwrap();
}

/// A key no wallet of the test holds: the stranger's.
#[allow(dead_code)]
pub fn stranger_key(seed: u8) -> dsm_core::crypto::SigningKey {
    dsm_core::crypto::SigningKey::from_seed(
        SuiteId::MlDsa65,
        &dsm_core::crypto::SecretSeed::from_bytes([seed; 32]),
    )
}

/// What a stranger can put together for owned slot `(owner, key)`: `body` under a write
/// that `signer` really signs over the slot, presenting `admission` (which does not admit
/// it, PROTOCOL.md §15.2).
#[allow(dead_code)]
pub fn forged_put(
    signer: &dsm_core::crypto::SigningKey,
    admission: dsm_core::slot::Admission,
    (owner, key): (dsm_core::hash::Digest, dsm_core::hash::Digest),
    body: &[u8],
) -> Vec<u8> {
    use dsm_core::slot::{body_digest, OwnedPut, SlotEntry, SlotWrite};
    let entries = vec![SlotEntry {
        owner,
        key,
        body: body_digest(body),
    }];
    OwnedPut {
        write: SlotWrite {
            admission,
            signer: signer.public_key().clone(),
            signature: signer
                .sign(SlotWrite::message(&entries).as_bytes(), &[1; 32])
                .unwrap(),
            entries,
        },
        body: body.to_vec(),
    }
    .to_bytes()
}

/// The admission a stranger can always present: a key list naming only itself.
#[allow(dead_code)]
pub fn self_admission(signer: &dsm_core::crypto::SigningKey) -> dsm_core::slot::Admission {
    dsm_core::slot::Admission::Keys {
        admitted: vec![dsm_core::slot::key_digest(signer.public_key())],
    }
}

/// PUTs each of `bodies` to owned slot `(owner, key)` at every node of `urls` and asserts
/// that every node refuses each (400 for bytes that are not a write, 403 for a write that
/// does not authorize the slot); returns how many refusals it saw, for the caller to
/// assert that every attempt really reached every node.
#[allow(dead_code)]
pub fn refused_everywhere(
    urls: &[String],
    (owner, key): (dsm_core::hash::Digest, dsm_core::hash::Digest),
    bodies: &[Vec<u8>],
) -> usize {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut refused = 0;
    for url in urls {
        let owned = format!("{url}/v1/owned/{}/{}", owner.to_hex(), key.to_hex());
        for body in bodies {
            let status = agent.put(&owned).send(&body[..]).unwrap().status().as_u16();
            assert!(status == 400 || status == 403, "{owned}: {status}");
            refused += 1;
        }
    }
    refused
}

/// Appends `bytes` to candidate list `(a, b)` at every node of `urls`, as anyone may
/// (PROTOCOL.md §15.3): a stranger's junk, and what must never reach an owned slot.
#[allow(dead_code)]
pub fn junk_in_lists(urls: &[String], a: &[u8; 32], b: &[u8; 32], bytes: &[u8]) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let hex = |x: &[u8; 32]| dsm_core::hash::Digest(*x).to_hex();
    for url in urls {
        let list = format!("{url}/v1/lists/{}/{}", hex(a), hex(b));
        let status = agent.post(&list).send(bytes).unwrap().status().as_u16();
        assert!(status == 201 || status == 200, "{list}: {status}");
    }
}

/// Everything waiting at `w`'s b0x addresses (its introduction address and every
/// relationship address it told a peer) at its nodes, listed with `w`'s own signatures
/// (PROTOCOL.md §16.1: only the recipient may list).
#[allow(dead_code)]
pub fn own_b0x(
    w: &mut Wallet,
    nodes: &dsm_wallet::nodes::NodeSet,
) -> Vec<dsm_wallet::nodes::B0xItem> {
    let owner = w.slot_owner();
    let mut blinds = vec![None];
    blinds.extend(w.b0x_blinds().unwrap().into_iter().map(|(b, _)| Some(b)));
    nodes
        .b0x_fetch(
            &blinds,
            &mut |node, op, entries| w.b0x_read(node, op, entries),
            &owner,
        )
        .expect("b0x listing")
        .0
}
