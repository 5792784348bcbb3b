//! Value provenance through the real `Wallet` and `Session` (PROTOCOL.md §5.6): a modified
//! wallet that pays value it never received, alone or laundered through a colluding second
//! device, gets a signed refusal naming the lineage, and nothing is credited.

mod common;

use common::*;
use dsm_core::chain::{Amount, TokenId};
use dsm_core::codec::Canonical;
use dsm_core::hash::{object_address, Digest};
use dsm_core::parcel::{LineageManifest, ManifestStart, Parcel, ParcelId};
use dsm_core::receipt::ChainView;
use dsm_core::receipt::{propose, LocalDevice, Offer, SignedProposal};
use dsm_core::tripwire::Equivocation;
use dsm_protocol::message::SessionMessage;
use dsm_protocol::session::{Ledger, RefusalReason, Session};
use dsm_token::policy::TokenKind;
use dsm_wallet::Wallet;

/// `m` signs a payment of `amount` of `token` to `to` from a head it wrote itself (a
/// balance it never received), consuming `input`.
fn fabricated_proposal(
    m: &Wallet,
    to: &Wallet,
    token: TokenId,
    amount: u128,
    input: Parcel,
) -> SignedProposal {
    let fake_head = Ledger::head(m)
        .allocation_child(&token, Amount(amount), Digest([7; 32]))
        .unwrap();
    let l = LocalDevice {
        identity: m.identity(),
        key: m.signing_key(),
        head: &fake_head,
        tree: m.tree(),
    };
    propose(
        &l,
        &to.device_id(),
        token,
        Amount(amount),
        &[input],
        &[3; 32],
    )
    .unwrap()
    .signed
}

fn assert_lineage_refusal(answer: &SessionMessage) {
    match answer {
        SessionMessage::SignedRefusal(r) => {
            assert_eq!(r.refusal.reason, RefusalReason::Lineage.code())
        }
        other => panic!("expected a signed refusal, got {}", other.name()),
    }
}

fn setup() -> (Wallet, TokenId, Wallet, Wallet, Wallet) {
    let (issuer, t, m1, m2, v, _) = setup_with_policy();
    (issuer, t, m1, m2, v)
}

/// [`setup`], and the token's policy for more wallets.
fn setup_with_policy() -> (
    Wallet,
    TokenId,
    Wallet,
    Wallet,
    Wallet,
    dsm_token::TokenPolicy,
) {
    let (mut issuer, _) = memory_wallet(0);
    let p = gold(&issuer, TokenKind::Fungible);
    let (t, _) = issuer.import_policy(p.clone(), None).unwrap();
    let (mut m1, _) = memory_wallet(0);
    let (mut m2, _) = memory_wallet(0);
    let (mut v, _) = memory_wallet(0);
    for w in [&mut m1, &mut m2, &mut v] {
        w.import_policy(p.clone(), None).unwrap();
    }
    (issuer, t, m1, m2, v, p)
}

#[test]
fn a_fabricated_parent_head_is_refused_offline_and_nothing_is_credited() {
    let (_issuer, t, mut m, _, mut v) = setup();
    let (input, root) = made_up_root(&m, t, 1_000_000);
    let signed = fabricated_proposal(&m, &v, t, 1_000_000, input);
    let offer = common::with_write(
        &m,
        Offer {
            manifests: vec![LineageManifest {
                parcel: input.id,
                start: ManifestStart::Root(object_address(&root)),
                hops: vec![],
                signers: vec![],
                consumed: Vec::new(),
            }],
            objects: vec![root],
            signed,
            slot_write: None,
            sealed: Vec::new(),
        },
    );
    let answer = deliver(&mut m, &mut v, offer);
    assert_lineage_refusal(&answer);
    // The signed refusal names the input whose lineage failed.
    match &answer {
        SessionMessage::SignedRefusal(r) => assert_eq!(r.refusal.refused_input, Some(input.id)),
        other => panic!("{}", other.name()),
    }
    assert_eq!(v.balance(&t), Amount::ZERO);
    assert!(v.parcels(&t).is_empty());
}

#[test]
fn a_fabricated_parent_head_is_refused_online_and_never_called_settled() {
    let c = common::cluster::Cluster::new();
    let nodes = c.nodes();
    let (_issuer, t, m, _, mut v) = setup();
    let (input, root) = made_up_root(&m, t, 1_000_000);
    let signed = fabricated_proposal(&m, &v, t, 1_000_000, input);
    let offer = common::with_write(
        &m,
        Offer {
            manifests: vec![LineageManifest {
                parcel: input.id,
                start: ManifestStart::Root(object_address(&root)),
                hops: vec![],
                signers: vec![],
                consumed: Vec::new(),
            }],
            objects: vec![root],
            signed,
            slot_write: None,
            sealed: Vec::new(),
        },
    );
    // The fabricated parent's slot at the nodes is empty, so the head claim itself settles;
    // the lineage is what refuses it.
    nodes
        .b0x_post(
            &v.introduction_address(),
            &SessionMessage::Proposal(Box::new(offer)).to_bytes(),
        )
        .unwrap();
    let r = dsm_wallet::online::sync(&mut v, &nodes).unwrap();
    assert!(r.received.is_empty(), "{r:?}");
    assert_eq!(r.refused.len(), 1, "{r:?}");
    assert_eq!(
        r.refused[0].refusal.refusal.reason,
        RefusalReason::Lineage.code()
    );
    assert_eq!(v.balance(&t), Amount::ZERO);
    assert!(
        v.history()
            .unwrap()
            .iter()
            .all(|h| h.kind != dsm_wallet::EntryKind::Received),
        "nothing received, so nothing can be called settled"
    );
}

