use super::*;

#[test]
fn a_link_holds_for_its_job_until_it_expires_and_not_when_changed() {
    let key = b"0123456789abcdef0123456789abcdef";
    let link = path(key, JobId(7), 2_000);
    let sig = link.rsplit_once("sig=").unwrap().1;
    assert!(link.starts_with("/jobs/7?exp=2000&sig="), "{link}");
    assert!(holds(key, JobId(7), 2_000, sig, 1_999));
    assert!(!holds(key, JobId(7), 2_000, sig, 2_000), "expired");
    assert!(!holds(key, JobId(8), 2_000, sig, 1_000), "another job's");
    assert!(!holds(key, JobId(7), 3_000, sig, 1_000), "a later expiry");
    assert!(
        !holds(b"another key", JobId(7), 2_000, sig, 1_000),
        "another key"
    );
    let mut tampered = sig.to_string();
    tampered.replace_range(0..1, if sig.starts_with('0') { "1" } else { "0" });
    assert!(!holds(key, JobId(7), 2_000, &tampered, 1_000));
    assert!(!holds(key, JobId(7), 2_000, "not hex", 1_000));
    assert!(!holds(key, JobId(7), 2_000, "", 1_000));
}
