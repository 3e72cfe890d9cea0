use super::*;

/// GitHub's documented test vector ("Validating webhook deliveries").
const DOC_SECRET: &[u8] = b"It's a Secret to Everybody";
const DOC_BODY: &[u8] = b"Hello, World!";
const DOC_SIGNATURE: &str =
    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

#[test]
fn documented_vector() {
    // (The simulator's signing meets the same vector: `sim::tests::webhooks`.)
    let v = Verifier::new(&[DOC_SECRET.to_vec()]);
    assert_eq!(v.verify(Some(DOC_SIGNATURE.as_bytes()), DOC_BODY), Ok(()));
}

#[test]
fn table() {
    let v = Verifier::new(&[b"new".to_vec(), DOC_SECRET.to_vec()]);
    let upper = DOC_SIGNATURE.to_uppercase().replace("SHA256=", "sha256=");
    let flipped = DOC_SIGNATURE.replace("757107", "757108");
    type Case<'a> = (Option<&'a str>, &'a [u8], Result<(), SignatureError>);
    let cases: Vec<Case> = vec![
        (Some(DOC_SIGNATURE), DOC_BODY, Ok(())),
        // hex digits in either case decode to the same bytes
        (Some(upper.as_str()), DOC_BODY, Ok(())),
        (None, DOC_BODY, Err(SignatureError::Missing)),
        (
            Some(flipped.as_str()),
            DOC_BODY,
            Err(SignatureError::Mismatch),
        ),
        (
            Some(DOC_SIGNATURE),
            b"Hello, World?",
            Err(SignatureError::Mismatch),
        ),
        (Some("sha1=0a0a"), DOC_BODY, Err(SignatureError::Malformed)),
        (
            Some("757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"),
            DOC_BODY,
            Err(SignatureError::Malformed),
        ),
        (
            Some("sha256=757107"),
            DOC_BODY,
            Err(SignatureError::Malformed),
        ),
        (
            Some("sha256=zz7107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"),
            DOC_BODY,
            Err(SignatureError::Malformed),
        ),
        (Some(""), DOC_BODY, Err(SignatureError::Malformed)),
    ];
    for (header, body, want) in cases {
        assert_eq!(
            v.verify(header.map(str::as_bytes), body),
            want,
            "{header:?}"
        );
    }
}

#[test]
fn rotated_out_secret_fails() {
    let v = Verifier::new(&[b"only-the-new-one".to_vec()]);
    assert_eq!(
        v.verify(Some(DOC_SIGNATURE.as_bytes()), DOC_BODY),
        Err(SignatureError::Mismatch)
    );
}
