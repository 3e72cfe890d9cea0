#[test]
fn parses_status_headers_and_body() {
    let reply =
        super::parse(b"Status: 403 Forbidden\r\nContent-Type: text/plain\r\n\r\nno\n").unwrap();
    assert_eq!(reply.status, 403);
    assert_eq!(
        reply.headers,
        [("Content-Type".into(), "text/plain".into())]
    );
    assert_eq!(reply.body, b"no\n");
    let ok = super::parse(b"Expires: x\n\nbody").unwrap();
    assert_eq!((ok.status, ok.body.as_slice()), (200, &b"body"[..]));
    assert!(super::parse(b"no end").is_err());
}
