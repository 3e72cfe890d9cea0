use super::*;

#[test]
fn credentials_per_registry_never_shown() {
    let c = Credentials::parse("ghcr.io=bot:s3cret:with-colon, 127.0.0.1:5000=u:p").unwrap();
    assert!(c.auth("GHCR.io") == RegistryAuth::Basic("bot".into(), "s3cret:with-colon".into()));
    assert!(c.auth("127.0.0.1:5000") == RegistryAuth::Basic("u".into(), "p".into()));
    assert!(c.auth("quay.io") == RegistryAuth::Anonymous);
    assert_eq!(c.secrets().collect::<Vec<_>>(), ["s3cret:with-colon", "p"]);
    assert!(!format!("{c:?}").contains("s3cret"));
    let e = Credentials::parse("ghcr.io=bot").unwrap_err();
    assert!(e.contains("\"ghcr.io\""), "{e}");
    assert!(Credentials::parse("=u:p").is_err());
    assert!(Credentials::parse("").unwrap().secrets().next().is_none());
}
