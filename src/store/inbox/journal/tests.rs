use bytes::Bytes;

use super::*;
use crate::ids::DeliveryId;
use crate::store::inbox::NewDelivery;

fn delivery(n: usize) -> Stamped {
    Stamped {
        delivery: NewDelivery {
            id: DeliveryId(format!("d-{n}")),
            event: "issues".into(),
            action: Some("labeled".into()),
            installation_id: Some(1),
            body: Bytes::from(vec![b'x'; 1000]),
        },
        received_at: n as i64,
    }
}

/// Appends deliveries `range` one batch each, as the inbox writer does.
fn append(journal: &mut Journal, range: std::ops::Range<usize>) -> Vec<u64> {
    range
        .map(|n| journal.append(&[delivery(n)]).unwrap())
        .collect()
}

fn ids(recovered: &[Stamped]) -> Vec<String> {
    recovered.iter().map(|s| s.delivery.id.0.clone()).collect()
}

fn expected(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|n| format!("d-{n}")).collect()
}

fn segment_files(dir: &Path) -> usize {
    fs::read_dir(dir).unwrap().count()
}

const SMALL: u64 = HEADER_BYTES + 4096; // three 1 KB deliveries per segment

#[test]
fn what_was_appended_is_recovered_after_a_crash_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, recovered) = Journal::open(dir.path(), SMALL).unwrap();
    assert!(recovered.is_empty());
    journal.forget_recovered().unwrap();
    let generations = append(&mut journal, 0..10);
    assert!(generations.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(
        generations.last(),
        Some(&4),
        "three per segment: {generations:?}"
    );
    drop(journal); // no clean shutdown

    let (mut journal, recovered) = Journal::open(dir.path(), SMALL).unwrap();
    assert_eq!(ids(&recovered), expected(0..10));
    assert_eq!(recovered[3].received_at, 3);
    journal.forget_recovered().unwrap();
    // New appends continue with later generations, and only they are recovered next time.
    assert_eq!(append(&mut journal, 10..11), [5]);
    drop(journal);
    let (_, recovered) = Journal::open(dir.path(), SMALL).unwrap();
    assert_eq!(ids(&recovered), expected(10..11));
}

#[test]
fn recycled_segments_are_not_read_again_and_are_reused() {
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, _) = Journal::open(dir.path(), SMALL).unwrap();
    journal.forget_recovered().unwrap();
    let recycler = journal.recycler();
    for round in 0..20 {
        let generations = append(&mut journal, round * 6..round * 6 + 6);
        // The copier committed everything up to the last batch's generation.
        recycler
            .recycle_before(*generations.last().unwrap())
            .unwrap();
    }
    assert!(
        segment_files(dir.path()) <= 1 + KEEP_FREE,
        "segments are reused"
    );
    drop(journal);
    let (_, recovered) = Journal::open(dir.path(), SMALL).unwrap();
    // Only the segment still being written holds deliveries not yet given back.
    assert_eq!(ids(&recovered), expected(117..120));
}

#[test]
fn a_segment_is_given_back_only_when_every_delivery_in_it_was_copied() {
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, _) = Journal::open(dir.path(), SMALL).unwrap();
    journal.forget_recovered().unwrap();
    let generations = append(&mut journal, 0..7); // generations 1,1,1,2,2,2,3
    journal.recycler().recycle_before(2).unwrap();
    drop(journal);
    let (_, recovered) = Journal::open(dir.path(), SMALL).unwrap();
    assert_eq!(generations, [1, 1, 1, 2, 2, 2, 3]);
    assert_eq!(ids(&recovered), expected(3..7));
}

#[test]
fn files_that_are_not_whole_segments_are_removed() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("00000007.seg"), b"half made").unwrap();
    fs::write(dir.path().join("notes.txt"), b"not ours").unwrap();
    let (mut journal, recovered) = Journal::open(dir.path(), SMALL).unwrap();
    assert!(recovered.is_empty());
    journal.forget_recovered().unwrap();
    assert!(!dir.path().join("00000007.seg").exists());
    assert!(dir.path().join("notes.txt").exists());
    // New segments are numbered after the one found.
    assert!(dir.path().join("00000008.seg").exists());
}

#[test]
fn generations_keep_rising_across_restarts_so_old_records_stay_old() {
    let dir = tempfile::tempdir().unwrap();
    let (mut journal, _) = Journal::open(dir.path(), SMALL).unwrap();
    journal.forget_recovered().unwrap();
    let before = append(&mut journal, 0..7);
    journal.recycler().recycle_before(u64::MAX).unwrap(); // sealed ones are given back
    drop(journal);
    let (mut journal, _) = Journal::open(dir.path(), SMALL).unwrap();
    journal.forget_recovered().unwrap();
    let after = append(&mut journal, 7..8);
    assert!(
        after[0] > *before.last().unwrap(),
        "{before:?} then {after:?}"
    );
    drop(journal);
    // A reused segment still holds records of its earlier use after the new one: unread.
    let (_, recovered) = Journal::open(dir.path(), SMALL).unwrap();
    assert_eq!(ids(&recovered), expected(7..8));
}
