use super::*;

#[test]
fn each_key_has_its_own_marker() {
    assert_eq!(
        with_marker("Queued.", &CommentKey::Status(JobId(7))),
        "Queued.\n\n<!-- agen:status:7 -->"
    );
    assert_eq!(
        marker(&CommentKey::Reply(DeliveryId("d-1".into()))),
        "<!-- agen:reply:d-1 -->"
    );
}
