//! Token-layer conformance vectors (PROTOCOL.md §17.8): `tests/vectors/token-v1.txt` pins
//! the canonical bytes and digests of policies, mint and burn statements, source proofs
//! and a DJTE emission step, all built from fixed keys and fixed signing randomness. An
//! independent protobuf implementation (prost-reflect, driven only by proto/dsm.proto)
//! re-encodes every message vector to the same bytes. Regenerate with DSM_WRITE_VECTORS=1
//! after a deliberate, versioned change.

mod common;
use common::*;
use dsm_core::chain::{Amount, TokenId};
use dsm_core::codec::Canonical;
use dsm_core::identity::DeviceId;
use dsm_token::authority::Authorised;
use dsm_token::djte::*;
use dsm_token::policy::{BurnRule, DjteParams, JoinGate, TokenPolicy};
use dsm_token::source::{EmissionCredit, InitialClaim, Source, SourceProof};
use sha2::Digest as _;

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/token-v1.txt");

fn compute() -> Vec<dsm_conformance::Vector> {
    let mut v = Vec::new();
    let mut put = |name: &str, ty: &'static str, bytes: &[u8]| {
        v.push((name.to_string(), ty, hex::encode(bytes)))
    };
    let mut c = 0u64;
    let issuer = Device::new(1);
    let mut holder = Device::new(2);
    let mut p = fungible("GOLD", &[&issuer], 1, 1_000_000, BurnRule::Holder);
    p.initial = vec![dsm_token::policy::InitialAllocation {
        device: holder.id(),
        amount: Amount(25),
    }];
    put("policy.gold", "dsm.v1.TokenPolicy", &p.to_bytes());
    put("policy.gold.token-id", "-", p.token_id().as_bytes());
    let m = mint(&p, 0, 25, 500, &holder, &[(0, &issuer)], &mut c);
    let Source::Mint(sm) = &m.source else {
        unreachable!()
    };
    put(
        "mint.statement",
        "dsm.v1.MintStatement",
        &sm.statement.to_bytes(),
    );
    put(
        "mint.statement.digest",
        "-",
        sm.statement.digest().as_bytes(),
    );
    put("mint.signed", "dsm.v1.SignedMint", &sm.to_bytes());
    put("mint.source-proof", "dsm.v1.SourceProof", &m.to_bytes());
    put("mint.cause", "-", m.cause().as_bytes());
    put("mint.once-key", "-", m.once_key().unwrap().as_bytes());
    // Issuer equivocation: mint 1 stating 500 created before it (the truth is 525).
    // (Its own randomness counter, so every vector after it keeps its bytes.)
    let lie = mint(&p, 1, 500, 10, &holder, &[(0, &issuer)], &mut 1_000_000);
    let Source::Mint(lie) = &lie.source else {
        unreachable!()
    };
    let conflict =
        dsm_token::authority::MintConflict::new(sm.clone(), lie.clone()).expect("different");
    put("mint.conflict", "dsm.v1.MintConflict", &conflict.to_bytes());
    let claim = SourceProof {
        source: Source::Initial(InitialClaim {
            token: p.token_id(),
            index: 0,
        }),
        allowlist: None,
        consumption: None,
    };
    put(
        "initial.source-proof",
        "dsm.v1.SourceProof",
        &claim.to_bytes(),
    );
    put("initial.cause", "-", claim.cause().as_bytes());
    let mut rules = dsm_token::source::TokenRules::new();
    rules.add_policy(p.clone()).unwrap();
    holder.apply(&mut rules, m).unwrap();
    let b = burn(&p, 7, &holder);
    if let Source::Burn(Authorised { statement, .. }) = &b.source {
        put(
            "burn.statement",
            "dsm.v1.BurnStatement",
            &statement.to_bytes(),
        );
        put("burn.statement.digest", "-", statement.digest().as_bytes());
    }
    put("burn.source-proof", "dsm.v1.SourceProof", &b.to_bytes());
    put("burn.cause", "-", b.cause().as_bytes());
    holder.apply(&mut rules, b).unwrap();
    put(
        "holder.head-after-burn",
        "dsm.v1.DeviceHead",
        &holder.head.to_bytes(),
    );

    // DJTE with 3 shard bits, 5 synthetic active devices, gate checks off for the math.
    let dev = |n: u8| DeviceId(digest(&format!("vector-device-{n}")));
    let mut e = fungible("EMIT", &[], 0, 10_000, BurnRule::Nobody);
    e.djte = Some(DjteParams {
        shard_bits: 3,
        epoch0_emissions: 2,
        epoch0_amount: Amount(300),
        gate: JoinGate {
            operators: vec![dev(99)],
            k: 1,
            fee_token: TokenId::from_label("FEE"),
            fee: Amount(1),
        },
    });
    put("djte.policy", "dsm.v1.TokenPolicy", &e.to_bytes());
    let mut l = EmissionLedger::new(&e).unwrap();
    put(
        "djte.state.0",
        "dsm.v1.EmissionState",
        &l.state().to_bytes(),
    );
    put("djte.state.0.digest", "-", l.state().digest().as_bytes());
    for n in 0..5 {
        let s = l.prepare(dev(n), Vec::new()).unwrap();
        l.apply(&s, false).unwrap();
    }
    put(
        "djte.state.5",
        "dsm.v1.EmissionState",
        &l.state().to_bytes(),
    );
    let before = l.state().clone();
    let step = l.prepare(dev(5), Vec::new()).unwrap();
    put("djte.step.5", "dsm.v1.EmissionStep", &step.to_bytes());
    let em = l.apply(&step, false).unwrap();
    put("djte.step.5.receipt", "-", em.receipt.as_bytes());
    put(
        "djte.state.6",
        "dsm.v1.EmissionState",
        &l.state().to_bytes(),
    );
    let (w, a) = em.winner.unwrap();
    put("djte.step.5.winner", "-", w.as_bytes());
    put("djte.step.5.amount", "-", &a.0.to_be_bytes());
    let credit = SourceProof {
        source: Source::Emission(Box::new(EmissionCredit {
            state: before,
            step,
        })),
        allowlist: None,
        consumption: None,
    };
    put(
        "djte.credit.source-proof",
        "dsm.v1.SourceProof",
        &credit.to_bytes(),
    );
    put("djte.credit.cause", "-", credit.cause().as_bytes());
    // A vault: GOLD locked by the issuer for the holder, released by a preimage.
    let mut issuer = issuer;
    let m = mint(&p, 1, 525, 100, &issuer, &[(0, &issuer)], &mut c);
    issuer.apply(&mut rules, m).unwrap();
    let release = dsm_token::vault::Condition::All(vec![
        dsm_token::vault::Condition::Sha256(sha2::Sha256::digest(b"vector secret").into()),
        dsm_token::vault::Condition::Any(vec![
            dsm_token::vault::Condition::Iterations(10),
            dsm_token::vault::Condition::Signatures {
                threshold: 1,
                keys: vec![holder.key.public_key().clone()],
            },
        ]),
    ]);
    let lock = lock_vault(
        &mut rules,
        &mut issuer,
        &holder.id(),
        p.token_id(),
        40,
        release,
        dsm_token::vault::Condition::Iterations(10),
        &mut c,
    )
    .unwrap();
    put(
        "vault.policy",
        "dsm.v1.VaultPolicy",
        &lock.policy.to_bytes(),
    );
    put("vault.id", "-", lock.policy.vault_id().as_bytes());
    put("vault.lock", "dsm.v1.SignedVaultLock", &lock.to_bytes());
    let id = lock.policy.vault_id();
    let work = dsm_token::vault::iterate(&id, dsm_token::vault::Branch::Release, 10);
    put("vault.release.work10", "-", work.as_bytes());
    let witness = dsm_token::vault::Witness::All(vec![
        dsm_token::vault::Witness::Preimage(b"vector secret".to_vec()),
        dsm_token::vault::Witness::Any(0, Box::new(dsm_token::vault::Witness::Work(work))),
    ]);
    put(
        "vault.release.witness",
        "dsm.v1.Witness",
        &witness.to_bytes(),
    );
    let claim = resolution(&lock, dsm_token::vault::Branch::Release, witness);
    let dsm_token::source::Source::VaultResolve(r) = &claim.source else {
        unreachable!()
    };
    put(
        "vault.release.resolution",
        "dsm.v1.VaultResolution",
        &r.to_bytes(),
    );
    put(
        "vault.release.resolution.digest",
        "-",
        r.digest().as_bytes(),
    );
    put(
        "vault.release.source-proof",
        "dsm.v1.SourceProof",
        &claim.to_bytes(),
    );
    put("vault.release.cause", "-", claim.cause().as_bytes());
    let refund = dsm_token::vault::VaultResolution {
        lock: lock.clone(),
        branch: dsm_token::vault::Branch::Refund,
        witness: dsm_token::vault::Witness::Work(dsm_token::vault::iterate(
            &id,
            dsm_token::vault::Branch::Refund,
            10,
        )),
    };
    let conflict = dsm_token::vault::VaultConflict {
        a: (**r).clone(),
        b: refund,
    };
    put(
        "vault.conflict",
        "dsm.v1.VaultConflict",
        &conflict.to_bytes(),
    );
    // Continued roots (§5.6): the lock's consuming statement (one parcel of the issuer,
    // id fixed here, 40 to the sink), the release resting on it, and the vault document.
    let locked = dsm_core::parcel::Parcel {
        id: dsm_core::parcel::ParcelId(dsm_core::hash::Digest([0x41; 32])),
        token: p.token_id(),
        amount: Amount(40),
        holder: issuer.id(),
    };
    let lock_cause = SourceProof {
        source: Source::VaultLock(Box::new(lock.policy.clone())),
        allowlist: None,
        consumption: None,
    }
    .cause();
    let consumption = dsm_token::source::Consumption {
        hop: dsm_core::parcel::Hop::sign(
            &issuer.key,
            dsm_core::parcel::ParcelStatement::to_sink(
                issuer.id(),
                &p.token_id(),
                &[locked],
                Amount(40),
            )
            .unwrap(),
            lock_cause,
            &[0x42; 32],
        )
        .unwrap(),
        signer: issuer.identity.clone(),
    };
    put(
        "continued.lock-consumption",
        "dsm.v1.Consumption",
        &consumption.to_bytes(),
    );
    let mut continued = claim.clone();
    continued.consumption = Some(consumption.clone());
    put(
        "continued.release.source-proof",
        "dsm.v1.SourceProof",
        &continued.to_bytes(),
    );
    let facts = rules.root_facts(&continued, None).unwrap();
    put(
        "continued.release.root-id",
        "-",
        dsm_core::parcel::root_id(&facts).as_bytes(),
    );
    let backing = dsm_token::source::ConsumedParcels {
        consumption,
        manifests: vec![dsm_core::parcel::LineageManifest {
            parcel: locked.id,
            start: dsm_core::parcel::ManifestStart::Verified(locked.id),
            hops: vec![],
            signers: vec![],
            consumed: vec![],
        }],
    };
    let manifest = dsm_core::parcel::LineageManifest {
        parcel: dsm_core::parcel::root_id(&facts),
        start: dsm_core::parcel::ManifestStart::Root(dsm_core::hash::object_address(
            &continued.to_bytes(),
        )),
        hops: vec![],
        signers: vec![],
        consumed: backing.manifests.clone(),
    };
    put(
        "continued.release.manifest",
        "dsm.v1.LineageManifest",
        &manifest.to_bytes(),
    );
    let doc = dsm_token::vault::VaultDocument {
        lock: lock.clone(),
        backing,
        objects: vec![],
        slot_write: None,
    };
    put(
        "continued.vault-document",
        "dsm.v1.VaultDocument",
        &doc.to_bytes(),
    );
    // dBTC on a regtest bridge: a deposit mined in-process, a withdrawal, its decline.
    let keeper = Device::new(60);
    let bridge = dsm_token::dbtc::BitcoinBridge {
        chain: dsm_token::dbtc::BitcoinChain {
            network: dsm_btc::BtcNetwork::Regtest,
            checkpoint_height: 0,
            checkpoint_header: dsm_btc::header_bytes(
                &dsm_btc::regtest::Chain::new().checkpoint.header,
            ),
            d_min: 2,
        },
        keeper: dsm_btc::regtest::test_key(3),
        keeper_dsm: keeper.key.public_key().clone(),
    };
    let dbtc = dsm_token::dbtc::dbtc_policy(bridge);
    put("dbtc.policy", "dsm.v1.TokenPolicy", &dbtc.to_bytes());
    put("dbtc.token-id", "-", dbtc.token_id().as_bytes());
    rules.add_policy(dbtc.clone()).unwrap();
    let htlc = dsm_btc::Htlc {
        h_claim: [1; 32],
        h_refund: [2; 32],
        claimer: dsm_btc::regtest::test_key(3),
        refunder: dsm_btc::regtest::test_key(4),
    };
    let commitment = dsm_token::dbtc::recipient_commitment(&dbtc.token_id(), &holder.id());
    put("dbtc.commitment", "-", &commitment);
    let ftx = dsm_btc::regtest::funding(&htlc, 50_000, &commitment, 1);
    let mut chain = dsm_btc::regtest::Chain::new();
    let fb = chain.add(vec![ftx.clone()]);
    chain.bury(1);
    let deposit = SourceProof {
        source: Source::BtcDeposit(Box::new(dsm_token::dbtc::BtcMint {
            token: dbtc.token_id(),
            proof: dsm_token::dbtc::DepositProof(chain.evidence(&ftx, 0, &htlc, fb)),
        })),
        allowlist: None,
        consumption: None,
    };
    put(
        "dbtc.deposit.source-proof",
        "dsm.v1.SourceProof",
        &deposit.to_bytes(),
    );
    put("dbtc.deposit.cause", "-", deposit.cause().as_bytes());
    holder.apply(&mut rules, deposit).unwrap();
    let req = dsm_token::dbtc::WithdrawalRequest {
        token: dbtc.token_id(),
        holder: holder.id(),
        holder_parent_head: holder.head.digest(),
        amount: Amount(20_000),
        to_script: vec![0x51],
    };
    put(
        "dbtc.withdrawal.request",
        "dsm.v1.WithdrawalRequest",
        &req.to_bytes(),
    );
    put("dbtc.withdrawal.id", "-", req.id().as_bytes());
    // What the holder hands the keeper (§19.3): the request, its consuming statement (the
    // holder's deposit parcel, id fixed here, 20,000 to the sink, change back), the manifest.
    let deposited = dsm_core::parcel::Parcel {
        id: dsm_core::parcel::ParcelId(dsm_core::hash::Digest([0x51; 32])),
        token: dbtc.token_id(),
        amount: Amount(50_000),
        holder: holder.id(),
    };
    let req_cause = SourceProof {
        source: Source::WithdrawRequest(Box::new(req.clone())),
        allowlist: None,
        consumption: None,
    }
    .cause();
    let wdoc = dsm_token::dbtc::WithdrawalDocument {
        request: req.clone(),
        backing: dsm_token::source::ConsumedParcels {
            consumption: dsm_token::source::Consumption {
                hop: dsm_core::parcel::Hop::sign(
                    &holder.key,
                    dsm_core::parcel::ParcelStatement::to_sink(
                        holder.id(),
                        &dbtc.token_id(),
                        &[deposited],
                        Amount(20_000),
                    )
                    .unwrap(),
                    req_cause,
                    &[0x52; 32],
                )
                .unwrap(),
                signer: holder.identity.clone(),
            },
            manifests: vec![dsm_core::parcel::LineageManifest {
                parcel: deposited.id,
                start: dsm_core::parcel::ManifestStart::Verified(deposited.id),
                hops: vec![],
                signers: vec![],
                consumed: vec![],
            }],
        },
        objects: vec![],
        slot_write: None,
    };
    put(
        "dbtc.withdrawal.document",
        "dsm.v1.WithdrawalDocument",
        &wdoc.to_bytes(),
    );
    let dec = dsm_token::dbtc::decline(req, &keeper.key, &[7; 32]).unwrap();
    put(
        "dbtc.withdrawal.decline",
        "dsm.v1.WithdrawalDecline",
        &dec.to_bytes(),
    );
    put(
        "djte.rank.seed-zero.n7",
        "-",
        &winner_rank(&dsm_core::hash::Digest::ZERO, 0, &[0; 32], 7).to_be_bytes(),
    );
    put(
        "djte.shard.device0.bits16",
        "-",
        &shard_of(&dev(0), 16).to_be_bytes(),
    );
    put(
        "djte.empty-active-root.bits16",
        "-",
        empty_active_root(16).as_bytes(),
    );
    // Re-issue (§17.6): the holder's two GOLD parcels (ids fixed here) burned whole and
    // re-issued by GOLD's issuer (its refresh authority by default) as one root.
    use dsm_core::parcel::{root_id, Hop, Parcel, ParcelId};
    let parcels = [(0x31u8, 200u128), (0x32, 125)].map(|(b, a)| Parcel {
        id: ParcelId(dsm_core::hash::Digest([b; 32])),
        token: p.token_id(),
        amount: Amount(a),
        holder: holder.id(),
    });
    let burn_s = dsm_token::reissue::burn_statement(holder.id(), &p.token_id(), &parcels).unwrap();
    put(
        "reissue.burn-statement",
        "dsm.v1.ParcelStatement",
        &burn_s.to_bytes(),
    );
    let rs = dsm_token::reissue::statement_for(&p.token_id(), &burn_s).unwrap();
    put(
        "reissue.statement",
        "dsm.v1.ReissueStatement",
        &rs.to_bytes(),
    );
    put("reissue.statement.digest", "-", rs.digest().as_bytes());
    let sig = dsm_token::authority::cosign(&issuer.key, 0, &rs.digest(), &[0x33; 32]).unwrap();
    let hop = Hop::sign(
        &holder.key,
        burn_s,
        dsm_token::reissue::burn_rest(&p.token_id(), &holder.id()),
        &[0x34; 32],
    )
    .unwrap();
    let re = SourceProof {
        source: Source::Reissue(Box::new(dsm_token::reissue::Reissue {
            signed: dsm_token::authority::Authorised {
                statement: rs,
                signatures: vec![sig],
            },
            burn: hop,
            holder: holder.identity.clone(),
        })),
        allowlist: None,
        consumption: None,
    };
    put("reissue.source-proof", "dsm.v1.SourceProof", &re.to_bytes());
    put("reissue.once-key", "-", re.once_key().unwrap().as_bytes());
    let mut rules = dsm_token::source::TokenRules::new();
    rules.add_policy(p.clone()).unwrap();
    let facts = rules.root_facts(&re, None).unwrap();
    put("reissue.root-id", "-", root_id(&facts).as_bytes());
    // A recovered parcel (§20.3): the holder's device lost, its parcel 0x31 (200 GOLD)
    // taken over by device 9 under the succession signed by the recovery authority.
    use dsm_core::crypto::{SecretSeed, SigningKey, SuiteId};
    use dsm_core::identity::{EntropyReveal, GenesisRecord};
    use dsm_recovery::succession::*;
    let authority = SigningKey::from_seed(SuiteId::MlDsa65, &SecretSeed::from_bytes([0x35; 32]));
    let genesis = GenesisRecord {
        founding_key: holder.key.public_key().clone(),
        contributions: vec![EntropyReveal {
            contributor: dsm_core::hash::Digest([0x36; 32]),
            secret: [0x37; 32],
        }],
        recovery_authority: Some(authority.public_key().clone()),
    };
    let mut lost = holder.identity.clone();
    lost.genesis = genesis.digest();
    let heir = Device::new(9);
    let mut successor = heir.identity.clone();
    successor.genesis = genesis.digest();
    let tombstone = sign_tombstone(
        &authority,
        Tombstone {
            lost: lost.clone(),
            recovered_head: dsm_core::chain::DeviceHead::initial(lost.device_id(), &lost.genesis),
        },
    );
    let succession = sign_succession(
        &authority,
        Succession {
            tombstone: tombstone.record.digest(),
            successor: successor.clone(),
        },
    );
    let taken = dsm_core::parcel::ParcelStatement {
        holder: lost.device_id(),
        inputs: vec![parcels[0].id],
        outputs: vec![dsm_core::parcel::ParcelOutput {
            input: 0,
            to: dsm_core::parcel::sink(&p.token_id()),
            amount: Amount(200),
        }],
    };
    let hop = Hop::sign(&heir.key, taken, succession.record.digest(), &[0x38; 32]).unwrap();
    let rec = SourceProof {
        source: Source::Recovered(Box::new(dsm_token::source::RecoveredParcel {
            token: p.token_id(),
            record: SuccessionRecord {
                genesis,
                tombstone,
                succession,
            },
        })),
        allowlist: None,
        consumption: Some(dsm_token::source::Consumption {
            hop,
            signer: successor,
        }),
    };
    put(
        "recovered.source-proof",
        "dsm.v1.SourceProof",
        &rec.to_bytes(),
    );
    put(
        "recovered.once-key",
        "-",
        rec.once_key().unwrap().as_bytes(),
    );
    let facts = rules.root_facts(&rec, None).unwrap();
    put("recovered.root-id", "-", root_id(&facts).as_bytes());
    v
}

