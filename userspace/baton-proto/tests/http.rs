// SPDX-License-Identifier: GPL-2.0

//! The HTTP request-head parser of `src/proto/http.rs`.

use baton_proto::http::{parse_request, HttpError, Request, MAX_HEADER};
use proptest::prelude::*;

fn ok(bytes: &[u8]) -> Request<'_> {
    parse_request(bytes).unwrap_or_else(|e| panic!("{:?}: {e:?}", String::from_utf8_lossy(bytes)))
}

#[test]
fn curl_request() {
    let raw = b"GET /b/index.html?x=1 HTTP/1.1\r\nHost: A.Example:8080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\nbody";
    let r = ok(raw);
    assert_eq!(r.method, b"GET");
    assert_eq!(r.target, b"/b/index.html?x=1");
    assert_eq!(r.path(), b"/b/index.html");
    assert_eq!(r.host, Some(&b"A.Example"[..]));
    assert_eq!(r.header_len, raw.len() - 4);
}

#[test]
fn bare_lf_http10_without_host() {
    let r = ok(b"GET / HTTP/1.0\n\n");
    assert_eq!((r.host, r.path()), (None, &b"/"[..]));
}

#[test]
fn absolute_form_wins_over_host() {
    let r = ok(b"GET http://b.example:81/x#frag HTTP/1.1\r\nHost: a.example\r\n\r\n");
    assert_eq!(r.host, Some(&b"b.example"[..]));
    assert_eq!(r.path(), b"/x");
    assert_eq!(ok(b"GET http://c.example HTTP/1.1\r\n\r\n").path(), b"/");
}

#[test]
fn ipv6_literal_host() {
    assert_eq!(
        ok(b"GET / HTTP/1.1\r\nHost: [2001:db8::1]:80\r\n\r\n").host,
        Some(&b"[2001:db8::1]"[..])
    );
}

#[test]
fn refusals() {
    let cases: &[(&[u8], HttpError)] = &[
        (b"\x16\x03\x01\x02\x00\x01", HttpError::NotHttp), // TLS ClientHello
        (b"SSH-2.0-OpenSSH_9.2\r\n", HttpError::NotHttp),
        (b"GET / HTTP/2.0\r\n\r\n", HttpError::NotHttp),
        (b"GET  / HTTP/1.1\r\n\r\n", HttpError::NotHttp),
        (b"GET / HTTP/1.1\r\nno colon\r\n\r\n", HttpError::NotHttp),
        (
            b"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n",
            HttpError::NotHttp,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
            HttpError::DuplicateHost,
        ),
        (b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", HttpError::BadHost),
        (
            b"GET / HTTP/1.1\r\nHost: user@a\r\n\r\n",
            HttpError::BadHost,
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a:99999x\r\n\r\n",
            HttpError::BadHost,
        ),
        (b"GET / HTTP/1.1\r\nHost: a", HttpError::Incomplete),
        (b"GE", HttpError::Incomplete),
        (b"", HttpError::Incomplete),
    ];
    for (raw, want) in cases {
        assert_eq!(
            parse_request(raw),
            Err(*want),
            "{:?}",
            String::from_utf8_lossy(raw)
        );
    }
}

#[test]
fn size_bound() {
    let mut raw = b"GET / HTTP/1.1\r\nX: ".to_vec();
    raw.resize(MAX_HEADER + 10, b'a');
    assert_eq!(parse_request(&raw), Err(HttpError::TooLarge));
    raw.extend_from_slice(b"\r\n\r\n");
    assert_eq!(parse_request(&raw), Err(HttpError::TooLarge));
    let mut line = b"GET /".to_vec();
    line.resize(MAX_HEADER + 10, b'a');
    assert_eq!(parse_request(&line), Err(HttpError::TooLarge));
}

fn token() -> impl Strategy<Value = String> {
    "[A-Z]{1,8}"
}

prop_compose! {
    fn request()(
        method in token(),
        path in "/[a-z0-9/._-]{0,20}",
        query in proptest::option::of("[a-z0-9=&]{0,10}"),
        host in proptest::option::of("[a-z][a-z0-9-]{0,10}(\\.[a-z]{2,5}){0,2}"),
        port in proptest::option::of(1u16..),
        fields in proptest::collection::vec(("[A-Za-z][A-Za-z-]{0,10}", "[ -~]{0,20}"), 0..4),
        crlf in any::<bool>(),
    ) -> (Vec<u8>, String, String, Option<String>) {
        let nl = if crlf { "\r\n" } else { "\n" };
        let target = match &query { Some(q) => format!("{path}?{q}"), None => path.clone() };
        let mut raw = format!("{method} {target} HTTP/1.1{nl}");
        for (name, value) in &fields {
            if !name.eq_ignore_ascii_case("host") {
                raw.push_str(&format!("{name}: {}{nl}", value.trim()));
            }
        }
        if let Some(h) = &host {
            match port {
                Some(p) => raw.push_str(&format!("Host: {h}:{p}{nl}")),
                None => raw.push_str(&format!("Host: {h}{nl}")),
            }
        }
        raw.push_str(nl);
        (raw.into_bytes(), method, path, host)
    }
}

proptest! {
    #[test]
    fn generated_requests_parse((raw, method, path, host) in request()) {
        let r = parse_request(&raw).unwrap();
        prop_assert_eq!(r.method, method.as_bytes());
        prop_assert_eq!(r.path(), path.as_bytes());
        prop_assert_eq!(r.host, host.as_deref().map(str::as_bytes));
        prop_assert_eq!(r.header_len, raw.len());
    }

    #[test]
    fn prefixes_are_incomplete((raw, ..) in request(), cut in any::<prop::sample::Index>()) {
        let n = cut.index(raw.len());
        prop_assert_eq!(parse_request(&raw[..n]), Err(HttpError::Incomplete));
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        if let Ok(r) = parse_request(&bytes) {
            prop_assert!(r.header_len <= bytes.len());
        }
    }
}
