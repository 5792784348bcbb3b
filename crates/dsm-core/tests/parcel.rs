//! Parcels and lineages (PROTOCOL.md §5.6): a valid lineage verifies from its root and
//! from a cached ancestor with the same answer; every refusal of `verify_lineage` is fed
//! its bad input and pinned; the statement decoder refuses merging, repeats and zero
//! amounts; a parcel consumed twice by one device is transferable evidence.

use dsm_core::chain::{Amount, TokenId};
use dsm_core::codec::{Canonical, DecodeError, Writer};
use dsm_core::crypto::{SecretSeed, SigningKey, SuiteId};
use dsm_core::hash::{tagged_hash, Digest};
use dsm_core::identity::{DeviceId, DeviceIdentity, GenesisDigest};
use dsm_core::parcel::*;
use dsm_core::tags::Tag;
use std::collections::HashMap;

struct Dev {
    key: SigningKey,
    identity: DeviceIdentity,
}

impl Dev {
    fn new(n: u8) -> Dev {
        let key = SigningKey::from_seed(SuiteId::MlDsa65, &SecretSeed::from_bytes([n; 32]));
        let identity = DeviceIdentity {
            genesis: GenesisDigest(tagged_hash(Tag::Genesis, &[&[n]])),
            public_key: key.public_key().clone(),
        };
        Dev { key, identity }
    }
    fn id(&self) -> DeviceId {
        self.identity.device_id()
    }
    /// Signs a statement consuming `inputs`; `outputs` are (input index, to, amount).
    fn sign(&self, inputs: &[ParcelId], outputs: &[(u32, &Dev, u128)], rest: u8) -> Hop {
        let mut ins = inputs.to_vec();
        ins.sort();
        let mut outputs: Vec<ParcelOutput> = outputs
            .iter()
            .map(|(i, d, a)| ParcelOutput {
                input: *i,
                to: d.id(),
                amount: Amount(*a),
            })
            .collect();
        outputs.sort_by_key(|o| (o.input, o.to));
        let statement = ParcelStatement {
            holder: self.id(),
            inputs: ins,
            outputs,
        };
        Hop::sign(&self.key, statement, Digest([rest; 32]), &[rest; 32]).unwrap()
    }
}

/// A stand-in token layer for these tests: a source is `token ‖ u128be(amount) ‖ holder ‖
/// once-key` (112 bytes); anything else is refused.
struct TestRoots;

impl RootVerifier for TestRoots {
    fn verify_root(&mut self, s: &[u8], _: Option<&DeviceId>) -> Result<RootFacts, String> {
        if s.len() != 112 {
            return Err("not a test source".into());
        }
        Ok(RootFacts {
            token: TokenId(Digest(s[..32].try_into().unwrap())),
            amount: Amount(u128::from_be_bytes(s[32..48].try_into().unwrap())),
            holder: DeviceId(Digest(s[48..80].try_into().unwrap())),
            once_key: Digest(s[80..].try_into().unwrap()),
            burned: None,
        })
    }
}

fn source(holder: &Dev, amount: u128) -> Vec<u8> {
    let mut s = TokenId::from_label("GOLD").as_bytes().to_vec();
    s.extend_from_slice(&amount.to_be_bytes());
    s.extend_from_slice(holder.id().as_bytes());
    s.extend_from_slice(&[9; 32]);
    s
}

/// A root of 100 for a, then a → b (70, change 30), b → c (50, change 20).
struct World {
    a: Dev,
    b: Dev,
    c: Dev,
    root: Vec<u8>,
    root_id: ParcelId,
    hops: Vec<Hop>,
}

fn world() -> World {
    let (a, b, c) = (Dev::new(1), Dev::new(2), Dev::new(3));
    let root = source(&a, 100);
    let root_id = root_id(&RootFacts {
        once_key: Digest([9; 32]),
        token: TokenId::from_label("GOLD"),
        amount: Amount(100),
        holder: a.id(),
        burned: None,
    });
    let h1 = a.sign(&[root_id], &[(0, &b, 70), (0, &a, 30)], 1);
    let to_b = h1.output_ids()[h1
        .statement
        .outputs
        .iter()
        .position(|o| o.to == b.id())
        .unwrap()];
    let h2 = b.sign(&[to_b], &[(0, &c, 50), (0, &b, 20)], 2);
    World {
        a,
        b,
        c,
        root,
        root_id,
        hops: vec![h1, h2],
    }
}

