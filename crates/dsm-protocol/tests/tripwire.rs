//! Tripwire as a wallet applies it (PROTOCOL.md §8, §12.5): who is refused, and what a
//! gossiped proposal proves.

mod common;

use common::*;
use dsm_core::chain::Amount;
use dsm_core::crypto::SuiteId;
use dsm_core::tripwire::{Equivocation, EquivocationProof, Statement};
use dsm_protocol::tripwire::{observe, Observation, Refused};

fn never() -> Result<Option<Statement>, String> {
    panic!("the recorded statement was read although nothing needed it")
}

#[test]
fn a_first_successor_is_remembered_and_a_repeat_costs_nothing() {
    let (a, x, y) = fork(1);
    let me = Device::new(SuiteId::MlDsa65, 9).id();
    let refused = Refused::new();
    let seen = observe(&me, &refused, &x, None, never).unwrap();
    assert!(
        matches!(
            seen,
            Observation::Verified {
                first: true,
                fork: None
            }
        ),
        "{seen:?}"
    );
    // The same transition again: nothing, and the store is not read.
    let known = Some(x.proposal.sender_child_head.digest());
    assert!(matches!(
        observe(&me, &refused, &x, known, never).unwrap(),
        Observation::Nothing
    ));
    // Our own proposals and those of a refused device are not witnessed.
    assert!(matches!(
        observe(&a.id(), &refused, &x, None, never).unwrap(),
        Observation::Nothing
    ));
    let mut banned = Refused::new();
    let (_, what) =
        EquivocationProof::new(Statement::Proposal(x.clone()), Statement::Proposal(y)).unwrap();
    assert!(banned.equivocated(&what));
    assert!(!banned.equivocated(&what), "a second proof is not new");
    assert!(matches!(
        observe(&me, &banned, &x, None, never).unwrap(),
        Observation::Nothing
    ));
}

#[test]
fn a_forged_proposal_is_never_remembered() {
    let (_, mut x, _) = fork(1);
    let me = Device::new(SuiteId::MlDsa65, 9).id();
    x.proposal.step.amount = Amount(5); // no longer what was signed
    assert!(matches!(
        observe(&me, &Refused::new(), &x, None, never).unwrap(),
        Observation::Unverified
    ));
}

#[test]
fn a_second_successor_of_a_known_head_is_a_fork_proof() {
    let (a, x, y) = fork(1);
    let me = Device::new(SuiteId::MlDsa65, 9).id();
    let known = Some(x.proposal.sender_child_head.digest());
    let first = || Ok::<_, String>(Some(Statement::Proposal(x.clone())));
    match observe(&me, &Refused::new(), &y, known, first).unwrap() {
        Observation::Verified {
            first: false,
            fork: Some((proof, what)),
        } => {
            assert_eq!(
                what,
                Equivocation::HeadFork {
                    device: a.id(),
                    parent: a.head.digest()
                }
            );
            assert_eq!(proof.verify().unwrap(), what);
        }
        other => panic!("{other:?}"),
    }
    // The recorded statement is gone: verified, not first, nothing proven.
    assert!(matches!(
        observe(&me, &Refused::new(), &y, known, || Ok::<_, String>(None)).unwrap(),
        Observation::Verified {
            first: false,
            fork: None
        }
    ));
    // A store failure is an error, never "nothing known".
    assert_eq!(
        observe(&me, &Refused::new(), &y, known, || Err("disk".to_string())).unwrap_err(),
        "disk"
    );
}

#[test]
fn refusal_reasons_are_kept_apart() {
    let mut r = Refused::new();
    let d = Device::new(SuiteId::MlDsa65, 4).id();
    assert!(!r.refuses(&d));
    assert!(r.tombstoned(d));
    assert!(!r.tombstoned(d));
    assert!(r.refuses(&d) && r.is_tombstoned(&d) && !r.is_equivocator(&d));
    let e = Device::new(SuiteId::MlDsa65, 5).id();
    assert!(r.restore_equivocator(e));
    assert!(r.refuses(&e) && r.is_equivocator(&e) && !r.is_tombstoned(&e));
}