#[test]
fn a_parcel_claimed_as_already_verified_is_refused() {
    let (_issuer, t, mut m, _, mut v) = setup();
    let input = Parcel {
        id: ParcelId(Digest([9; 32])),
        token: t,
        amount: Amount(500),
        holder: m.device_id(),
    };
    let signed = fabricated_proposal(&m, &v, t, 500, input);
    let offer = common::with_write(
        &m,
        Offer {
            manifests: vec![LineageManifest {
                parcel: input.id,
                start: ManifestStart::Verified(input.id),
                hops: vec![],
                signers: vec![],
                consumed: Vec::new(),
            }],
            objects: vec![],
            signed,
            slot_write: None,
            sealed: Vec::new(),
        },
    );
    assert_lineage_refusal(&deliver(&mut m, &mut v, offer));
    assert_eq!(v.balance(&t), Amount::ZERO);
}

#[test]
fn value_laundered_through_a_colluding_second_device_is_refused() {
    let (_issuer, t, m1, mut m2, mut v) = setup();
    // M1 makes value up and pays M2 (M2, modified too, takes it without checking).
    let (input, root) = made_up_root(&m1, t, 700);
    let first = fabricated_proposal(&m1, &m2, t, 700, input);
    let hop = first.hop();
    let laundered = Parcel {
        id: hop.output_ids()[0],
        token: t,
        amount: Amount(700),
        holder: m2.device_id(),
    };
    assert_eq!(hop.statement.outputs[0].to, m2.device_id());
    // M2 pays an honest wallet from a head of its own, shipping the whole lineage.
    let second = fabricated_proposal(&m2, &v, t, 700, laundered);
    let hop_bytes = hop.to_bytes();
    let m1_bytes = m1.identity().to_bytes();
    let mut objects = vec![root.clone(), hop_bytes.clone(), m1_bytes.clone()];
    objects.sort();
    let mut signers = vec![object_address(&m1_bytes)];
    signers.sort();
    let offer = common::with_write(
        &m2,
        Offer {
            manifests: vec![LineageManifest {
                parcel: laundered.id,
                start: ManifestStart::Root(object_address(&root)),
                hops: vec![object_address(&hop_bytes)],
                signers,
                consumed: Vec::new(),
            }],
            objects,
            signed: second,
            slot_write: None,
            sealed: Vec::new(),
        },
    );
    assert_lineage_refusal(&deliver(&mut m2, &mut v, offer));
    assert_eq!(v.balance(&t), Amount::ZERO);
    assert!(v.parcels(&t).is_empty());
}

#[test]
fn real_value_passes_on_with_its_lineage_to_a_cold_receiver() {
    // The issuer mints; it pays alice, alice pays bob, and bob — whom nobody told about the
    // mint — pays carol, whose cache is cold: each checks the lineage back to the mint.
    let (mut issuer, t, mut alice, mut bob, mut carol) = setup();
    issuer.mint(&t, Amount(900)).unwrap();
    let (_, r) = session_token(&mut issuer, &mut alice, t, &[900]);
    assert_eq!(r.completed.len(), 1, "{r:?}");
    let (_, r) = session_token(&mut alice, &mut bob, t, &[400]);
    assert_eq!(r.completed.len(), 1, "{r:?}");
    let (_, r) = session_token(&mut bob, &mut carol, t, &[300]);
    assert_eq!(r.completed.len(), 1, "{r:?}");
    assert_eq!(carol.balance(&t), Amount(300));
    let held = carol.parcels(&t);
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].2, 3, "mint → alice → bob → carol: three hops");
    // What carol holds she can prove onward after a restart of nothing but her store.
    assert_eq!(bob.balance(&t), Amount(100));
    assert_eq!(alice.balance(&t), Amount(500));
}

/// Signatures checked on this thread while `f` runs (dsm-core's `op-counts`, per thread).
fn verifies_in(f: impl FnOnce()) -> u64 {
    let before = dsm_core::crypto::op_counts::verifies();
    f();
    dsm_core::crypto::op_counts::verifies() - before
}

#[test]
fn a_warm_receiver_checks_no_hop_it_already_checked_or_signed() {
    // Every output of a proposal a wallet accepted is cached (the sender's change too), and
    // so is every output of its own hops from cached inputs: value coming back along a
    // line it checked or signed costs it no lineage signature, only the proposal's.
    let (mut issuer, t, mut alice, mut bob, _) = setup();
    issuer.mint(&t, Amount(900)).unwrap();
    let (_, r) = session_token(&mut issuer, &mut alice, t, &[900]);
    assert_eq!(r.completed.len(), 1, "{r:?}");
    let names = pump(&mut alice, &mut bob, t, 400, &mut |m| m);
    assert!(names.contains(&"acceptance"), "{names:?}");
    // Alice pays bob again from her change of the first payment: bob checked that
    // proposal, so he checks the new proposal and alice checks his acceptance — two
    // signatures, no lineage hop.
    let n = verifies_in(|| {
        let names = pump(&mut alice, &mut bob, t, 100, &mut |m| m);
        assert!(names.contains(&"acceptance"), "{names:?}");
    });
    assert_eq!(
        n, 2,
        "a payment from change the receiver saw made checks no hop"
    );
    // Bob pays alice back from the 400 she gave him: she signed that hop herself.
    let n = verifies_in(|| {
        let names = pump(&mut bob, &mut alice, t, 50, &mut |m| m);
        assert!(names.contains(&"acceptance"), "{names:?}");
    });
    assert_eq!(n, 2, "a payment back along our own hop checks no hop");
    assert_eq!(alice.balance(&t), Amount(450));
    assert_eq!(bob.balance(&t), Amount(450));
}