impl World {
    fn lineage(&self) -> Lineage {
        Lineage {
            start: LineageStart::Root(self.root.clone()),
            hops: self.hops.clone(),
            signers: vec![self.a.identity.clone(), self.b.identity.clone()],
            consumed: Vec::new(),
        }
    }
    fn target(&self) -> ParcelId {
        let h = &self.hops[1];
        h.output_ids()[h
            .statement
            .outputs
            .iter()
            .position(|o| o.to == self.c.id())
            .unwrap()]
    }
    fn check(&self, l: &Lineage) -> Result<VerifiedLineage, LineageError> {
        verify_lineage(
            l,
            &self.target(),
            None,
            &mut TestRoots,
            &ParcelKnowledge::new(),
        )
    }
}

#[test]
fn a_lineage_verifies_from_its_root_and_from_a_cached_ancestor_alike() {
    let w = world();
    let v = w.check(&w.lineage()).unwrap();
    assert_eq!(
        *v.parcel(),
        Parcel {
            id: w.target(),
            token: TokenId::from_label("GOLD"),
            amount: Amount(50),
            holder: w.c.id()
        }
    );
    assert_eq!(v.line().len(), 3);
    assert_eq!(v.line()[0].id, w.root_id);
    assert_eq!(v.root_once_key(), Some(&Digest([9; 32])));
    // From the cache: the line up to b's parcel, then the last hop alone.
    let mut cache = ParcelKnowledge::new();
    for k in cache.new_on(&v).into_iter().take(2) {
        cache.insert(k);
    }
    let warm = Lineage {
        start: LineageStart::Verified(v.line()[1].id),
        hops: vec![w.hops[1].clone()],
        signers: vec![w.b.identity.clone()],
        consumed: Vec::new(),
    };
    let v2 = verify_lineage(&warm, &w.target(), None, &mut TestRoots, &cache).unwrap();
    assert_eq!(v2.parcel(), v.parcel());
    assert_eq!(v2.root_once_key(), None);
    // The same warm lineage against a cold cache: refused, never trusted.
    assert_eq!(
        verify_lineage(
            &warm,
            &w.target(),
            None,
            &mut TestRoots,
            &ParcelKnowledge::new()
        )
        .unwrap_err(),
        LineageError::UnknownAncestor(v.line()[1].id)
    );
    // The root parcel itself: a lineage with no hops.
    let bare = Lineage {
        start: LineageStart::Root(w.root.clone()),
        hops: vec![],
        signers: vec![],
        consumed: Vec::new(),
    };
    assert_eq!(
        verify_lineage(
            &bare,
            &w.root_id,
            None,
            &mut TestRoots,
            &ParcelKnowledge::new()
        )
        .unwrap()
        .parcel()
        .amount,
        Amount(100)
    );
}

