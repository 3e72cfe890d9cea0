use super::*;

fn pkt(s: &[u8]) -> Vec<u8> {
    let mut v = format!("{:04x}", s.len() + 4).into_bytes();
    v.extend_from_slice(s);
    v
}

#[test]
fn reads_commands_until_flush() {
    let (a, b) = ("a".repeat(40), "b".repeat(40));
    let mut body = pkt(format!("{a} {b} refs/heads/x\0report-status side-band-64k").as_bytes());
    body.extend(pkt(format!("{b} {a} refs/tags/v1\n").as_bytes()));
    body.extend(b"0000PACK....");
    body.extend(pkt(format!("{a} {a} refs/heads/late").as_bytes()));
    let got = updates(&body);
    assert_eq!(got.len(), 2);
    assert_eq!(
        (got[0].name.as_str(), got[0].old.as_str()),
        ("refs/heads/x", a.as_str())
    );
    assert_eq!(
        (got[1].name.as_str(), got[1].new.as_str()),
        ("refs/tags/v1", a.as_str())
    );
    assert!(updates(b"zz").is_empty());
    assert!(updates(b"0003").is_empty());
    assert!(updates(b"00ff short").is_empty());
}