/// Pumps a session between two wallets by hand, returning every message's name in order.
fn pump(
    payer: &mut Wallet,
    payee: &mut Wallet,
    token: TokenId,
    amount: u128,
    tamper: &mut dyn FnMut(SessionMessage) -> SessionMessage,
) -> Vec<&'static str> {
    let mut names = Vec::new();
    let mut d = Session::dialer(payee.device_id(), vec![(token, Amount(amount))]);
    let mut l = Session::listener();
    let mut to_l = d.start(payer).unwrap();
    while !to_l.is_empty() {
        let mut to_d = Vec::new();
        for m in to_l.drain(..) {
            let m = tamper(m);
            names.push(m.name());
            to_d.extend(l.handle(wire(&m), payee).unwrap());
        }
        for m in to_d {
            names.push(m.name());
            to_l.extend(d.handle(wire(&m), payer).unwrap());
        }
    }
    names
}

#[test]
fn a_cold_receiver_asks_for_the_objects_it_lacks_and_a_sender_that_withholds_them_is_refused() {
    let (mut issuer, t, mut alice, mut bob, mut carol) = setup();
    issuer.mint(&t, Amount(900)).unwrap();
    pump(&mut issuer, &mut alice, t, 900, &mut |m| m);
    pump(&mut alice, &mut bob, t, 400, &mut |m| m);
    assert_eq!(bob.balance(&t), Amount(400));
    // bob → carol: the lineage (mint, two hops, two identities) is over the inline budget,
    // so carol asks for it.
    let names = pump(&mut bob, &mut carol, t, 300, &mut |m| m);
    assert!(
        names
            .windows(4)
            .any(|w| w == ["proposal", "want", "objects", "acceptance"]),
        "{names:?}"
    );
    assert_eq!(carol.balance(&t), Amount(300));
    // A sender that answers the request with nothing gets a signed LINEAGE refusal.
    let (mut dave, _) = memory_wallet(0);
    dave.import_policy(gold(&issuer, TokenKind::Fungible), None)
        .unwrap();
    let names = pump(&mut carol, &mut dave, t, 300, &mut |m| match m {
        SessionMessage::Objects(mut o) => {
            o.objects.clear();
            SessionMessage::Objects(o)
        }
        other => other,
    });
    assert!(
        names
            .windows(3)
            .any(|w| w == ["want", "objects", "signed refusal"]),
        "{names:?}"
    );
    assert_eq!(dave.balance(&t), Amount::ZERO);
    assert_eq!(carol.balance(&t), Amount(300), "the amount came back");
}

/// Mallory, paid 900 by the issuer, pays bob 400 for real; `before` is her wallet from
/// before that payment.
fn mallory_paid_bob() -> (
    Wallet,
    TokenId,
    Wallet,
    Wallet,
    Wallet,
    Wallet,
    dsm_token::TokenPolicy,
) {
    let (mut issuer, t, mut mallory, mut bob, carol, p) = setup_with_policy();
    issuer.mint(&t, Amount(900)).unwrap();
    let (_, r) = session_token(&mut issuer, &mut mallory, t, &[900]);
    assert_eq!(r.completed.len(), 1, "{r:?}");
    let before = mallory.fork().unwrap();
    let (_, r) = session_token(&mut mallory, &mut bob, t, &[400]);
    assert_eq!(r.completed.len(), 1, "{r:?}");
    (issuer, t, mallory, before, bob, carol, p)
}

fn assert_parcel_fork(w: &Wallet, device: &Wallet, parcel: ParcelId) {
    assert_eq!(w.parcel_conflicts(), vec![(parcel, device.device_id())]);
    let forks: Vec<_> = w
        .evidence()
        .unwrap()
        .into_iter()
        .filter_map(|p| match p.verify().unwrap() {
            Equivocation::ParcelFork { device, parcel } => Some((device, parcel)),
            _ => None,
        })
        .collect();
    assert_eq!(forks, vec![(device.device_id(), parcel)]);
    assert!(w.is_equivocator(&device.device_id()).unwrap());
}

#[test]
fn a_parcel_spent_again_in_a_later_head_to_the_same_receiver_is_a_parcel_fork() {
    let (_issuer, t, mut mallory, before, mut bob, _, _) = mallory_paid_bob();
    // Mallory's heads never fork: the second payment builds on the head after the first.
    let (offer, spent) = respend(&mallory, &before, &bob, t, 300);
    assert_eq!(
        offer.signed.proposal.sender_child_head.parent,
        mallory.head().digest()
    );
    let answer = deliver(&mut mallory, &mut bob, offer);
    assert_lineage_refusal(&answer);
    match &answer {
        SessionMessage::SignedRefusal(r) => assert_eq!(r.refusal.refused_input, Some(spent)),
        other => panic!("{}", other.name()),
    }
    assert_eq!(bob.balance(&t), Amount(400));
    assert_parcel_fork(&bob, &mallory, spent);
}

