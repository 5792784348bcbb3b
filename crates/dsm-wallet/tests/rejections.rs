//! Every rejection PROTOCOL.md §12–13 names, fed its bad input.

mod common;
use common::*;
use dsm_core::chain::Amount;
use dsm_protocol::message::{Close, SessionMessage, PROTOCOL_VERSION};
use dsm_protocol::session::{Phase, Session, SessionError};
use dsm_transport::{decode_frame, encode_frame, read_frame, TransportError, MAX_FRAME_LEN};
use dsm_wallet::{token, DEFAULT_TOKEN};

fn hello_from(
    w: &mut dsm_wallet::Wallet,
    to: dsm_core::identity::DeviceId,
) -> dsm_protocol::message::Hello {
    let mut d = Session::dialer(to, vec![]);
    match d.start(w).unwrap().remove(0) {
        SessionMessage::Hello(h) => *h,
        m => panic!("{}", m.name()),
    }
}

#[test]
fn hello_rejections() {
    let (mut a, _) = memory_wallet(10);
    let (mut b, _) = memory_wallet(0);
    let (c, _) = memory_wallet(0);
    // Another protocol version.
    let mut h = hello_from(&mut a, b.device_id());
    h.version = PROTOCOL_VERSION + 1;
    let mut l = Session::listener();
    assert_eq!(
        l.handle(SessionMessage::Hello(Box::new(h)), &mut b),
        Err(SessionError::Version(PROTOCOL_VERSION + 1))
    );
    assert_eq!(l.phase(), &Phase::Failed);
    assert_eq!(
        l.handle(SessionMessage::Close(Close), &mut b),
        Err(SessionError::Over),
        "a failed session stays over"
    );
    // A hello meant for another device.
    let h = hello_from(&mut a, c.device_id());
    assert_eq!(
        Session::listener().handle(SessionMessage::Hello(Box::new(h)), &mut b),
        Err(SessionError::NotForMe)
    );
    // A hello from myself.
    let mut h = hello_from(&mut a, b.device_id());
    h.identity = dsm_protocol::session::Ledger::identity(&b).clone();
    assert_eq!(
        Session::listener().handle(SessionMessage::Hello(Box::new(h)), &mut b),
        Err(SessionError::NotForMe)
    );
}

#[test]
fn out_of_order_messages_are_rejected_in_a_defined_state() {
    let (mut a, _) = memory_wallet(10);
    let (mut b, _) = memory_wallet(0);
    // A proposal before any hello.
    let mut d = Session::dialer(b.device_id(), vec![(token(DEFAULT_TOKEN), Amount(3))]);
    let hello = d.start(&mut a).unwrap();
    let mut l = Session::listener();
    let out = l.handle(wire(&hello[0]), &mut b).unwrap();
    let prop = d.handle(wire(&out[0]), &mut a).unwrap();
    let mut l2 = Session::listener();
    assert!(matches!(
        l2.handle(wire(&prop[0]), &mut b),
        Err(SessionError::Unexpected {
            got: "proposal",
            ..
        })
    ));
    // A second hello mid-session.
    assert!(matches!(
        l.handle(wire(&hello[0]), &mut b),
        Err(SessionError::Unexpected { got: "hello", .. })
    ));
    // The dialer gets a close instead of its acceptance: the proposal stays pending.
    assert!(matches!(
        d.handle(SessionMessage::Close(Close), &mut a),
        Err(SessionError::PeerEnded { .. })
    ));
    assert_eq!(a.pending().unwrap().len(), 1);
    assert_eq!(dev(&b), 0);
    let (r1, r2) = session(&mut a, &mut b, &[]);
    assert!(r1.error.is_none() && r2.error.is_none());
    assert_settled(&a, &b, 10);
}

#[test]
fn acceptance_of_another_proposal_is_rejected() {
    let (mut a, _) = memory_wallet(10);
    let (mut b, _) = memory_wallet(0);
    let mut d = Session::dialer(b.device_id(), vec![(token(DEFAULT_TOKEN), Amount(3))]);
    let hello = d.start(&mut a).unwrap();
    let mut l = Session::listener();
    let out = l.handle(wire(&hello[0]), &mut b).unwrap();
    let prop = d.handle(wire(&out[0]), &mut a).unwrap();
    let acc = l.handle(wire(&prop[0]), &mut b).unwrap();
    let SessionMessage::Acceptance(mut acc) = acc[0].clone() else {
        panic!()
    };
    acc.acceptance.proposal_commit = dsm_core::hash::Digest([1; 32]);
    assert!(matches!(
        d.handle(SessionMessage::Acceptance(acc), &mut a),
        Err(SessionError::Unexpected {
            got: "acceptance",
            ..
        })
    ));
    assert_eq!(
        a.pending().unwrap().len(),
        1,
        "still pending, resolved next time"
    );
}

