use super::*;

#[test]
fn output_is_kept_and_streamed_up_to_the_cap() {
    let mut streamed = Vec::new();
    let mut capped = Capped::new(5);
    capped.push(b"abc", &mut |c: &[u8]| streamed.extend_from_slice(c));
    assert!(!capped.truncated);
    capped.push(b"defg", &mut |c: &[u8]| streamed.extend_from_slice(c));
    capped.push(b"h", &mut |c: &[u8]| streamed.extend_from_slice(c));
    assert_eq!(capped.kept, b"abcde");
    assert_eq!(streamed, b"abcde");
    assert!(capped.truncated);
}
