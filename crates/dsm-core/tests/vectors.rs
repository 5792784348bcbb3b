//! Conformance vectors: `tests/vectors/dsm-v1.txt` pins the bytes and digests of every
//! object kind. Another implementation conforms when it reproduces each line. Run with
//! `DSM_WRITE_VECTORS=1` to regenerate after a deliberate, versioned change.

mod common;

use common::*;
use dsm_core::chain::{Amount, DeviceHead, RelationshipKey};
use dsm_core::codec::Canonical;
use dsm_core::crypto::SuiteId;
use dsm_core::hash::{tagged_hash, Digest};
use dsm_core::identity::{DeviceId, GenesisRecord};
use dsm_core::receipt::*;
use dsm_core::smt::{empty_root, SmtProof, SparseMerkleTree};
use dsm_core::tags::Tag;
use dsm_core::tripwire::{EquivocationProof, Statement};

const PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/dsm-v1.txt");

/// `(name, proto message type or "-", hex)`.
pub fn compute() -> Vec<dsm_conformance::Vector> {
    let mut v: Vec<(String, &'static str, String)> = Vec::new();
    let mut put = |name: &str, ty: &'static str, bytes: &[u8]| {
        v.push((name.to_string(), ty, hex::encode(bytes)))
    };

    for t in Tag::ALL {
        put(
            &format!("tag.{}", t.label()),
            "-",
            tagged_hash(*t, &[]).as_bytes(),
        );
    }
    put(
        "card.check(bob,07..)",
        "-",
        tagged_hash(Tag::ContactCard, &[b"bob", &[7u8; 32]]).as_bytes(),
    );
    put(
        "card.check_v2(bob,07..,08..)",
        "-",
        tagged_hash(Tag::ContactCard, &[b"bob", &[7u8; 32], &[8u8; 32]]).as_bytes(),
    );
    let (kem, _) = dsm_core::crypto::KemSecretKey::from_seeds(&[9; 32], &[10; 32]);
    put("kem.public(09..,0a..)", "-", kem.as_bytes());
    put(
        "card.document.signed(07..,kem.public)",
        "-",
        tagged_hash(Tag::ContactDocument, &[&[7u8; 32], kem.as_bytes()]).as_bytes(),
    );
    put(
        "card.document.key(07..)",
        "-",
        tagged_hash(Tag::ContactDocumentKey, &[&[7u8; 32]]).as_bytes(),
    );
    put(
        "b0x.address(07..,09..)",
        "-",
        dsm_core::slot::b0x_address(&Digest([7; 32]), Some(&Digest([9; 32]))).as_bytes(),
    );
    put(
        "b0x.reply_to(07..,09..)",
        "-",
        tagged_hash(Tag::B0xReplyTo, &[&[7u8; 32], &[9u8; 32]]).as_bytes(),
    );
    put(
        "hash.token(ab,c)",
        "-",
        tagged_hash(Tag::Token, &[b"ab", b"c"]).as_bytes(),
    );
    put(
        "hash.token(a,bc)",
        "-",
        tagged_hash(Tag::Token, &[b"a", b"bc"]).as_bytes(),
    );
    put("smt.empty_root", "-", empty_root().as_bytes());
    let mut tree = SparseMerkleTree::new();
    for i in 0..5u8 {
        tree.insert(
            *tagged_hash(Tag::Token, &[b"key", &[i]]).as_bytes(),
            tagged_hash(Tag::Token, &[b"value", &[i]]),
        );
    }
    put("smt.five_leaves.root", "-", tree.root().as_bytes());
    put(
        "smt.five_leaves.proof(key 3)",
        "dsm.v1.SmtProof",
        &tree
            .prove(tagged_hash(Tag::Token, &[b"key", &[3]]).as_bytes())
            .to_bytes(),
    );
    put(
        "smt.five_leaves.proof(absent)",
        "dsm.v1.SmtProof",
        &tree
            .prove(tagged_hash(Tag::Token, &[b"absent"]).as_bytes())
            .to_bytes(),
    );
    put("token.TEST", "-", token().as_bytes());
    let (k1, k2) = (Digest([1; 32]), Digest([2; 32]));
    put(
        "slot.keys_owner(01..,02..)",
        "-",
        dsm_core::slot::keys_owner(&[k1, k2]).as_bytes(),
    );
    put(
        "slot.parties_owner(01..,02..)",
        "-",
        dsm_core::slot::parties_owner(&[k1, k2]).as_bytes(),
    );
    put(
        "slot.admission(parties 01..,02.. of genesis blind 01..)",
        "dsm.v1.Admission",
        &dsm_core::slot::Admission::Parties {
            genesis_blind: k1,
            parties: vec![k1, k2],
        }
        .to_bytes(),
    );
    put(
        "slot.genesis_blind(genesis 01..)",
        "-",
        dsm_core::slot::genesis_blind(&dsm_core::identity::GenesisDigest(k1)).as_bytes(),
    );
    put(
        "slot.admission(device slots of genesis blind 01..)",
        "dsm.v1.Admission",
        &dsm_core::slot::Admission::DeviceSlots { genesis_blind: k1 }.to_bytes(),
    );
    put(
        "seal.anchor(parent 01..,\"plain\")",
        "-",
        &dsm_core::slot::seal_anchor_body(&dsm_core::chain::HeadDigest(k1), b"plain"),
    );
    put(
        "slot.body_digest(\"body\")",
        "-",
        dsm_core::slot::body_digest(b"body").as_bytes(),
    );
    put(
        "entropy.device_contributor",
        "-",
        dsm_core::identity::device_contributor().as_bytes(),
    );
    put(
        "entropy.node_contributor(http://127.0.0.1:7800)",
        "-",
        dsm_core::identity::node_contributor("http://127.0.0.1:7800").as_bytes(),
    );

    for suite in SuiteId::ALL {
        let s = suite.name();
        let mut a = Device::new(suite, 1);
        let mut b = Device::new(suite, 2);
        let c = Device::new(suite, 3);
        let genesis: GenesisRecord = {
            // Rebuild A's genesis record exactly as the fixture does.
            let mut g = dsm_core::identity::GenesisCeremony::new(a.key.public_key().clone());
            let reveals: Vec<_> = (0..3u8)
                .map(|i| dsm_core::identity::EntropyReveal {
                    contributor: tagged_hash(Tag::Token, &[b"test-contributor", &[i]]),
                    secret: [1 ^ (i + 1); 32],
                })
                .collect();
            for r in &reveals {
                g.commit(r.contributor, r.commitment()).unwrap();
            }
            g.close_commitments();
            for r in reveals {
                g.reveal(r).unwrap();
            }
            g.finish().unwrap()
        };
        assert_eq!(genesis.digest(), a.identity.genesis);
        put(
            &format!("{s}.a.genesis_record"),
            "dsm.v1.GenesisRecord",
            &genesis.to_bytes(),
        );
        put(&format!("{s}.a.genesis"), "-", genesis.digest().as_bytes());
        put(
            &format!("{s}.a.ceremony_id(commitment of contribution 0)"),
            "-",
            dsm_core::identity::ceremony_id(
                &genesis.founding_key,
                &genesis.contributions[0].commitment(),
            )
            .as_bytes(),
        );
        put(
            &format!("{s}.a.identity"),
            "dsm.v1.DeviceIdentity",
            &a.identity.to_bytes(),
        );
        put(&format!("{s}.a.device_id"), "-", a.id().as_bytes());
        put(&format!("{s}.b.device_id"), "-", b.id().as_bytes());
        let rel = RelationshipKey::between(&a.id(), &b.id());
        put(&format!("{s}.ab.relationship_key"), "-", rel.as_bytes());
        put(
            &format!("{s}.ab.genesis_tip"),
            "-",
            rel.genesis_tip().as_bytes(),
        );
        let initial = DeviceHead::initial(a.id(), &a.identity.genesis);
        put(
            &format!("{s}.a.initial_head"),
            "dsm.v1.DeviceHead",
            &initial.to_bytes(),
        );
        put(
            &format!("{s}.a.initial_head.digest"),
            "-",
            initial.digest().as_bytes(),
        );
        a.fund(token(), 1_000);
        put(
            &format!("{s}.a.funded_head"),
            "dsm.v1.DeviceHead",
            &a.head.to_bytes(),
        );

        // A pays B 250 with deterministic signatures (all-zero signing randomness).
        let zero = [0u8; 32];
        let fork_head = a.head.clone();
        let fork_tree = a.tree.clone();
        let p = propose(
            &a.local(),
            &b.id(),
            token(),
            Amount(250),
            &common::inputs_of(&a.local(), token(), Amount(250)),
            &zero,
        )
        .unwrap();
        let vp = verify_proposal(&p.signed, &EmptyView).unwrap();
        let acc = accept(&b.local(), &vp, &common::trusted_lineages(&vp), &zero).unwrap();
        let r = &acc.receipt;
        put(
            &format!("{s}.ab.step"),
            "dsm.v1.RelationshipStep",
            &r.proposal.proposal.step.to_bytes(),
        );
        put(&format!("{s}.ab.child_tip"), "-", acc.child_tip.as_bytes());
        put(
            &format!("{s}.ab.proposal_commit"),
            "-",
            r.proposal.proposal.commit().as_bytes(),
        );
        put(
            &format!("{s}.ab.acceptance_commit"),
            "-",
            r.acceptance.acceptance.commit().as_bytes(),
        );
        put(&format!("{s}.ab.receipt"), "dsm.v1.Receipt", &r.to_bytes());
        put(
            &format!("{s}.ab.receipt.digest"),
            "-",
            r.digest().as_bytes(),
        );
        b.head = acc.child_head.clone();

        // A also pays C 250 from the same head: the equivocation proof.
        let fork = propose(
            &LocalDevice {
                identity: &a.identity,
                key: &a.key,
                head: &fork_head,
                tree: &fork_tree,
            },
            &c.id(),
            token(),
            Amount(250),
            &inputs_of(
                &LocalDevice {
                    identity: &a.identity,
                    key: &a.key,
                    head: &fork_head,
                    tree: &fork_tree,
                },
                token(),
                Amount(250),
            ),
            &zero,
        )
        .unwrap();
        let (proof, _) = EquivocationProof::new(
            Statement::Proposal(p.signed.clone()),
            Statement::Proposal(fork.signed),
        )
        .unwrap();
        put(
            &format!("{s}.a.equivocation_proof"),
            "dsm.v1.EquivocationProof",
            &proof.to_bytes(),
        );

        // Parcels (§5.6): A consumes a root parcel into 70 for B and 30 change, and again
        // into 100 for C — a parcel fork.
        use dsm_core::parcel::*;
        let root = root_id(&RootFacts {
            once_key: Digest([9; 32]),
            token: dsm_core::chain::TokenId::from_label("GOLD"),
            amount: Amount(100),
            holder: a.id(),
            burned: None,
        });
        let hop = |outputs: Vec<ParcelOutput>, rest: u8| {
            let statement = ParcelStatement {
                holder: a.id(),
                inputs: vec![root],
                outputs,
            };
            Hop::sign(&a.key, statement, Digest([rest; 32]), &zero).unwrap()
        };
        let out = |to: DeviceId, n: u128| ParcelOutput {
            input: 0,
            to,
            amount: Amount(n),
        };
        let mut outs = vec![out(b.id(), 70), out(a.id(), 30)];
        outs.sort_by_key(|o| o.to);
        let h1 = hop(outs, 1);
        let h2 = hop(vec![out(c.id(), 100)], 2);
        put(&format!("{s}.parcel.root_id"), "-", root.as_bytes());
        put(
            &format!("{s}.parcel.statement"),
            "dsm.v1.ParcelStatement",
            &h1.statement.to_bytes(),
        );
        put(
            &format!("{s}.parcel.statement.digest"),
            "-",
            h1.statement.digest().as_bytes(),
        );
        put(&format!("{s}.parcel.commit"), "-", h1.commit().as_bytes());
        put(
            &format!("{s}.parcel.output_0.id"),
            "-",
            h1.output_ids()[0].as_bytes(),
        );
        put(&format!("{s}.parcel.hop"), "dsm.v1.Hop", &h1.to_bytes());
        let (manifest, _) = Lineage {
            start: LineageStart::Root(b"vector source".to_vec()),
            hops: vec![h1.clone()],
            signers: vec![a.identity.clone()],
            consumed: Vec::new(),
        }
        .to_objects(&h1.output_ids()[0]);
        put(
            &format!("{s}.parcel.manifest"),
            "dsm.v1.LineageManifest",
            &manifest.to_bytes(),
        );
        put(
            &format!("{s}.slot.device_slots_owner(a)"),
            "-",
            dsm_core::slot::device_slots_owner(&a.identity).as_bytes(),
        );
        let (owner, key) =
            dsm_core::slot::anchor_slot(&a.identity, &dsm_core::chain::HeadDigest(Digest([1; 32])));
        put(
            &format!("{s}.slot.anchor_slot(a, parent 01..)"),
            "-",
            &[*owner.as_bytes(), *key.as_bytes()].concat(),
        );
        put(
            &format!("{s}.slot.recovery_owner(a's genesis, authority a)"),
            "-",
            dsm_core::slot::recovery_owner(&a.identity.genesis, &a.identity.public_key).as_bytes(),
        );
        put(
            &format!("{s}.slot.admission(authority a, device a)"),
            "dsm.v1.Admission",
            &dsm_core::slot::Admission::Authority {
                genesis_blind: dsm_core::slot::genesis_blind(&a.identity.genesis),
                device: Some((
                    a.identity.public_key.clone(),
                    dsm_core::slot::admit_authority(&a.key, &a.identity, &a.identity.public_key)
                        .unwrap(),
                )),
            }
            .to_bytes(),
        );
        assert_eq!(h1.statement.inputs.len(), 1, "one parcel slot, one body");
        let (topic, locator) =
            dsm_core::seal::object_locator(&dsm_core::hash::object_address(&h1.to_bytes()));
        put(
            &format!("{s}.sealed_object.locator(hop)"),
            "-",
            &[*topic.as_bytes(), *locator.as_bytes()].concat(),
        );
        put(
            &format!("{s}.sealed_object(hop)"),
            "-",
            &dsm_core::seal::seal_object(&h1.to_bytes()),
        );
        let sealed = dsm_core::parcel::seal_hop(&h1.statement.inputs[0], &h1);
        put(&format!("{s}.parcel.sealed_hop"), "-", &sealed);
        let slot_write = dsm_core::slot::SlotWrite::sign(
            dsm_core::slot::Admission::DeviceSlots {
                genesis_blind: dsm_core::slot::genesis_blind(&a.identity.genesis),
            },
            &a.key,
            // The parcel's own slot (PROTOCOL.md §5.6): (holder's slot owner, H(ParcelSlot,
            // P)), holding the hop sealed under P.
            dsm_core::slot::hop_entries(&h1, &a.identity),
            // Hedged randomness 00 01 … 1f, so that its use is pinned byte by byte.
            &core::array::from_fn(|i| i as u8),
        )
        .unwrap();
        put(
            &format!("{s}.slot.owned_put(hop)"),
            "dsm.v1.OwnedPut",
            &dsm_core::slot::OwnedPut {
                write: slot_write,
                body: sealed,
            }
            .to_bytes(),
        );
        // A's read of its introduction address after seq 5 and of one relationship address
        // (blind 09…09) from the start, at one node (§16.1).
        let node = "127.0.0.1:7800";
        use dsm_core::slot::{B0xCursor, B0xOp, B0xRead, B0xScope};
        let scope = B0xScope {
            owner: dsm_core::slot::device_slots_owner(&a.identity),
            entries: vec![
                B0xCursor {
                    blind: None,
                    cursor: 5,
                },
                B0xCursor {
                    blind: Some(Digest([9; 32])),
                    cursor: 0,
                },
            ],
        };
        put(
            &format!("{s}.b0x.read.message(127.0.0.1:7800,list)"),
            "-",
            B0xRead::message(node, B0xOp::List, &scope).as_bytes(),
        );
        let read = B0xRead::sign(
            dsm_core::slot::Admission::DeviceSlots {
                genesis_blind: dsm_core::slot::genesis_blind(&a.identity.genesis),
            },
            &a.key,
            node,
            B0xOp::List,
            scope,
            &zero,
        )
        .unwrap();
        read.check(node, B0xOp::List).unwrap();
        assert_eq!(
            read.check(node, B0xOp::Acknowledge),
            Err(dsm_core::slot::SlotAuthError::Signature)
        );
        put(&format!("{s}.b0x.read"), "dsm.v1.B0xRead", &read.to_bytes());
        let fork = ParcelFork::new(a.identity.clone(), h1, h2).unwrap();
        put(
            &format!("{s}.parcel.fork"),
            "dsm.v1.ParcelFork",
            &fork.to_bytes(),
        );
        let (proof, _) = EquivocationProof::parcel_fork(fork).unwrap();
        put(
            &format!("{s}.parcel.fork_proof"),
            "dsm.v1.EquivocationProof",
            &proof.to_bytes(),
        );

        // Crossing (§7.6): devices 4 and 5 pay each other from the genesis tip; the winner's
        // receiver refuses the loser naming its own pending step, the loser's sender releases
        // and accepts the winner naming its released step.
        let (mut d, mut e) = (Device::new(suite, 4), Device::new(suite, 5));
        d.fund(token(), 100);
        e.fund(token(), 100);
        let pd = propose(
            &d.local(),
            &e.id(),
            token(),
            Amount(5),
            &inputs_of(&d.local(), token(), Amount(5)),
            &zero,
        )
        .unwrap();
        let pe = propose(
            &e.local(),
            &d.id(),
            token(),
            Amount(3),
            &inputs_of(&e.local(), token(), Amount(3)),
            &zero,
        )
        .unwrap();
        let rel = pd.signed.proposal.step.relationship;
        d.head = pd.child_head.clone();
        d.tree.insert(*rel.as_bytes(), pd.child_tip.0);
        e.head = pe.child_head.clone();
        e.tree.insert(*rel.as_bytes(), pe.child_tip.0);
        let ((mut w, win), (mut l, lose)) =
            if wins_crossing(&pd.signed.proposal.step, &pe.signed.proposal.step) {
                ((d, pd), (e, pe))
            } else {
                ((e, pe), (d, pd))
            };
        let vlose = verify_proposal(&lose.signed, &EmptyView).unwrap();
        let vwin = verify_proposal(&win.signed, &EmptyView).unwrap();
        let refusal = refuse_crossed(
            &w.local(),
            &vlose,
            7,
            None,
            Some(&win.signed.proposal.step),
            &zero,
        )
        .unwrap();
        put(
            &format!("{s}.cross.loser_proposal"),
            "dsm.v1.SignedProposal",
            &lose.signed.to_bytes(),
        );
        put(
            &format!("{s}.cross.refusal"),
            "dsm.v1.SignedRefusal",
            &refusal.signed.to_bytes(),
        );
        w.head = refusal.child_head;
        let vr = verify_refusal(&vlose, &refusal.signed, &EmptyView).unwrap();
        let released = release(&l.local(), &vr).unwrap();
        l.head = released.child_head;
        l.tree.insert(*rel.as_bytes(), released.release_tip.0);
        let acc = accept_crossed(
            &l.local(),
            &vwin,
            &common::trusted_lineages(&vwin),
            Some(&lose.signed.proposal.step),
            &zero,
        )
        .unwrap();
        put(
            &format!("{s}.cross.receipt"),
            "dsm.v1.Receipt",
            &acc.receipt.to_bytes(),
        );
        assert_eq!(w.head.smt_root, acc.child_head.smt_root, "the trees agree");

        // A queue (§7.7): device 6 queues 5 then 4 to device 7, which refuses the first,
        // then the second behind it.
        let (mut f, mut g) = (Device::new(suite, 6), Device::new(suite, 7));
        f.fund(token(), 100);
        let mut queue = Vec::new();
        for amount in [5, 4] {
            let p = propose(
                &f.local(),
                &g.id(),
                token(),
                Amount(amount),
                &inputs_of(&f.local(), token(), Amount(amount)),
                &zero,
            )
            .unwrap();
            f.head = p.child_head.clone();
            f.tree.insert(
                *p.signed.proposal.step.relationship.as_bytes(),
                p.child_tip.0,
            );
            queue.push(p);
        }
        let rel = queue[0].signed.proposal.step.relationship;
        let v0 = verify_proposal(&queue[0].signed, &EmptyView).unwrap();
        let r0 = refuse(&g.local(), &v0, 5, &zero).unwrap();
        g.head = r0.child_head.clone();
        g.tree.insert(*rel.as_bytes(), r0.leaf.0);
        let v1 = verify_proposal(&queue[1].signed, &EmptyView).unwrap();
        let r1 = refuse_queued(
            &g.local(),
            &v1,
            5,
            &[queue[0].signed.proposal.step.clone()],
            &zero,
        )
        .unwrap();
        for (name, p, r) in [("first", &queue[0], &r0), ("second", &queue[1], &r1)] {
            put(
                &format!("{s}.queue.{name}_proposal"),
                "dsm.v1.SignedProposal",
                &p.signed.to_bytes(),
            );
            put(
                &format!("{s}.queue.{name}_refusal"),
                "dsm.v1.SignedRefusal",
                &r.signed.to_bytes(),
            );
        }
    }
    v
}