#[test]
fn every_lineage_refusal_is_pinned() {
    let w = world();
    // An unknown root.
    let mut l = w.lineage();
    l.start = LineageStart::Root(vec![0; 3]);
    assert_eq!(
        w.check(&l).unwrap_err(),
        LineageError::Root("not a test source".into())
    );
    // A fabricated root: another amount makes another root id, which hop 0 does not consume.
    let mut l = w.lineage();
    l.start = LineageStart::Root(source(&w.a, 1_000_000));
    assert_eq!(
        w.check(&l).unwrap_err(),
        LineageError::NotAnInput { hop: 0 }
    );
    // A signer's identity missing.
    let mut l = w.lineage();
    l.signers.pop();
    assert_eq!(
        w.check(&l).unwrap_err(),
        LineageError::UnknownSigner { hop: 1 }
    );
    // Hop 1 claimed by a device that was never paid (c re-signs b's statement as its own
    // holder): no output of hop 0 leads to c.
    let mut l = w.lineage();
    let mut forged = w.hops[1].clone();
    forged.statement.holder = w.c.id();
    forged.signature = w.c.key.sign(forged.commit().as_bytes(), &[3; 32]).unwrap();
    l.signers.push(w.c.identity.clone());
    l.hops[1] = forged;
    assert_eq!(w.check(&l).unwrap_err(), LineageError::NoOutput { hop: 0 });
    // The first hop signed by someone other than the root's holder.
    let mut l = w.lineage();
    l.hops = vec![w.b.sign(&[w.root_id], &[(0, &w.c, 100)], 5)];
    assert_eq!(
        w.check(&l).unwrap_err(),
        LineageError::WrongHolder { hop: 0 }
    );
    // Outputs that add up to more than the parcel (b mints 10 on the way), validly signed.
    let mut l = w.lineage();
    let to_b = w.hops[0].output_ids()[w.hops[0]
        .statement
        .outputs
        .iter()
        .position(|o| o.to == w.b.id())
        .unwrap()];
    l.hops[1] = w.b.sign(&[to_b], &[(0, &w.c, 60), (0, &w.b, 20)], 2);
    assert_eq!(
        w.check(&l).unwrap_err(),
        LineageError::NotConserved { hop: 1 }
    );
    // An altered hop: the amount changed after signing.
    let mut l = w.lineage();
    l.hops[1].statement.outputs[0].amount = Amount(21);
    l.hops[1].statement.outputs[1].amount = Amount(49);
    assert!(matches!(
        w.check(&l).unwrap_err(),
        LineageError::Signature { hop: 1, .. }
    ));
    // A forged signature.
    let mut l = w.lineage();
    l.hops[0].signature =
        w.b.key
            .sign(l.hops[0].commit().as_bytes(), &[0; 32])
            .unwrap();
    assert!(matches!(
        w.check(&l).unwrap_err(),
        LineageError::Signature { hop: 0, .. }
    ));
    // A hop left out: b's statement does not consume the root.
    let mut l = w.lineage();
    l.hops.remove(0);
    assert_eq!(
        w.check(&l).unwrap_err(),
        LineageError::WrongHolder { hop: 0 }
    );
    // Asking about another parcel (b's change).
    let h = &w.hops[1];
    let change = h.output_ids()[h
        .statement
        .outputs
        .iter()
        .position(|o| o.to == w.b.id())
        .unwrap()];
    assert_eq!(
        verify_lineage(
            &w.lineage(),
            &Digest([7; 32]).into_id(),
            None,
            &mut TestRoots,
            &ParcelKnowledge::new()
        )
        .unwrap_err(),
        LineageError::NoOutput { hop: 1 }
    );
    assert_eq!(
        verify_lineage(
            &w.lineage(),
            &change,
            None,
            &mut TestRoots,
            &ParcelKnowledge::new()
        )
        .unwrap()
        .parcel()
        .holder,
        w.b.id()
    );
    // A hop whose next holder received nothing from it.
    let mut l = w.lineage();
    l.hops[1] = w.c.sign(&[w.target()], &[(0, &w.a, 50)], 3);
    l.signers.push(w.c.identity.clone());
    assert_eq!(w.check(&l).unwrap_err(), LineageError::NoOutput { hop: 0 });
}

trait IntoId {
    fn into_id(self) -> ParcelId;
}
impl IntoId for Digest {
    fn into_id(self) -> ParcelId {
        ParcelId(self)
    }
}

#[test]
fn the_statement_decoder_refuses_merging_repeats_and_zero_amounts() {
    let w = world();
    let good = w.hops[0].statement.clone();
    assert_eq!(ParcelStatement::from_bytes(&good.to_bytes()).unwrap(), good);
    let enc = |s: &ParcelStatement| {
        // Encode without the builder's checks (the encoder writes what it is given).
        let mut wr = Writer::new();
        s.encode(&mut wr);
        wr.into_bytes()
    };
    let refused = |s: ParcelStatement, why: &str| {
        assert_eq!(
            ParcelStatement::from_bytes(&enc(&s)).unwrap_err(),
            DecodeError::Invalid(match why {
                "none" => "a parcel statement consumes a parcel",
                "order" => "parcel inputs are strictly ascending (no repeats)",
                "outputs" => "parcel outputs are strictly ascending by (input, to)",
                "dangling" => "a parcel output names no input",
                _ => "each parcel input has one or two outputs (no merging)",
            }),
            "{why}"
        );
    };
    let mut s = good.clone();
    s.inputs.clear();
    refused(s, "none");
    let mut s = good.clone();
    s.inputs.push(s.inputs[0]);
    refused(s, "order");
    let mut s = good.clone();
    s.outputs.reverse();
    refused(s, "outputs");
    let mut s = good.clone();
    s.outputs[1].input = 1;
    refused(s, "dangling");
    // A third output of one input.
    let mut s = good.clone();
    s.outputs.push(ParcelOutput {
        input: 0,
        to: DeviceId(Digest([0xff; 32])),
        amount: Amount(1),
    });
    refused(s, "three");
    // An input with no output.
    let mut s = good.clone();
    s.inputs.push(ParcelId(Digest([0xff; 32])));
    refused(s, "none-out");
    // Two outputs of one input to one device.
    let mut s = good.clone();
    s.outputs[1].to = s.outputs[0].to;
    refused(s, "outputs");
    // A zero amount.
    let mut s = good;
    s.outputs[0].amount = Amount(0);
    assert_eq!(
        ParcelStatement::from_bytes(&enc(&s)).unwrap_err(),
        DecodeError::Invalid("a parcel output has a non-zero amount")
    );
}

