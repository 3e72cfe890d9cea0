use super::*;

#[test]
fn the_allowlist_is_checked_before_anything_else() {
    let registries = Registries::parse("ghcr.io, 127.0.0.1:5000,GHCR.io").unwrap();
    assert_eq!(registries.shown(), "ghcr.io, 127.0.0.1:5000");
    let ok = allowed("127.0.0.1:5000/test/busybox:1", &registries).unwrap();
    assert_eq!(ok.repository(), "test/busybox");
    assert_eq!(ok.tag(), Some("1"));
    let digest = format!("ghcr.io/o/r@sha256:{}", "a".repeat(64));
    assert!(allowed(&digest, &registries).unwrap().digest().is_some());
    for (image, registry) in [
        ("busybox", "docker.io"),
        ("127.0.0.1:5001/x:1", "127.0.0.1:5001"),
        ("quay.io/o/r:1", "quay.io"),
    ] {
        match allowed(image, &registries) {
            Err(ImageError::NotAllowed { registry: r, .. }) => assert_eq!(r, registry),
            other => panic!("{image}: {other:?}"),
        }
    }
    assert!(matches!(
        allowed("Not A Reference", &registries),
        Err(ImageError::Reference { .. })
    ));
    assert!(Registries::parse("https://ghcr.io").is_err());
    assert!(Registries::parse("ghcr.io/x").is_err());
    assert!(Registries::parse("").unwrap().is_empty());
}

#[test]
fn plain_http_is_for_loopback_only() {
    for (registry, plain) in [
        ("127.0.0.1:5000", true),
        ("localhost", true),
        ("localhost:80", true),
        ("[::1]:5000", true),
        ("ghcr.io", false),
        ("127.0.0.2:5000", false),
        ("localhost.example:5000", false),
    ] {
        assert_eq!(plain_http(registry), plain, "{registry}");
    }
}
