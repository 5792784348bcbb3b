//! Rationing (PROTOCOL.md §15): each rule of the per-client buckets, with the clock given
//! by the test (no sleeping, no wall clock).

use dsm_node::ration::{ClientKey, RationLimits, Rationed, Rationing};
use std::net::IpAddr;
use std::time::{Duration, Instant};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn limits() -> RationLimits {
    RationLimits {
        requests_per_second: 10,
        burst: 20,
        write_bytes_per_minute: 6_000,
        owner_write_bytes_per_minute: 3_000,
        trusted_proxies: vec![ip("10.0.0.1")],
    }
}

#[test]
fn a_client_gets_its_burst_then_its_rate_and_a_refusal_takes_nothing() {
    let r = Rationing::new(limits());
    let (a, t0) = (ClientKey::of(ip("192.0.2.1")), Instant::now());
    for _ in 0..20 {
        assert_eq!(r.admit(a, 0, t0), Ok(()));
    }
    assert_eq!(r.admit(a, 0, t0), Err(Rationed::Rate));
    assert_eq!(
        r.admit(a, 0, t0),
        Err(Rationed::Rate),
        "a refusal refills nothing"
    );
    // 10 per second: after 0.5 s, five more.
    let t1 = t0 + Duration::from_millis(500);
    for _ in 0..5 {
        assert_eq!(r.admit(a, 0, t1), Ok(()));
    }
    assert_eq!(r.admit(a, 0, t1), Err(Rationed::Rate));
    // Another client is untouched.
    assert_eq!(r.admit(ClientKey::of(ip("192.0.2.2")), 0, t1), Ok(()));
    assert_eq!(r.refused(), (3, 0));
}

#[test]
fn write_bytes_are_budgeted_per_minute_and_refused_before_the_body() {
    let r = Rationing::new(limits());
    let (a, t0) = (ClientKey::of(ip("192.0.2.1")), Instant::now());
    assert_eq!(r.admit(a, 4_000, t0), Ok(()));
    assert_eq!(r.admit(a, 2_001, t0), Err(Rationed::Bytes));
    assert_eq!(
        r.admit(a, 2_000, t0),
        Ok(()),
        "the refused body took nothing"
    );
    assert_eq!(r.admit(a, 1, t0), Err(Rationed::Bytes));
    // 6,000 a minute: 100 a second.
    assert_eq!(r.admit(a, 100, t0 + Duration::from_secs(1)), Ok(()));
    assert_eq!(r.refused(), (0, 2));
}

#[test]
fn an_ipv6_slash_64_is_one_client_and_ipv4_mapped_is_ipv4() {
    assert_eq!(
        ClientKey::of(ip("2001:db8:1:2::1")),
        ClientKey::of(ip("2001:db8:1:2:ffff:ffff:ffff:ffff"))
    );
    assert_ne!(
        ClientKey::of(ip("2001:db8:1:2::1")),
        ClientKey::of(ip("2001:db8:1:3::1"))
    );
    assert_eq!(
        ClientKey::of(ip("::ffff:192.0.2.1")),
        ClientKey::of(ip("192.0.2.1"))
    );
}

#[test]
fn x_forwarded_for_is_believed_only_from_a_trusted_proxy_and_only_its_last_entry() {
    let r = Rationing::new(limits());
    let forged = Some("198.51.100.7, 203.0.113.9");
    // From the trusted proxy: the last entry (the one the proxy appended).
    assert_eq!(
        r.client(ip("10.0.0.1"), forged),
        ClientKey::of(ip("203.0.113.9"))
    );
    // From anyone else: the header is ignored.
    assert_eq!(
        r.client(ip("192.0.2.1"), forged),
        ClientKey::of(ip("192.0.2.1"))
    );
    // A proxy that sent junk: the proxy itself is the client.
    assert_eq!(
        r.client(ip("10.0.0.1"), Some("not an address")),
        ClientKey::of(ip("10.0.0.1"))
    );
}

#[test]
fn unlimited_admits_everything() {
    let r = Rationing::new(RationLimits::unlimited());
    let (a, t0) = (ClientKey::of(ip("192.0.2.1")), Instant::now());
    for _ in 0..10_000 {
        assert_eq!(r.admit(a, 1 << 20, t0), Ok(()));
    }
}

#[test]
fn a_full_table_of_active_clients_refuses_a_new_one_until_some_go_idle() {
    let r = Rationing::new(limits());
    let t0 = Instant::now();
    for i in 0..100_000u32 {
        let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
        assert_eq!(r.admit(ClientKey::of(ip), 0, t0), Ok(()));
    }
    let newcomer = ClientKey::of(ip("192.0.2.99"));
    assert_eq!(
        r.admit(newcomer, 0, t0),
        Err(Rationed::Rate),
        "not served unrationed"
    );
    // A tracked client is still served.
    assert_eq!(r.admit(ClientKey::of(ip("10.0.0.5")), 0, t0), Ok(()));
    // A minute later the idle ones are dropped and the newcomer gets a bucket.
    assert_eq!(r.admit(newcomer, 0, t0 + Duration::from_secs(61)), Ok(()));
}

#[test]
fn one_slot_owner_is_limited_across_every_client_and_a_refusal_takes_nothing() {
    let r = Rationing::new(limits());
    let (a, b, t0) = ([1u8; 32], [2u8; 32], Instant::now());
    // 3,000 bytes a minute for owner a, however many clients write for it.
    assert_eq!(r.admit_owner(a, 2_000, t0), Ok(()));
    assert_eq!(r.admit_owner(a, 1_500, t0), Err(Rationed::OwnerBytes));
    assert_eq!(
        r.admit_owner(a, 1_500, t0),
        Err(Rationed::OwnerBytes),
        "a refusal takes nothing and refills nothing"
    );
    assert_eq!(r.admit_owner(a, 1_000, t0), Ok(()));
    // Another owner has its own bucket.
    assert_eq!(r.admit_owner(b, 3_000, t0), Ok(()));
    // 50 bytes a second: 30 s later, 1,500 more for a.
    let t1 = t0 + Duration::from_secs(30);
    assert_eq!(r.admit_owner(a, 1_500, t1), Ok(()));
    assert_eq!(r.admit_owner(a, 1, t1), Err(Rationed::OwnerBytes));
    // Unlimited when 0.
    let free = Rationing::new(RationLimits {
        owner_write_bytes_per_minute: 0,
        ..limits()
    });
    assert_eq!(free.admit_owner(a, u64::MAX / 2, t0), Ok(()));
}