#[test]
fn vectors_match_the_file() {
    let text = dsm_conformance::render(
        "DSM v1 conformance vectors. Format: name <TAB> proto message type or '-' <TAB> hex\n\
         # Generated by crates/dsm-core/tests/vectors.rs; see PROTOCOL.md §10.",
        &compute(),
    );
    dsm_conformance::check_file(PATH, &text);
}

#[test]
fn file_vectors_decode_strictly_and_verify() {
    let file = std::fs::read_to_string(PATH).unwrap();
    let mut receipts = 0;
    let mut proofs = 0;
    let mut forks = 0;
    let mut refusals = 0;
    let mut last_proposal = Vec::new();
    for line in file.lines().filter(|l| !l.starts_with('#')) {
        let mut it = line.split('\t');
        let (name, ty, hexs) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
        let bytes = hex::decode(hexs).unwrap();
        match ty {
            "dsm.v1.Receipt" => {
                let v = verify_receipt_bytes(&bytes, &EmptyView)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(v.receipt().to_bytes(), bytes);
                receipts += 1;
            }
            "dsm.v1.EquivocationProof" => {
                EquivocationProof::verify_bytes(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
                proofs += 1;
            }
            "dsm.v1.SignedRefusal" => {
                // Checked against the refused proposal, the line before it.
                let p = SignedProposal::from_bytes(&last_proposal).unwrap();
                let vp = verify_proposal(&p, &EmptyView).unwrap_or_else(|e| panic!("{name}: {e}"));
                let r = SignedRefusal::from_bytes(&bytes).unwrap();
                verify_refusal(&vp, &r, &EmptyView).unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(r.to_bytes(), bytes);
                refusals += 1;
            }
            "dsm.v1.SignedProposal" => last_proposal = bytes.clone(),
            "dsm.v1.ParcelFork" => {
                let f = dsm_core::parcel::ParcelFork::from_bytes(&bytes)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
                f.verify().unwrap_or_else(|e| panic!("{name}: {e}"));
                forks += 1;
            }
            "dsm.v1.SmtProof" => {
                assert_eq!(SmtProof::from_bytes(&bytes).unwrap().to_bytes(), bytes)
            }
            "dsm.v1.DeviceHead" => {
                assert_eq!(DeviceHead::from_bytes(&bytes).unwrap().to_bytes(), bytes)
            }
            "dsm.v1.GenesisRecord" => {
                assert_eq!(GenesisRecord::from_bytes(&bytes).unwrap().to_bytes(), bytes)
            }
            _ => {}
        }
    }
    assert_eq!((receipts, proofs, forks, refusals), (4, 4, 2, 6));
}