#[test]
fn a_peer_restored_from_an_old_backup_is_a_tip_mismatch() {
    let (mut a, _) = memory_wallet(10);
    let (mut b, sb) = memory_wallet(0);
    let backup = sb.fork();
    session(&mut a, &mut b, &[4]);
    drop(b);
    let mut old_b = dsm_wallet::Wallet::open(Box::new(backup), PASS).unwrap();
    let (ra, _) = session(&mut a, &mut old_b, &[1]);
    assert!(
        matches!(
            ra.error,
            Some(dsm_wallet::driver::RunError::Session(
                SessionError::TipMismatch { .. }
            ))
        ),
        "{:?}",
        ra.error
    );
    assert_eq!(dev(&a), 6, "nothing was debited");
}

#[test]
fn frame_rejections() {
    // Another frame version.
    let mut f = encode_frame(b"hi").unwrap();
    f[0] = 2;
    assert!(matches!(decode_frame(&f), Err(TransportError::Version(2))));
    // A length over the cap is refused before anything is allocated.
    let mut big = vec![1u8];
    big.extend_from_slice(&((MAX_FRAME_LEN as u32) + 1).to_be_bytes());
    assert!(matches!(
        read_frame(&mut big.as_slice()),
        Err(TransportError::TooLarge(_))
    ));
    assert!(matches!(
        encode_frame(&vec![0; MAX_FRAME_LEN + 1]),
        Err(TransportError::TooLarge(_))
    ));
    // Truncated frames and trailing bytes.
    let f = encode_frame(b"hello").unwrap();
    assert!(matches!(
        decode_frame(&f[..f.len() - 1]),
        Err(TransportError::Closed)
    ));
    assert!(matches!(decode_frame(&f[..3]), Err(TransportError::Closed)));
    let mut t = f.clone();
    t.push(0);
    assert_eq!(
        format!("{:?}", decode_frame(&t).unwrap_err()),
        "Io(Custom { kind: InvalidData, error: \"trailing bytes after the frame\" })"
    );
    assert_eq!(decode_frame(&f).unwrap(), b"hello");
}

/// A change built on a head that has since moved is refused by the ledger, and nothing of
/// it is stored (the session then aborts without sending).
#[test]
fn a_change_built_on_a_moved_head_is_refused() {
    use dsm_core::receipt::{accept, propose, verify_proposal, LocalDevice};
    use dsm_protocol::session::{Ledger, LedgerError};
    let (mut a, _) = memory_wallet(10);
    let (mut b, _) = memory_wallet(0);
    let built = {
        let l = LocalDevice {
            identity: a.identity(),
            key: a.signing_key(),
            head: Ledger::head(&a),
            tree: a.tree(),
        };
        propose(
            &l,
            &b.device_id(),
            token(DEFAULT_TOKEN),
            Amount(2),
            &a.select_inputs(&token(DEFAULT_TOKEN), Amount(2)).unwrap(),
            &[1; 32],
        )
        .unwrap()
    };
    let vp = verify_proposal(&built.signed, &dsm_core::receipt::EmptyView).unwrap();
    let offer = a.offer_for(&built.signed).unwrap();
    let lineages = b.check_offer(&offer).unwrap().unwrap();
    let acc = {
        let l = LocalDevice {
            identity: b.identity(),
            key: b.signing_key(),
            head: Ledger::head(&b),
            tree: b.tree(),
        };
        accept(&l, &vp, &lineages, &[2; 32]).unwrap()
    };
    a.dev_faucet(DEFAULT_TOKEN, Amount(1)).unwrap();
    b.dev_faucet(DEFAULT_TOKEN, Amount(1)).unwrap();
    let (ha, hb) = (Ledger::head(&a).clone(), Ledger::head(&b).clone());
    assert_eq!(a.commit_debit(&built, &offer), Err(LedgerError::HeadMoved));
    assert_eq!(
        b.commit_credit(&acc, &offer, &lineages),
        Err(LedgerError::HeadMoved)
    );
    assert_eq!((Ledger::head(&a), Ledger::head(&b)), (&ha, &hb));
    assert!(a.pending().unwrap().is_empty());
    assert_eq!((dev(&a), dev(&b)), (11, 1));
}
