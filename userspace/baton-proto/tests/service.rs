// SPDX-License-Identifier: GPL-2.0

//! Service and back-end checks of `src/proto/service.rs`.

use baton_proto::service::{
    check_backend_add, check_endpoint, check_service_add, BackendConf, Endpoint, Scheduler,
    ServiceConf, ServiceError, MAX_BACKENDS, MAX_SERVICES, MAX_WEIGHT,
};

fn ep(last: u8, port: u16) -> Endpoint {
    Endpoint {
        addr: [198, 18, 1, last],
        port,
    }
}

fn svc(last: u8) -> ServiceConf {
    ServiceConf {
        vip: ep(last, 80),
        scheduler: Scheduler::Lc,
        max_conns: 0,
    }
}

fn be(last: u8, weight: u32) -> BackendConf {
    BackendConf {
        addr: ep(last, 8080),
        weight,
        peer: 0,
    }
}

#[test]
fn endpoints() {
    assert_eq!(check_endpoint(&ep(10, 80)), Ok(()));
    assert_eq!(check_endpoint(&ep(10, 0)), Err(ServiceError::ZeroPort));
    for addr in [[0, 0, 0, 0], [127, 0, 0, 1], [224, 0, 0, 1], [255; 4]] {
        assert_eq!(
            check_endpoint(&Endpoint { addr, port: 80 }),
            Err(ServiceError::BadAddr)
        );
    }
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
    let full: Vec<_> = (0..MAX_BACKENDS)
        .map(|i| BackendConf {
            addr: Endpoint {
                addr: [198, 18, 2 + (i / 200) as u8, (i % 200) as u8 + 1],
                port: 8080,
            },
            weight: 1,
            peer: 0,
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
        (ServiceError::ZeroPort, "port"),
        (ServiceError::BadAddr, "addr"),
        (ServiceError::NoService, "service"),
        (ServiceError::UnknownPeer, "peer"),
    ] {
        assert!(e.message().to_str().unwrap().contains(word), "{e:?}");
    }
}