#[test]
fn a_parcel_spent_to_two_receivers_is_caught_where_the_lines_meet_and_both_lines_are_refused_after()
{
    let (_issuer, t, mut mallory, before, mut bob, mut carol, policy) = mallory_paid_bob();
    let (mut dave, _) = memory_wallet(0);
    let (mut erin, _) = memory_wallet(0);
    for w in [&mut dave, &mut erin] {
        w.import_policy(policy.clone(), None).unwrap();
    }
    // Carol, who never saw the first spend, takes the second: offline, nothing can tell.
    let (offer, spent) = respend(&mallory, &before, &carol, t, 300);
    match deliver(&mut mallory, &mut carol, offer) {
        SessionMessage::Acceptance(_) => {}
        other => panic!("expected an acceptance, got {}", other.name()),
    }
    assert_eq!(carol.balance(&t), Amount(300));
    let mut carol_unaware = carol.fork().unwrap();
    // Both pay dave. Bob's line comes first; carol's consumes the same parcel of
    // mallory's in another statement: a parcel fork, and a signed LINEAGE refusal.
    let (_, r) = session_token(&mut bob, &mut dave, t, &[400]);
    assert_eq!(r.completed.len(), 1, "{r:?}");
    let (_, r) = session_token(&mut carol, &mut dave, t, &[300]);
    assert!(r.completed.is_empty(), "{r:?}");
    assert_eq!(dave.balance(&t), Amount(400));
    assert_eq!(
        carol.balance(&t),
        Amount(300),
        "the refused amount comes back"
    );
    assert_parcel_fork(&dave, &mallory, spent);
    // Carol learned it in that same session: dave's hello gossiped mallory's first
    // proposal, which he had from bob's hello.
    assert_parcel_fork(&carol, &mallory, spent);
    // The evidence is transferable: erin imports it and then refuses both lines cold —
    // the parcel in conflict and everything descending from it, whichever came first.
    for p in dave.evidence().unwrap() {
        erin.import_evidence(&p.to_bytes()).unwrap();
    }
    assert_eq!(erin.parcel_conflicts(), vec![(spent, mallory.device_id())]);
    // Wallets that know what they hold descends from the parcel in conflict never choose
    // it to pay, and say why.
    assert_eq!(dave.in_conflict(&t), Amount(400));
    assert_eq!(carol.in_conflict(&t), Amount(300));
    for (w, a) in [(&mut dave, 400), (&mut carol, 300)] {
        let (r, _) = session_token(w, &mut erin, t, &[a]);
        assert!(r.completed.is_empty(), "{r:?}");
        assert!(format!("{r:?}").contains("spent twice"), "{r:?}");
        assert_eq!(w.balance(&t), Amount(a));
    }
    // A copy of carol from before she learned it still offers the parcel (delivered
    // straight to erin's listener, so erin's hello cannot teach it first): refused cold.
    let (offer, _) = respend(&carol_unaware, &carol_unaware, &erin, t, 300);
    assert_lineage_refusal(&deliver(&mut carol_unaware, &mut erin, offer));
    assert_eq!(erin.balance(&t), Amount::ZERO);
}

#[test]
fn two_receivers_of_one_parcel_learn_the_fork_from_each_others_gossip() {
    let (mut issuer, t, mut mallory, before, mut bob, mut carol, _) = mallory_paid_bob();
    let (offer, spent) = respend(&mallory, &before, &carol, t, 300);
    assert!(matches!(
        deliver(&mut mallory, &mut carol, offer),
        SessionMessage::Acceptance(_)
    ));
    // Bob and carol meet for a payment of fresh value (bob's largest parcel, so its
    // lineage never passes through mallory): each hello gossips the proposals its sender
    // witnessed, and each side finds mallory's other statement.
    issuer.mint(&t, Amount(500)).unwrap();
    let (_, r) = session_token(&mut issuer, &mut bob, t, &[500]);
    assert_eq!(r.completed.len(), 1, "{r:?}");
    assert_eq!(bob.parcels(&t)[0].1, Amount(500));
    let (_, r) = session_token(&mut bob, &mut carol, t, &[10]);
    assert_eq!(r.completed.len(), 1, "fresh value still moves: {r:?}");
    assert_parcel_fork(&carol, &mallory, spent);
    assert_parcel_fork(&bob, &mallory, spent);
}

#[test]
fn a_head_fork_met_in_gossip_is_proven_as_a_head_fork() {
    let (mut issuer, t, mallory, mut clone, mut bob, mut carol, _) = mallory_paid_bob();
    // Mallory's clone pays carol from the head mallory already spent to bob: two
    // successors of one head (and one parcel spent twice).
    let parent = clone.head().digest();
    let (_, r) = session_token(&mut clone, &mut carol, t, &[300]);
    assert_eq!(r.completed.len(), 1, "{r:?}");
    // Bob and carol meet on fresh value; each hello gossips what its sender witnessed.
    issuer.mint(&t, Amount(500)).unwrap();
    let (_, r) = session_token(&mut issuer, &mut bob, t, &[500]);
    assert_eq!(r.completed.len(), 1, "{r:?}");
    let (_, r) = session_token(&mut bob, &mut carol, t, &[10]);
    assert_eq!(r.completed.len(), 1, "{r:?}");
    let fork = Equivocation::HeadFork {
        device: mallory.device_id(),
        parent,
    };
    // Whoever received the gossip proves the head fork: two proposals, which its own
    // hellos spread onward.
    let proven: Vec<_> = [&bob, &carol]
        .into_iter()
        .filter(|w| {
            w.evidence()
                .unwrap()
                .iter()
                .any(|p| p.verify().unwrap() == fork)
        })
        .collect();
    assert!(!proven.is_empty(), "no wallet proved the head fork");
    for w in [&bob, &carol] {
        assert!(w.is_equivocator(&mallory.device_id()).unwrap());
    }
}