#[test]
fn vectors_match_the_file() {
    let text = dsm_conformance::render(
        "DSM token layer v1 conformance vectors: name<TAB>proto message or -<TAB>hex (PROTOCOL.md §17.8)",
        &compute(),
    );
    dsm_conformance::check_file(PATH, &text);
}

#[test]
fn message_vectors_round_trip_through_the_published_schema() {
    let checked = dsm_conformance::round_trip_file(PATH);
    assert!(checked >= 12, "only {checked} message vectors");
}

#[test]
fn file_vectors_decode_strictly_and_verify() {
    let file = std::fs::read_to_string(PATH).unwrap();
    let get = |n: &str| {
        hex::decode(
            file.lines()
                .find(|l| l.starts_with(&format!("{n}\t")))
                .unwrap()
                .split('\t')
                .nth(2)
                .unwrap(),
        )
        .unwrap()
    };
    let p = TokenPolicy::from_bytes(&get("policy.gold")).unwrap();
    assert_eq!(
        p.token_id().as_bytes().to_vec(),
        get("policy.gold.token-id")
    );
    // A continued root: the vault document's statement is the lock's, the release carries
    // it, and its root id is recomputed.
    let doc =
        dsm_token::vault::VaultDocument::from_bytes(&get("continued.vault-document")).unwrap();
    let burn =
        dsm_token::source::lock_statement(&doc.lock.policy, &doc.backing.consumption).unwrap();
    assert_eq!(burn.parcels(), &[doc.backing.manifests[0].parcel]);
    let release = SourceProof::from_bytes(&get("continued.release.source-proof")).unwrap();
    assert_eq!(release.consumption.as_ref(), Some(&doc.backing.consumption));
    let mut rules = dsm_token::source::TokenRules::new();
    rules.add_policy(p.clone()).unwrap();
    let facts = rules.root_facts(&release, None).unwrap();
    assert_eq!(
        dsm_core::parcel::root_id(&facts).as_bytes().to_vec(),
        get("continued.release.root-id")
    );
    let m =
        dsm_core::parcel::LineageManifest::from_bytes(&get("continued.release.manifest")).unwrap();
    assert_eq!(m.consumed, doc.backing.manifests);
    let wd =
        dsm_token::dbtc::WithdrawalDocument::from_bytes(&get("dbtc.withdrawal.document")).unwrap();
    dsm_token::source::request_statement(&wd.request, &wd.backing.consumption).unwrap();
    let e = TokenPolicy::from_bytes(&get("djte.policy")).unwrap();
    let s5 = EmissionState::from_bytes(&get("djte.state.5")).unwrap();
    let step = EmissionStep::from_bytes(&get("djte.step.5")).unwrap();
    let em = verify_step(&e, &s5, &step, false).unwrap();
    assert_eq!(em.receipt.as_bytes().to_vec(), get("djte.step.5.receipt"));
    assert_eq!(em.next.to_bytes(), get("djte.state.6"));
    let sp = SourceProof::from_bytes(&get("mint.source-proof")).unwrap();
    assert_eq!(sp.cause().as_bytes().to_vec(), get("mint.cause"));
    let Source::Mint(m) = sp.source else {
        panic!("not a mint")
    };
    dsm_token::authority::verify_mint(&p, &m).unwrap();
    let mc = dsm_token::authority::MintConflict::from_bytes(&get("mint.conflict")).unwrap();
    assert_eq!(dsm_token::authority::verify_mint_conflict(&p, &mc), Ok(0));
    assert_eq!(
        SourceProof {
            source: Source::Mint(m),
            allowlist: None,
            consumption: None
        }
        .once_key()
        .unwrap()
        .as_bytes()
        .to_vec(),
        get("mint.once-key")
    );
    let c = dsm_token::vault::VaultConflict::from_bytes(&get("vault.conflict")).unwrap();
    let mut rules = dsm_token::source::TokenRules::new();
    let id = rules.import_vault_conflict(&c).unwrap();
    assert_eq!(id.as_bytes().to_vec(), get("vault.id"));
}
