//! SnapStart and `TimedCache`: the monotonic clock a time-to-live runs on barely moves while a
//! snapshot is kept, for minutes or for days, so a value fetched before the snapshot is of
//! unknown age in a restored environment. Its own process under nextest: the restore is per
//! process.

use std::time::Duration;

use lambda_perf_core::SnapStartHook;
use lambda_perf_core::lazy::TimedCache;
use lambda_runtime::SnapStartResource;

#[tokio::test]
async fn a_value_with_a_ttl_fetched_before_the_snapshot_is_fetched_again_after_the_restore() {
    static TOKEN: TimedCache<u32> = TimedCache::with_ttl("token", Duration::from_secs(3600));
    static CONFIG: TimedCache<u32> = TimedCache::new("config");
    // At init, before Lambda takes the snapshot.
    TOKEN
        .get_or_fetch(|| async { Ok::<_, String>(1) })
        .await
        .unwrap();
    CONFIG
        .get_or_fetch(|| async { Ok::<_, String>(1) })
        .await
        .unwrap();

    SnapStartHook.after_restore().await.unwrap();

    assert_eq!(
        TOKEN.get_if_fresh(),
        None,
        "fetched before the snapshot, an unknown time ago: its hour may be long over"
    );
    let token = TOKEN.get_or_fetch(|| async { Ok::<_, String>(2) }).await;
    assert_eq!(
        *token.unwrap(),
        2,
        "the first use after the restore fetches again"
    );
    assert_eq!(
        TOKEN.get_if_fresh().as_deref(),
        Some(&2),
        "fetched after the restore: kept for its hour"
    );
    assert_eq!(
        CONFIG.get_if_fresh().as_deref(),
        Some(&1),
        "a value without a time-to-live is kept until invalidated, across the snapshot too"
    );
}
