// SPDX-License-Identifier: GPL-2.0

//! Service and back-end checks of `src/proto/service.rs`.

use baton_proto::service::{
    check_backend_add, check_endpoint, check_family, check_service_add, check_weight, set_backend,
    BackendConf, Endpoint, Ip, Scheduler, ServiceConf, ServiceError, MAX_BACKENDS, MAX_SERVICES,
    MAX_WEIGHT,
};
use proptest::prelude::*;
use std::net::{Ipv4Addr, Ipv6Addr};

fn ep(last: u8, port: u16) -> Endpoint<Ip> {
    Endpoint {
        addr: Ip::V4([198, 18, 1, last]),
        port,
    }
}

/// `[2001:db8::last]:port`.
fn ep6(last: u8, port: u16) -> Endpoint<Ip> {
    let mut a = [0u8; 16];
    a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
    a[15] = last;
    Endpoint {
        addr: Ip::V6(a),
        port,
    }
}

fn svc(last: u8) -> ServiceConf {
    ServiceConf {
        vip: ep(last, 80),
        scheduler: Scheduler::Lc,
        max_conns: 0,
        per_request: true,
    }
}

fn be(last: u8, weight: u32) -> BackendConf {
    BackendConf {
        addr: ep(last, 8080),
        weight,
        peer: 0,
        draining: false,
    }
}

#[test]
fn endpoints() {
    assert_eq!(check_endpoint(&ep(10, 80)), Ok(()));
    assert_eq!(check_endpoint(&ep(10, 0)), Err(ServiceError::ZeroPort));
    for addr in [[0, 0, 0, 0], [127, 0, 0, 1], [224, 0, 0, 1], [255; 4]] {
        assert_eq!(
            check_endpoint(&Endpoint {
                addr: Ip::V4(addr),
                port: 80
            }),
            Err(ServiceError::BadAddr)
        );
    }
    // IPv6: the rules of a peer's address.
    assert_eq!(check_endpoint(&ep6(10, 80)), Ok(()));
    assert_eq!(check_endpoint(&ep6(10, 0)), Err(ServiceError::ZeroPort));
    let v6 = |s: &str| Endpoint {
        addr: Ip::V6(s.parse::<Ipv6Addr>().unwrap().octets()),
        port: 80,
    };
    for (addr, e) in [
        ("::", ServiceError::BadAddr6),
        ("::1", ServiceError::BadAddr6),
        ("ff02::1", ServiceError::BadAddr6),
        ("fe80::1", ServiceError::LinkLocal),
        ("::ffff:198.18.1.10", ServiceError::Mapped),
    ] {
        assert_eq!(check_endpoint(&v6(addr)), Err(e), "{addr}");
    }
    // A service's back-ends are of its family.
    assert_eq!(check_family(&ep6(10, 80), &ep6(3, 8080)), Ok(()));
    assert_eq!(check_family(&ep(10, 80), &ep(3, 8080)), Ok(()));
    assert_eq!(
        check_family(&ep6(10, 80), &ep(3, 8080)),
        Err(ServiceError::Family)
    );
    assert_eq!(
        check_family(&ep(10, 80), &ep6(3, 8080)),
        Err(ServiceError::Family)
    );
}

#[test]
fn services() {
    let existing = [svc(10)];
    assert_eq!(check_service_add(existing.iter(), &svc(11)), Ok(()));
    assert_eq!(
        check_service_add(existing.iter(), &svc(10)),
        Err(ServiceError::ServiceExists)
    );
    // Another port on the same VIP is another service.
    let other_port = ServiceConf {
        vip: ep(10, 443),
        ..svc(10)
    };
    assert_eq!(check_service_add(existing.iter(), &other_port), Ok(()));
    let full: Vec<_> = (0..MAX_SERVICES as u8).map(|i| svc(i + 1)).collect();
    assert_eq!(
        check_service_add(full.iter(), &svc(200)),
        Err(ServiceError::TooManyServices)
    );
}

#[test]
fn backends() {
    let existing = [be(20, 1)];
    assert_eq!(
        check_backend_add(existing.iter(), &be(21, 0)),
        Ok(()),
        "drained is fine"
    );
    assert_eq!(
        check_backend_add(existing.iter(), &be(20, 5)),
        Err(ServiceError::BackendExists)
    );
    assert_eq!(
        check_backend_add(existing.iter(), &be(22, MAX_WEIGHT + 1)),
        Err(ServiceError::BadWeight)
    );
    // `backend set` checks the weight alone.
    for w in [0, 1, MAX_WEIGHT] {
        assert_eq!(check_weight(w), Ok(()));
    }
    assert_eq!(check_weight(MAX_WEIGHT + 1), Err(ServiceError::BadWeight));
    assert_eq!(check_weight(u32::MAX), Err(ServiceError::BadWeight));
    let full: Vec<_> = (0..MAX_BACKENDS)
        .map(|i| BackendConf {
            addr: Endpoint {
                addr: Ip::V4([198, 18, 2 + (i / 200) as u8, (i % 200) as u8 + 1]),
                port: 8080,
            },
            weight: 1,
            peer: 0,
            draining: false,
        })
        .collect();
    assert_eq!(
        check_backend_add(full.iter(), &be(22, 1)),
        Err(ServiceError::TooManyBackends)
    );
}

