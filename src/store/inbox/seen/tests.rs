use super::*;

fn false_maybes(seen: &Seen) -> usize {
    (0..100_000)
        .filter(|n| seen.may_contain(&format!("other-{n}")))
        .count()
}

#[test]
fn every_inserted_id_is_found_and_few_others_are() {
    let mut seen = Seen::with_capacity(50_000);
    for n in 0..50_000 {
        seen.insert(&format!("delivery-{n}"));
    }
    assert!((0..50_000).all(|n| seen.may_contain(&format!("delivery-{n}"))));
    // Expected about 60 (1 in 1,700); far below 1 in 100 unless the probes are broken.
    let false_maybes = false_maybes(&seen);
    assert!(false_maybes < 300, "{false_maybes} of 100000");
    assert_eq!(seen.layers.len(), 1);
}

#[test]
fn growing_keeps_every_id_and_few_false_maybes() {
    let mut seen = Seen::with_capacity(1_000);
    for n in 0..60_000 {
        seen.insert(&format!("delivery-{n}"));
    }
    assert!(seen.layers.len() >= 5, "{} layers", seen.layers.len());
    assert!((0..60_000).all(|n| seen.may_contain(&format!("delivery-{n}"))));
    let false_maybes = false_maybes(&seen);
    assert!(false_maybes < 600, "{false_maybes} of 100000");
}

#[test]
fn an_empty_filter_knows_nothing() {
    let seen = Seen::with_capacity(0);
    assert!(!seen.may_contain(""));
    assert!(!seen.may_contain("a"));
}