/// A known parcel fork refuses the parcel in conflict and everything descending from it,
/// cold or warm (the cache forgets the descendants); evidence naming a device that never
/// held the parcel taints nothing.
#[test]
fn a_parcel_in_conflict_and_its_descendants_are_refused_cold_and_warm() {
    let w = world();
    let v = w.check(&w.lineage()).unwrap();
    let mut known = ParcelKnowledge::new();
    for k in known.new_on(&v) {
        known.insert(k);
    }
    assert_eq!(known.len(), 3);
    // Evidence that c (who never held the root) consumed the root twice: nothing changes.
    assert!(known.add_conflict(w.root_id, w.c.id()).is_empty());
    assert!(verify_lineage(&w.lineage(), &w.target(), None, &mut TestRoots, &known).is_ok());
    // b's parcel is proven consumed twice by b: it stays known, its descendant goes.
    let b_parcel = v.line()[1].id;
    assert_eq!(known.add_conflict(b_parcel, w.b.id()), vec![w.target()]);
    assert!(known.contains(&b_parcel) && !known.contains(&w.target()));
    assert_eq!(
        verify_lineage(&w.lineage(), &w.target(), None, &mut TestRoots, &known).unwrap_err(),
        LineageError::InConflict {
            hop: 1,
            parcel: b_parcel
        }
    );
    // A cold verifier that knows the conflict gives the same answer.
    let mut cold = ParcelKnowledge::new();
    cold.add_conflict(b_parcel, w.b.id());
    assert_eq!(
        verify_lineage(&w.lineage(), &w.target(), None, &mut TestRoots, &cold).unwrap_err(),
        LineageError::InConflict {
            hop: 1,
            parcel: b_parcel
        }
    );
    // b spending the parcel in conflict itself (the lineage ends at it).
    let to_b = Lineage {
        hops: w.hops[..1].to_vec(),
        ..w.lineage()
    };
    assert_eq!(
        verify_lineage(&to_b, &b_parcel, Some(&w.b.id()), &mut TestRoots, &cold).unwrap_err(),
        LineageError::InConflict {
            hop: 1,
            parcel: b_parcel
        }
    );
    // The root's line up to b is still good value for anyone else.
    assert!(verify_lineage(&to_b, &b_parcel, None, &mut TestRoots, &cold).is_ok());
}

#[test]
fn one_parcel_consumed_twice_by_one_device_is_evidence() {
    let w = world();
    // a spends the root again later (another statement, another rest): a fork even though
    // nothing says its heads forked.
    let again = w.a.sign(&[w.root_id], &[(0, &w.c, 100)], 9);
    let fork = ParcelFork::new(w.a.identity.clone(), w.hops[0].clone(), again.clone()).unwrap();
    assert_eq!(fork.verify(), Ok((w.a.id(), w.root_id)));
    let back = ParcelFork::from_bytes(&fork.to_bytes()).unwrap();
    assert_eq!(back, fork);
    // The other order does not decode: one fork, one encoding.
    let mut wr = Writer::new();
    wr.message(1, &fork.signer);
    wr.message(2, &fork.second);
    wr.message(3, &fork.first);
    assert_eq!(
        format!(
            "{:?}",
            ParcelFork::from_bytes(&wr.into_bytes()).unwrap_err()
        ),
        "Invalid(\"a parcel fork lists its statements by ascending commit\")"
    );
    assert!(ParcelFork::new(w.a.identity.clone(), again.clone(), again.clone()).is_none());
    // Not evidence: statements of two devices, disjoint inputs, a forged signature.
    let other = ParcelFork::new(w.b.identity.clone(), w.hops[0].clone(), again.clone()).unwrap();
    assert_eq!(other.verify(), Err(ParcelForkError::DifferentSigners));
    let disjoint = w.a.sign(&[ParcelId(Digest([5; 32]))], &[(0, &w.c, 1)], 8);
    let f = ParcelFork::new(w.a.identity.clone(), w.hops[0].clone(), disjoint).unwrap();
    assert_eq!(f.verify(), Err(ParcelForkError::NotConflicting));
    let mut forged = fork.clone();
    forged.second.signature =
        w.b.key
            .sign(forged.second.commit().as_bytes(), &[1; 32])
            .unwrap();
    assert!(matches!(
        forged.verify(),
        Err(ParcelForkError::Signature(_))
    ));
    let mut same = fork;
    same.second = same.first.clone();
    assert_eq!(same.verify(), Err(ParcelForkError::Identical));
}