#[test]
fn messages_name_the_field() {
    for (e, word) in [
        (ServiceError::BadWeight, "weight"),
        (ServiceError::NoWeight, "weight"),
        (ServiceError::ZeroPort, "port"),
        (ServiceError::BadAddr, "addr"),
        (ServiceError::NoService, "service"),
        (ServiceError::UnknownPeer, "peer"),
    ] {
        assert!(e.message().to_str().unwrap().contains(word), "{e:?}");
    }
}

/// Addresses with runs of zero groups where RFC 5952's choices lie: one
/// zero group, runs of equal length, at either end, the whole address.
fn v6_with_zero_runs() -> impl Strategy<Value = [u8; 16]> {
    (any::<[u16; 8]>(), any::<u8>()).prop_map(|(mut g, zeros)| {
        for (i, g) in g.iter_mut().enumerate() {
            if zeros & (1 << i) != 0 {
                *g = 0;
            }
        }
        let mut a = [0u8; 16];
        for (i, g) in g.iter().enumerate() {
            a[2 * i..2 * i + 2].copy_from_slice(&g.to_be_bytes());
        }
        a
    })
}

proptest! {
    /// IPv6 addresses print as std (RFC 5952) prints them, and back.
    #[test]
    fn ipv6_text_is_rfc5952(a in v6_with_zero_runs()) {
        let text = Ip::V6(a).to_string();
        prop_assert_eq!(&text, &Ipv6Addr::from(a).to_string());
        prop_assert_eq!(text.parse::<Ipv6Addr>().unwrap().octets(), a);
    }

    #[test]
    fn ipv4_text_and_mapping(a in any::<[u8; 4]>(), port in any::<u16>()) {
        prop_assert_eq!(Endpoint { addr: a, port }.to_string(), format!("{}:{port}", Ipv4Addr::from(a)));
        prop_assert_eq!(Ip::V4(a).to_string(), Ipv4Addr::from(a).to_string());
        let mapped = Ipv4Addr::from(a).to_ipv6_mapped().octets();
        prop_assert_eq!(Ip::from_v6(mapped), Ip::V4(a));
        prop_assert_eq!(Ip::V6(mapped).to_string(), Ipv6Addr::from(mapped).to_string());
        let e = Endpoint::<Ip>::from(Endpoint { addr: a, port });
        prop_assert_eq!(e.to_string(), format!("{}:{port}", Ipv4Addr::from(a)));
    }
}

#[test]
fn ipv6_endpoints_print_in_brackets() {
    let a: Ipv6Addr = "2001:db8::2".parse().unwrap();
    let e = Endpoint {
        addr: Ip::from_v6(a.octets()),
        port: 7300,
    };
    assert_eq!(e.to_string(), "[2001:db8::2]:7300");
    assert_eq!(Ip::from_v6(a.octets()).v4(), None);
    let e6: Endpoint<Ip> = Endpoint {
        addr: a.octets(),
        port: 80,
    }
    .into();
    assert_eq!(e6.to_string(), "[2001:db8::2]:80");
    let mapped: Ipv6Addr = "::ffff:198.18.0.2".parse().unwrap();
    assert_eq!(Ip::from(mapped.octets()), Ip::V4([198, 18, 0, 2]));
    // Not mapped: the IPv4-compatible form (deprecated) stays IPv6.
    let compat: Ipv6Addr = "::198.18.0.2".parse().unwrap();
    assert_eq!(Ip::from_v6(compat.octets()), Ip::V6(compat.octets()));
}

#[test]
fn backend_set_weight_and_drain() {
    let set = |b: BackendConf, w, d| {
        let mut b = b;
        set_backend(&mut b, w, d).map(|()| (b.weight, b.draining))
    };
    let b = be(3, 5);
    assert_eq!(set(b, None, None), Err(ServiceError::NoWeight));
    assert_eq!(
        set(b, Some(MAX_WEIGHT + 1), None),
        Err(ServiceError::BadWeight)
    );
    assert_eq!(set(b, Some(7), None), Ok((7, false)));
    assert_eq!(
        set(b, Some(0), None),
        Ok((0, false)),
        "weight 0 alone drains passively"
    );
    assert_eq!(set(b, None, Some(true)), Ok((0, true)));
    assert_eq!(set(b, Some(0), Some(true)), Ok((0, true)));
    assert_eq!(set(b, Some(2), Some(true)), Err(ServiceError::DrainWeight));
    let draining = BackendConf {
        weight: 0,
        draining: true,
        ..b
    };
    assert_eq!(
        set(draining, Some(0), None),
        Ok((0, true)),
        "still draining"
    );
    assert_eq!(
        set(draining, Some(4), None),
        Ok((4, false)),
        "a weight ends it"
    );
    assert_eq!(set(draining, None, Some(false)), Ok((0, false)));
    assert_eq!(set(draining, Some(3), Some(false)), Ok((3, false)));
    assert_eq!(set(b, None, Some(false)), Ok((5, false)));
    // A refused change leaves the back-end as it was.
    let mut c = draining;
    assert!(set_backend(&mut c, Some(9), Some(true)).is_err());
    assert_eq!(c, draining);
}