#[test]
fn a_parcel_fork_spreads_through_the_storage_nodes() {
    let (_issuer, t, mut mallory, before, mut bob, mut carol, policy) = mallory_paid_bob();
    let (mut dave, _) = memory_wallet(0);
    let (mut erin, _) = memory_wallet(0);
    for w in [&mut dave, &mut erin] {
        w.import_policy(policy.clone(), None).unwrap();
    }
    let (offer, spent) = respend(&mallory, &before, &carol, t, 300);
    assert!(matches!(
        deliver(&mut mallory, &mut carol, offer),
        SessionMessage::Acceptance(_)
    ));
    session_token(&mut bob, &mut dave, t, &[400]);
    session_token(&mut carol, &mut dave, t, &[300]);
    // Dave holds a proof of hops alone (he never saw both proposals as a receiver).
    assert_parcel_fork(&dave, &mallory, spent);
    let c = common::cluster::Cluster::new();
    let nodes = c.nodes();
    let rd = dsm_wallet::online::sync(&mut dave, &nodes).unwrap();
    assert!(rd.published > 0, "{rd:?}");
    // Erin never met any of them: one sync and she refuses the parcel and its lines.
    let re = dsm_wallet::online::sync(&mut erin, &nodes).unwrap();
    assert_eq!(re.learned, vec![mallory.device_id()]);
    assert_eq!(erin.parcel_conflicts(), vec![(spent, mallory.device_id())]);
    // A second sync learns nothing new.
    let re = dsm_wallet::online::sync(&mut erin, &nodes).unwrap();
    assert!(re.learned.is_empty(), "{re:?}");
}

/// Online, a parcel's slot at the nodes holds its first spend: the second is refused at
/// settlement (not credited, evidence stored), the first stays good value, and settled is
/// never said of value with a double-spent ancestor, however far up the line.
#[test]
fn online_the_parcel_slot_keeps_the_first_spend_and_refuses_the_second_at_any_depth() {
    use dsm_wallet::online::{send_online, sync, Settlement};
    let (mut issuer, t, mut mallory, before, mut bob, mut carol, policy) = mallory_paid_bob();
    let (mut dave, _) = memory_wallet(0);
    let (mut erin, _) = memory_wallet(0);
    let (mut fay, _) = memory_wallet(0);
    for w in [&mut dave, &mut erin, &mut fay] {
        w.import_policy(policy.clone(), None).unwrap();
    }
    let c = common::cluster::Cluster::new();
    let nodes = c.nodes();
    // Offline, carol takes mallory's second spend of the parcel and pays dave from it.
    let (offer, spent) = respend(&mallory, &before, &carol, t, 300);
    assert!(matches!(
        deliver(&mut mallory, &mut carol, offer.clone()),
        SessionMessage::Acceptance(_)
    ));
    let (_, r) = session_token(&mut carol, &mut dave, t, &[200]);
    assert_eq!(r.completed.len(), 1, "{r:?}");
    // The issuer syncs (its mint and its payment to mallory take their slots: only it, or
    // mallory with the write its offer carried, may write them), then bob: his line
    // (mint, issuer → mallory, mallory → bob) takes the slots.
    sync(&mut issuer, &nodes).unwrap();
    let rb = sync(&mut bob, &nodes).unwrap();
    assert!(
        rb.settled
            .iter()
            .all(|l| matches!(l.settlement, Settlement::Settled { .. })),
        "{rb:?}"
    );
    // Dave is two hops below the second spend: his line is in conflict, never settled.
    let rd = sync(&mut dave, &nodes).unwrap();
    let line = rd.settled.last().unwrap();
    assert!(
        matches!(&line.settlement, Settlement::Conflict(e) if e.device() == mallory.device_id()),
        "{rd:?}"
    );
    assert_eq!(dave.parcel_conflicts(), vec![(spent, mallory.device_id())]);
    assert_eq!(dave.in_conflict(&t), Amount(200));
    let again = sync(&mut dave, &nodes).unwrap();
    assert!(again.settled.is_empty(), "a conflict is final: {again:?}");
    // The same second spend offered online to a fresh receiver is refused at settlement.
    let (offer, _) = respend(&mallory, &before, &erin, t, 250);
    nodes
        .b0x_post(
            &erin.introduction_address(),
            &SessionMessage::Proposal(Box::new(offer)).to_bytes(),
        )
        .unwrap();
    let re = sync(&mut erin, &nodes).unwrap();
    assert!(re.received.is_empty(), "{re:?}");
    assert!(
        re.dropped.iter().any(|d| d.contains("spent twice")),
        "{re:?}"
    );
    assert_eq!(erin.balance(&t), Amount::ZERO);
    assert_eq!(erin.parcel_conflicts(), vec![(spent, mallory.device_id())]);
    // Bob's value is the parcel's one spend: though the conflict is known everywhere, a
    // receiver that settles his lineage accepts it online.
    let rb = sync(&mut bob, &nodes).unwrap();
    assert_eq!(
        bob.parcel_conflicts(),
        vec![(spent, mallory.device_id())],
        "{rb:?}"
    );
    assert_eq!(
        bob.in_conflict(&t),
        Amount::ZERO,
        "bob's spend holds the slot"
    );
    common::introduce(&mut bob, &fay);
    send_online(&mut bob, &nodes, &fay.device_id(), t, Amount(150)).unwrap();
    let rf = sync(&mut fay, &nodes).unwrap();
    assert_eq!(
        fay.parcel_conflicts(),
        vec![(spent, mallory.device_id())],
        "fay learned the conflict first"
    );
    assert_eq!(rf.received.len(), 1, "{rf:?}");
    assert_eq!(fay.balance(&t), Amount(150));
}