/// A lineage travels as a manifest plus content-addressed objects and comes back identical;
/// a missing, altered or mistyped object is refused by address; the manifest decodes
/// strictly and fits one storage-node object at its hop cap.
#[test]
fn a_lineage_travels_as_a_manifest_and_objects() {
    let w = world();
    let l = w.lineage();
    let (m, objects) = l.to_objects(&w.target());
    // root + 2 hops + 2 signers, each once.
    assert_eq!(objects.len(), 5);
    assert_eq!(LineageManifest::from_bytes(&m.to_bytes()).unwrap(), m);
    let store: HashMap<Digest, Vec<u8>> = objects.iter().cloned().collect();
    let back = Lineage::from_objects(&m, &store).unwrap();
    assert_eq!((&back.start, &back.hops), (&l.start, &l.hops));
    let ids = |v: &[DeviceIdentity]| {
        let mut x: Vec<DeviceId> = v.iter().map(|i| i.device_id()).collect();
        x.sort();
        x
    };
    assert_eq!(ids(&back.signers), ids(&l.signers));
    assert!(verify_lineage(
        &back,
        &m.parcel,
        None,
        &mut TestRoots,
        &ParcelKnowledge::new()
    )
    .is_ok());
    // A missing object is named, so it can be asked for.
    let mut partial = store.clone();
    partial.remove(&m.hops[1]);
    assert_eq!(
        Lineage::from_objects(&m, &partial).unwrap_err(),
        ManifestError::Missing(m.hops[1])
    );
    // Bytes that do not hash to their address are not the object.
    let mut altered = store.clone();
    altered.get_mut(&m.hops[0]).unwrap()[40] ^= 1;
    assert_eq!(
        Lineage::from_objects(&m, &altered).unwrap_err(),
        ManifestError::Missing(m.hops[0])
    );
    // An object listed as a hop that is an identity does not decode as a hop.
    let mut mistyped = m.clone();
    mistyped.hops[0] = m.signers[0];
    assert!(matches!(
        Lineage::from_objects(&mistyped, &store).unwrap_err(),
        ManifestError::Decode { address, .. } if address == m.signers[0]
    ));
    // The manifest's start is exactly one of root or verified; signers once.
    let mut wr = Writer::new();
    wr.bytes(1, m.parcel.as_bytes());
    assert_eq!(
        LineageManifest::from_bytes(&wr.into_bytes()).unwrap_err(),
        DecodeError::Invalid("a manifest starts at a root or at a verified parcel, exactly one")
    );
    let mut twice = m.clone();
    twice.signers.push(twice.signers[1]);
    let mut wr = Writer::new();
    twice.encode(&mut wr);
    assert_eq!(
        LineageManifest::from_bytes(&wr.into_bytes()).unwrap_err(),
        DecodeError::Invalid("a manifest lists its signers once each, by ascending address")
    );
    // At the cap it fits a storage-node object (256 KiB); one more hop is refused.
    let full = LineageManifest {
        parcel: m.parcel,
        start: ManifestStart::Verified(m.parcel),
        hops: vec![Digest([1; 32]); MAX_MANIFEST_HOPS],
        signers: {
            let mut v: Vec<Digest> = (0..=MAX_MANIFEST_HOPS as u32)
                .map(|i| tagged_hash(Tag::Token, &[&i.to_be_bytes()]))
                .collect();
            v.sort();
            v
        },
        consumed: Vec::new(),
    };
    let bytes = full.to_bytes();
    assert!(bytes.len() <= 256 * 1024, "{}", bytes.len());
    assert_eq!(LineageManifest::from_bytes(&bytes).unwrap(), full);
    let mut over = full;
    over.hops.push(Digest([1; 32]));
    let mut wr = Writer::new();
    over.encode(&mut wr);
    assert!(matches!(
        LineageManifest::from_bytes(&wr.into_bytes()).unwrap_err(),
        DecodeError::TooMany { field: 4, .. } | DecodeError::TooLarge { .. }
    ));
}

