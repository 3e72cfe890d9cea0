use super::*;

#[test]
fn at_the_cap_the_longest_idle_connection_makes_room() {
    let table = Arc::new(Table::new(3));
    let a = table.admit().unwrap();
    let b = Arc::new(table.admit().unwrap());
    let c = table.admit().unwrap();
    let busy = Busy::new(b.clone());
    // b is busy; a has been idle longest.
    let d = table.admit().unwrap();
    let open: Vec<u64> = table.lock().open.keys().copied().collect();
    assert_eq!(open, vec![b.id, c.id, d.id]);
    drop(a);
    // b becomes idle last: c goes next.
    std::thread::sleep(Duration::from_millis(2));
    drop(busy);
    let _e = table.admit().unwrap();
    let open: Vec<u64> = table.lock().open.keys().copied().collect();
    assert_eq!(open, vec![b.id, d.id, 4]);
    drop(c);
}

#[test]
fn when_every_connection_is_busy_a_new_one_is_refused() {
    let table = Arc::new(Table::new(2));
    let a = Arc::new(table.admit().unwrap());
    let b = Arc::new(table.admit().unwrap());
    let _busy = (Busy::new(a.clone()), Busy::new(b.clone()));
    assert!(table.admit().is_none());
    assert_eq!(table.lock().open.len(), 2);
}

#[test]
fn the_descriptor_limit_is_raised_to_the_hard_limit() {
    let now = raise_descriptor_limit().unwrap();
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: reads into the struct given.
    assert_eq!(
        unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) },
        0
    );
    assert_eq!(limit.rlim_cur, limit.rlim_max);
    assert_eq!(now, limit.rlim_cur);
}