/// An issuer over its cap: offline, a receiver that never saw the earlier mint takes a
/// mint that lies about `minted_before` (and value descending from it moves on); online,
/// every holder checks its mint against the published sequence, so the lie is found at any
/// depth, becomes stored evidence, and the value is never called settled. A reused mint
/// number is caught the same way.
#[test]
fn an_issuer_over_its_cap_is_caught_online_at_any_depth() {
    use dsm_wallet::online::{send_online, sync, Settlement};
    let (mut alice, _) = memory_wallet(0);
    let (mut bob, _) = memory_wallet(0);
    let (mut carol, _) = memory_wallet(0);
    let (mut dave, _) = memory_wallet(0);
    let (mut erin, _) = memory_wallet(0);
    let (key, t) = gold_of_key(
        7,
        &mut [&mut alice, &mut bob, &mut carol, &mut dave, &mut erin],
    );
    // Mint 0 (9,000 of a 10,000 cap) to alice; mint 1 to bob claims nothing was minted
    // before it — with it the issuer creates 18,000.
    let m0 = signed_mint(&key, t, 0, 0, 9_000, &alice);
    alice.apply_signed_mint(m0.clone()).unwrap();
    bob.apply_signed_mint(signed_mint(&key, t, 1, 0, 9_000, &bob))
        .unwrap();
    let (_, r) = session_token(&mut bob, &mut carol, t, &[500]);
    assert_eq!(r.completed.len(), 1, "offline nothing can tell: {r:?}");
    let c = common::cluster::Cluster::new();
    let nodes = c.nodes();
    // The issuer publishes mint 0 (only an issuer may write a mint's slot) and never the
    // lying mint 1; bob's sync walks the published sequence and finds mint 1 contradicts
    // mint 0 all the same.
    let policy = alice.token_rules().policy(&t).unwrap().clone();
    common::publish_as_issuer(&nodes, &key, &policy, &m0);
    sync(&mut alice, &nodes).unwrap();
    let rb = sync(&mut bob, &nodes).unwrap();
    assert!(rb.dropped.iter().any(|d| d.contains("mint #1")), "{rb:?}");
    assert_eq!(bob.mint_conflicts().len(), 1);
    // Carol, one hop below the lying mint: her line is in conflict, never settled.
    let rc = sync(&mut carol, &nodes).unwrap();
    let line = rc.settled.last().unwrap();
    assert_eq!(
        line.settlement,
        Settlement::MintConflict { token: t, from: 0 },
        "{rc:?}"
    );
    assert_eq!(carol.mint_conflicts().len(), 1);
    // Online, a fresh receiver refuses value from the lying mint at settlement.
    common::introduce(&mut bob, &dave);
    send_online(&mut bob, &nodes, &dave.device_id(), t, Amount(100)).unwrap();
    let rd = sync(&mut dave, &nodes).unwrap();
    assert!(rd.received.is_empty(), "{rd:?}");
    assert!(rd.dropped.iter().any(|d| d.contains("mint #0")), "{rd:?}");
    assert_eq!(dave.balance(&t), Amount::ZERO);
    // A second mint 0 (a reused number) for erin: her own sync finds the slot taken by
    // another mint of that number.
    erin.apply_signed_mint(signed_mint(&key, t, 0, 0, 1_000, &erin))
        .unwrap();
    let re = sync(&mut erin, &nodes).unwrap();
    assert!(re.dropped.iter().any(|d| d.contains("mint #0")), "{re:?}");
    assert_eq!(erin.mint_conflicts().len(), 1);
}

/// A parcel fork of hops alone (its finder never saw the two proposals) spreads by hello
/// gossip: one session, even with nothing to pay, and the peer holds it too.
#[test]
fn a_parcel_fork_of_hops_alone_spreads_by_gossip() {
    let (_issuer, t, mut mallory, before, mut bob, mut carol, policy) = mallory_paid_bob();
    let (mut dave, _) = memory_wallet(0);
    let (mut erin, _) = memory_wallet(0);
    for w in [&mut dave, &mut erin] {
        w.import_policy(policy.clone(), None).unwrap();
    }
    let (offer, spent) = respend(&mallory, &before, &carol, t, 300);
    assert!(matches!(
        deliver(&mut mallory, &mut carol, offer),
        SessionMessage::Acceptance(_)
    ));
    session_token(&mut bob, &mut dave, t, &[400]);
    session_token(&mut carol, &mut dave, t, &[300]);
    let forms: Vec<bool> = dave
        .evidence()
        .unwrap()
        .iter()
        .map(|p| p.as_parcel_fork().is_some())
        .collect();
    assert_eq!(forms, vec![true], "dave holds the fork as hops alone");
    assert!(erin.parcel_conflicts().is_empty());
    // A forged fork in a hello (the second hop's signature swapped) proves nothing and is
    // ignored; the session goes on.
    let mut forged = dave.evidence().unwrap()[0]
        .as_parcel_fork()
        .unwrap()
        .clone();
    forged.second.signature = forged.first.signature.clone();
    let mut hello = Session::dialer(erin.device_id(), vec![])
        .start(&mut dave)
        .unwrap();
    match &mut hello[0] {
        SessionMessage::Hello(h) => h.forks = vec![forged],
        other => panic!("expected a hello, got {}", other.name()),
    }
    let mut l = Session::listener();
    assert!(l.handle(wire(&hello[0]), &mut erin).is_ok());
    assert!(erin.parcel_conflicts().is_empty());
    assert!(!erin.is_equivocator(&mallory.device_id()).unwrap());
    let (rd, re) = session_token(&mut dave, &mut erin, t, &[]);
    assert!(rd.error.is_none() && re.error.is_none(), "{rd:?} {re:?}");
    assert_eq!(erin.parcel_conflicts(), vec![(spent, mallory.device_id())]);
    assert!(erin.is_equivocator(&mallory.device_id()).unwrap());
}

