//! Shared mode: limiters in a segment every process maps (issue 15).

use floodgate::{KeyedLimiter, Quota, SharedMemory};

#[test]
fn two_builds_share_one_keyed_table() {
    let shared = SharedMemory::named(&format!("test-two-builds-{}", std::process::id())).unwrap();
    let build = || {
        KeyedLimiter::<str>::builder(Quota::per_second(30).unwrap().with_burst(60).unwrap())
            .capacity(10_000)
            .shared(shared.clone())
            .build()
    };
    let one = build().unwrap();
    let two = build();
    let two = two.unwrap();
    assert!(one.check("alice", 60).unwrap().is_admitted());
    assert!(!two.check("alice", 1).unwrap().is_admitted());
    shared.remove().unwrap();
}