/// A parcel slot's bytes are judged by commit, never by bytes: another signature over the
/// same statement is the same spend; another statement of the holder consuming the parcel
/// is a verified fork; everything else is noise — a hop in clear, or sealed for another
/// parcel, included (PROTOCOL.md §5.6: a slot holds the hop sealed under the parcel id).
#[test]
fn a_parcel_slot_is_judged_by_commit() {
    let w = world();
    let spend = &w.hops[0];
    let (a, b) = parcel_slot(&w.root_id, &w.a.identity);
    assert_eq!(
        a,
        dsm_core::slot::device_slots_owner(&w.a.identity),
        "the holder owns the slot"
    );
    assert_ne!(
        a,
        *w.a.id().digest(),
        "the slot's owner is not the device id"
    );
    assert_eq!(b, tagged_hash(Tag::ParcelSlot, &[w.root_id.as_bytes()]));
    let sealed = |h: &Hop| seal_hop(&w.root_id, h);
    let judge = |bytes: &[u8]| judge_slot(bytes, &w.root_id, spend, &w.a.identity);
    assert_eq!(judge(&sealed(spend)), SlotContent::Same);
    let mut resigned = spend.clone();
    resigned.signature = w.a.key.sign(spend.commit().as_bytes(), &[42; 32]).unwrap();
    assert_ne!(sealed(&resigned), sealed(spend));
    assert_eq!(judge(&sealed(&resigned)), SlotContent::Same);
    let again = w.a.sign(&[w.root_id], &[(0, &w.c, 100)], 9);
    assert!(
        matches!(judge(&sealed(&again)), SlotContent::Conflict(f) if f.verify() == Ok((w.a.id(), w.root_id)))
    );
    // Noise: junk, a statement of another holder, another parcel, a forged signature, the
    // hop in clear, the hop sealed for another parcel.
    assert_eq!(judge(b"junk"), SlotContent::Noise);
    assert_eq!(judge(&sealed(&w.hops[1])), SlotContent::Noise);
    let other = ParcelId(Digest([3; 32]));
    let elsewhere = w.a.sign(&[other], &[(0, &w.c, 1)], 7);
    assert_eq!(judge(&sealed(&elsewhere)), SlotContent::Noise);
    let mut forged = again.clone();
    forged.signature = spend.signature.clone();
    assert_eq!(judge(&sealed(&forged)), SlotContent::Noise);
    assert_eq!(judge(&again.to_bytes()), SlotContent::Noise);
    assert_eq!(judge(&seal_hop(&other, &again)), SlotContent::Noise);
    // What a refresher asks of a burned parcel's slot: any spend of it by its holder, and
    // nothing a stranger could write.
    let spent = |bytes: &[u8]| spend_in_slot(bytes, &w.root_id, &w.a.identity);
    assert_eq!(spent(&sealed(spend)), Some(spend.clone()));
    assert_eq!(spent(&sealed(&again)), Some(again.clone()));
    for noise in [
        b"junk".to_vec(),
        sealed(&w.hops[1]),
        sealed(&elsewhere),
        sealed(&forged),
        again.to_bytes(),
        seal_hop(&other, &again),
    ] {
        assert_eq!(spent(&noise), None);
    }
}

/// A lineage object at the storage nodes (PROTOCOL.md §2, "Sealed objects"; §5.6): sealed
/// under its own object address at a locator derived from it, so a node sees neither; it
/// opens only under that address, to bytes that hash to it.
#[test]
fn a_lineage_object_opens_only_under_its_own_address() {
    use dsm_core::hash::object_address;
    use dsm_core::seal::{object_locator, open_object, seal_object};
    let w = world();
    let hop = w.hops[0].to_bytes();
    let addr = object_address(&hop);
    let sealed = seal_object(&hop);
    assert_eq!(seal_object(&hop), sealed, "deterministic: stored once");
    assert!(
        !sealed.windows(32).any(|x| x == addr.as_bytes().as_slice()),
        "the sealed object does not show its address"
    );
    assert_eq!(open_object(&addr, &sealed), Some(hop.clone()));
    let other = object_address(&w.hops[1].to_bytes());
    assert_eq!(open_object(&other, &sealed), None);
    assert_eq!(open_object(&addr, &hop), None, "in clear is noise");
    let (topic, key) = object_locator(&addr);
    assert_eq!(
        topic,
        object_locator(&other).0,
        "one topic for every object"
    );
    assert_ne!(key, object_locator(&other).1);
    assert_ne!(key, addr);
}