/// Offline, a receiver that met one mint in a lineage refuses value from another mint of
/// the same number (a reused number), keeps the issuers' conflict across a restart, and
/// refuses the token's later mints too.
#[test]
fn a_reused_mint_number_met_in_lineages_is_refused_offline_and_kept() {
    let (mut alice, _) = memory_wallet(0);
    let (mut bob, _) = memory_wallet(0);
    let (mut carol, store) = memory_wallet(0);
    let (key, t) = gold_of_key(8, &mut [&mut alice, &mut bob, &mut carol]);
    alice
        .apply_signed_mint(signed_mint(&key, t, 0, 0, 9_000, &alice))
        .unwrap();
    bob.apply_signed_mint(signed_mint(&key, t, 0, 0, 9_000, &bob))
        .unwrap();
    let (_, r) = session_token(&mut alice, &mut carol, t, &[100]);
    assert_eq!(r.completed.len(), 1, "{r:?}");
    let (_, r) = session_token(&mut bob, &mut carol, t, &[100]);
    assert!(r.completed.is_empty(), "{r:?}");
    assert_eq!(
        r.refused[0].refusal.refusal.reason,
        RefusalReason::Lineage.code()
    );
    assert_eq!(carol.balance(&t), Amount(100));
    assert_eq!(carol.mint_conflicts().len(), 1);
    drop(carol);
    let carol = reopen(&store);
    assert_eq!(carol.mint_conflicts().len(), 1, "kept across a restart");
}

/// Issuers who publish two different mints of one number on disjoint halves of the nodes
/// (each half short of W) are caught by the first holder of later minted value to walk the
/// sequence: whichever version it reads, the other is a rival in the same slot.
#[test]
fn two_mints_of_one_number_published_on_disjoint_nodes_are_caught_by_the_walk() {
    use dsm_wallet::online::sync;
    use std::sync::atomic::Ordering;
    let (mut alice, _) = memory_wallet(0);
    let (mut erin, _) = memory_wallet(0);
    let (mut bob, _) = memory_wallet(0);
    let (key, t) = gold_of_key(9, &mut [&mut alice, &mut erin, &mut bob]);
    let (ma, me) = (
        signed_mint(&key, t, 0, 0, 100, &alice),
        signed_mint(&key, t, 0, 0, 100, &erin),
    );
    alice.apply_signed_mint(ma.clone()).unwrap();
    erin.apply_signed_mint(me.clone()).unwrap();
    bob.apply_signed_mint(signed_mint(&key, t, 1, 100, 50, &bob))
        .unwrap();
    let c = common::cluster::Cluster::new();
    let nodes = c.nodes();
    let policy = alice.token_rules().policy(&t).unwrap().clone();
    let half = |first: bool| {
        for (i, s) in c.switches.iter().enumerate() {
            s.store((i < 3) == first, Ordering::SeqCst);
        }
    };
    half(true);
    common::publish_as_issuer(&nodes, &key, &policy, &ma);
    sync(&mut alice, &nodes).unwrap();
    half(false);
    common::publish_as_issuer(&nodes, &key, &policy, &me);
    sync(&mut erin, &nodes).unwrap();
    assert!(alice.mint_conflicts().is_empty() && erin.mint_conflicts().is_empty());
    c.only_up(6);
    // Bob publishes mint 1 and walks back to mint 0: two versions, one slot.
    let rb = sync(&mut bob, &nodes).unwrap();
    assert!(rb.dropped.iter().any(|d| d.contains("mint #1")), "{rb:?}");
    assert_eq!(bob.mint_conflicts().len(), 1);
    assert_eq!(bob.mint_conflicts()[0].first_seq(), 0);
}

/// "Refuse, then spend the output anyway": bob refuses alice's payment (alice takes the
/// amount back, descending from the refusal) and a modified copy of his wallet spends the
/// refused output to carol. Offline carol cannot tell; online the output's slot holds bob's
/// refusal, so carol's line is a parcel fork, never settled, and alice's released value
/// stays good.
#[test]
fn refusing_then_spending_the_output_anyway_is_a_parcel_fork() {
    use dsm_wallet::online::{sync, Settlement};
    let (mut issuer, t, mut alice, mut bob, mut carol) = setup();
    issuer.mint(&t, Amount(900)).unwrap();
    let (_, r) = session_token(&mut issuer, &mut alice, t, &[900]);
    assert_eq!(r.completed.len(), 1, "{r:?}");
    let alice_before = alice.fork().unwrap();
    bob.set_max_incoming(Some(Amount(100)));
    let (ra, rb) = session_token(&mut alice, &mut bob, t, &[400]);
    assert_eq!(rb.refused.len(), 1, "{rb:?}");
    assert_eq!(alice.balance(&t), Amount(900), "{ra:?}");
    let proposal = rb.refused[0].proposal.clone();
    let hop = proposal.hop();
    let out = hop.output_ids()[hop
        .statement
        .outputs
        .iter()
        .position(|o| o.to == bob.device_id())
        .unwrap()];
    // The lineage of the refused output: alice's input's lineage, then her proposal.
    let from_alice = alice_before.offer_for(&proposal).unwrap();
    let m = &from_alice.manifests[0];
    let (hop_bytes, alice_bytes) = (hop.to_bytes(), alice.identity().to_bytes());
    let mut hops = m.hops.clone();
    hops.push(object_address(&hop_bytes));
    let mut signers = m.signers.clone();
    signers.push(object_address(&alice_bytes));
    signers.sort();
    signers.dedup();
    let mut objects = from_alice.objects.clone();
    objects.extend([hop_bytes, alice_bytes]);
    objects.sort();
    objects.dedup();
    let input = Parcel {
        id: out,
        token: t,
        amount: Amount(400),
        holder: bob.device_id(),
    };
    let offer = common::with_write(
        &bob,
        Offer {
            signed: fabricated_proposal(&bob, &carol, t, 400, input),
            manifests: vec![LineageManifest {
                parcel: out,
                start: m.start,
                hops,
                signers,
                consumed: Vec::new(),
            }],
            objects,
            slot_write: None,
            sealed: Vec::new(),
        },
    );
    match deliver(&mut bob, &mut carol, offer) {
        SessionMessage::Acceptance(_) => {}
        other => panic!("offline carol cannot tell: got {}", other.name()),
    }
    assert_eq!(carol.balance(&t), Amount(400));
    let c = common::cluster::Cluster::new();
    let nodes = c.nodes();
    // The issuer's sync settles its payment to alice; bob's (honest code) puts his refusal
    // in the output's slot, after alice's refused proposal in hers (with the write it carried).
    sync(&mut issuer, &nodes).unwrap();
    sync(&mut bob, &nodes).unwrap();
    let rc = sync(&mut carol, &nodes).unwrap();
    let line = rc.settled.last().unwrap();
    assert!(
        matches!(&line.settlement, Settlement::Conflict(e) if e.device() == bob.device_id()),
        "{rc:?}"
    );
    assert_eq!(carol.parcel_conflicts(), vec![(out, bob.device_id())]);
    assert_eq!(carol.in_conflict(&t), Amount(400));
    // Alice's released 400 descends from the refusal, the output's one settled spend.
    let ra = sync(&mut alice, &nodes).unwrap();
    assert!(
        ra.settled
            .iter()
            .all(|l| !matches!(l.settlement, Settlement::Conflict(_))),
        "{ra:?}"
    );
}

