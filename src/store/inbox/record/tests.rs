use super::*;

fn delivery(n: u32, action: Option<&str>, installation: Option<u64>) -> Stamped {
    Stamped {
        delivery: NewDelivery {
            id: DeliveryId(format!("d-{n}")),
            event: "issue_comment".into(),
            action: action.map(str::to_string),
            installation_id: installation,
            body: Bytes::from(format!("{{\"n\":{n}}}")),
        },
        received_at: 1_700_000_000_000 + i64::from(n),
    }
}

fn log_of(records: &[Stamped], generation: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        encode(r, generation, &mut out);
    }
    out
}

fn ids(records: &[Stamped]) -> Vec<&str> {
    records.iter().map(|r| r.delivery.id.0.as_str()).collect()
}

#[test]
fn records_read_back_exactly() {
    let written = vec![
        delivery(1, Some("created"), Some(42)),
        delivery(2, None, None),
        delivery(3, Some(""), Some(u64::MAX)),
    ];
    let mut log = log_of(&written, 7);
    assert_eq!(log.len(), written.iter().map(encoded_len).sum::<usize>());
    log.extend_from_slice(&[0; 64]); // the zeroed rest of a segment
    let read = decode_all(&log, 7);
    assert_eq!(read.len(), 3);
    for (r, w) in read.iter().zip(&written) {
        assert_eq!(r.delivery.id, w.delivery.id);
        assert_eq!(r.delivery.event, w.delivery.event);
        assert_eq!(r.delivery.action, w.delivery.action);
        assert_eq!(r.delivery.installation_id, w.delivery.installation_id);
        assert_eq!(r.delivery.body, w.delivery.body);
        assert_eq!(r.received_at, w.received_at);
    }
}

#[test]
fn a_torn_record_ends_the_log() {
    let written = [delivery(1, None, None), delivery(2, None, None)];
    let log = log_of(&written, 1);
    // Cut anywhere inside the second record: only the first is read.
    let first_len = log_of(&written[..1], 1).len();
    for cut in first_len..log.len() {
        assert_eq!(ids(&decode_all(&log[..cut], 1)), ["d-1"], "cut at {cut}");
    }
    // A flipped bit in the second record's payload: only the first is read.
    let mut flipped = log.clone();
    *flipped.last_mut().unwrap() ^= 1;
    assert_eq!(ids(&decode_all(&flipped, 1)), ["d-1"]);
}

#[test]
fn records_of_another_generation_are_not_read() {
    let mut log = log_of(&[delivery(1, None, None)], 2);
    log.extend(log_of(&[delivery(9, None, None)], 1)); // an earlier use of the segment
    assert_eq!(ids(&decode_all(&log, 2)), ["d-1"]);
    assert!(decode_all(&log, 3).is_empty());
}

#[test]
fn garbage_is_not_read_and_does_not_panic() {
    let mut noise = vec![0xff_u8; 100];
    noise[0..4].copy_from_slice(&5u32.to_le_bytes());
    assert!(decode_all(&noise, 0xffff_ffff_ffff_ffff).is_empty());
    assert!(decode_all(&[], 1).is_empty());
    assert!(decode_all(&[1, 0, 0], 1).is_empty());
}