/// `offer` with its root source swapped for `alt` (another encoding of the same source):
/// the manifests name `alt`'s address instead, and the objects hold `alt` instead.
fn with_root(offer: Offer, alt: Vec<u8>) -> Offer {
    let mut offer = offer;
    let alt_addr = object_address(&alt);
    let mut old = None;
    for m in &mut offer.manifests {
        if let ManifestStart::Root(a) = m.start {
            old = Some(a);
            m.start = ManifestStart::Root(alt_addr);
        }
    }
    let old = old.expect("the offer starts at a root");
    offer.objects.retain(|o| object_address(o) != old);
    offer.objects.push(alt);
    offer.objects.sort();
    offer
}

#[test]
fn two_encodings_of_one_source_are_one_parcel_so_spending_both_is_a_parcel_fork() {
    use dsm_token::source::{InitialClaim, Source, SourceProof};
    // A token whose initial line gives mallory 500, with no allowlist: an allowlist proof
    // in the claim is ignored by the rules, so the claim has more than one valid encoding.
    let (issuer, _) = memory_wallet(0);
    let (mut mallory, _) = memory_wallet(0);
    let (mut bob, _) = memory_wallet(0);
    let (mut carol, _) = memory_wallet(0);
    let mut p = gold(&issuer, TokenKind::Fungible);
    p.initial = vec![dsm_token::policy::InitialAllocation {
        device: mallory.device_id(),
        amount: Amount(500),
    }];
    let (t, claimed) = mallory.import_policy(p.clone(), None).unwrap();
    assert_eq!(claimed, vec![Amount(500)]);
    for w in [&mut bob, &mut carol] {
        w.import_policy(p.clone(), None).unwrap();
    }
    // `before`: mallory's wallet before she pays; she pays bob 200 of the 500 for real.
    let before = mallory.fork().unwrap();
    let (_, r) = session_token(&mut mallory, &mut bob, t, &[200]);
    assert_eq!(r.completed.len(), 1, "{r:?}");

    // The same claim with a (meaningless) allowlist proof: valid, other bytes, same
    // once-key — and so the same root parcel.
    let alt = SourceProof {
        source: Source::Initial(InitialClaim { token: t, index: 0 }),
        allowlist: Some(dsm_core::smt::SmtProof {
            siblings: vec![Digest([1; 32])],
            terminal: None,
        }),
        consumption: None,
    }
    .to_bytes();
    let (offer, spent) = respend(&mallory, &before, &carol, t, 300);
    let offer = with_root(offer, alt.clone());
    assert!(offer.objects.contains(&alt));
    // Carol, who never saw the first spend, cannot tell offline (it is one parcel, spent
    // once as far as she knows) and accepts...
    let mut carol_later = carol.fork().unwrap();
    match deliver(&mut mallory, &mut carol, offer.clone()) {
        SessionMessage::Acceptance(_) => {}
        other => panic!("expected an acceptance, got {}", other.name()),
    }
    // ...but bob, who holds the first spend, sees the same parcel consumed twice: a parcel
    // fork, not a second source.
    let (offer_to_bob, _) = respend(&mallory, &before, &bob, t, 300);
    let answer = deliver(&mut mallory, &mut bob, with_root(offer_to_bob, alt));
    assert_lineage_refusal(&answer);
    assert_eq!(bob.balance(&t), Amount(200));
    assert_parcel_fork(&bob, &mallory, spent);
    // The evidence reaches carol's copy, which then knows the parcel in conflict and
    // refuses mallory's session before any offer.
    for e in bob.evidence().unwrap() {
        carol_later.import_evidence(&e.to_bytes()).unwrap();
    }
    assert_eq!(
        carol_later.parcel_conflicts(),
        vec![(spent, mallory.device_id())]
    );
    let hello = Session::dialer(carol_later.device_id(), vec![])
        .start(&mut mallory)
        .unwrap();
    let refused = Session::listener()
        .handle(wire(&hello[0]), &mut carol_later)
        .unwrap_err();
    assert!(
        format!("{refused:?}").contains("Equivocator"),
        "{refused:?}"
    );
    assert_eq!(carol_later.balance(&t), Amount::ZERO);
    drop(offer);
}
