//! The start classifier: process-wide state plus the environment marker.
//!
//! One atomic counter decides which invocation is the first of the process, so exactly one
//! is, even when several start at once. The marker is claimed once: when a layer is built over
//! the tracker ([`StartTracker::claim_marker_at_init`]: `PerfLayer::build`, at init), so that
//! a process that dies later in init (an init error, an init timeout) leaves it for the retry,
//! whose first invocation is then a restart. An `#[instrument_lambda]` handler builds its
//! configuration at its first call, so its marker is claimed then; a `snap-start` process,
//! whose temp dir goes into the snapshot, claims it on the first invocation after the restore.
//! The wall clock at each beginning comes from the process's [`WallClock`], reread at every
//! start that is not warm.

use std::path::PathBuf;
use std::time::SystemTime;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use super::clock::{Moment, process_start, wall_epoch_nanos};
use super::marker::{self, Marker};
use super::readiness;
use super::wall_clock::{self, WallClock};
use super::{InitializationType, StartKind};
use crate::formats::time::{MonotonicNanos, nanos};
use crate::warn::WarnOnce;

/// What the tracker knows when an invocation begins. Its durations are in nanoseconds, as the
/// monotonic clock's readings subtract to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Start {
    pub(crate) kind: StartKind,
    /// 1 for the first invocation of the process.
    pub(crate) index: u64,
    /// Since the previous invocation of the process ended; `None` before any has ended.
    pub(crate) idle_gap_nanos: Option<u64>,
    /// Since the execution environment started (the marker's time), or since the restore.
    pub(crate) environment_age_nanos: u64,
    /// From process start (or the restore) to the runtime's first request for work.
    pub(crate) init_duration_nanos: u64,
    /// From the runtime's first request for work to the first invocation: how long a
    /// pre-warmed environment waited. `None` where the request was not seen.
    pub(crate) first_request_wait_nanos: Option<u64>,
    /// When this invocation began.
    pub(crate) began: MonotonicNanos,
    /// When this invocation began, since the environment's origin (the process start or the
    /// restore): what the tracker counts idle gaps and ends from.
    pub(crate) began_since_origin_nanos: u64,
    /// When this invocation began, by the wall clock, in nanoseconds since the Unix epoch:
    /// read with `began`, the invocation's other wall-clock times are derived from it and the
    /// monotonic clock, in integers.
    pub(crate) began_epoch_nanos: u64,
}

/// The moments of this process's life the first invocation reads.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lifecycle {
    pub(crate) process_start: Moment,
    /// The runtime's first request for work, as marked.
    pub(crate) ready: Option<Moment>,
    /// The restore from a snapshot, for `snap-start` processes.
    pub(crate) restored: Option<Moment>,
}

impl Lifecycle {
    /// The moments marked in this process; a `snap-start` process counts as restored from
    /// now on if nothing marked its restore earlier.
    fn of_process(initialization_type: InitializationType) -> Self {
        let restored = match initialization_type {
            InitializationType::SnapStart => Some(readiness::mark_restored()),
            _ => readiness::restored(),
        };
        Self {
            process_start: process_start(),
            ready: readiness::ready(),
            restored,
        }
    }
}

/// What the first invocation learned about the environment.
#[derive(Debug)]
struct Environment {
    /// `None` when the marker could not be used.
    marker: Option<Marker>,
    /// Where ages are counted from: the process start, or the restore.
    origin: Moment,
    /// Environment age at `origin`, in nanoseconds.
    age_at_origin_nanos: u64,
    init_duration_nanos: u64,
    first_request_wait_nanos: Option<u64>,
}

/// Where the environment marker is kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum MarkerPlace {
    /// [`std::env::temp_dir`] (Lambda's `/tmp`), resolved when the marker is claimed; an
    /// empty `TMPDIR` counts as unset (see [`marker_temp_dir`]).
    #[default]
    TempDir,
    /// This directory.
    Dir(PathBuf),
    /// Nowhere: the process alone says how it started (tests of a handler).
    Nowhere,
}

/// Classifies invocations of one process.
#[derive(Debug)]
pub(crate) struct StartTracker {
    marker: MarkerPlace,
    /// What names this execution environment (Lambda's log stream), for the marker.
    identity: Option<String>,
    counters: Counters,
    /// The marker, once claimed (`None` inside: it could not be used).
    marker_claimed: OnceLock<Option<Marker>>,
    environment: OnceLock<Environment>,
    /// Where the wall clock at each beginning comes from: the process's.
    wall_clock: &'static WallClock,
}

/// What every invocation writes, on cache lines of their own, so that invocations running at
/// once on other cores do not take the fields every invocation reads beside them out of this
/// core's cache.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Counters {
    invocations: AtomicU64,
    /// Nanoseconds from the environment's origin to the latest end, plus one; 0 before any
    /// end (which follows the first invocation's discovery of the origin).
    last_end: AtomicU64,
}

static MARKER_UNUSABLE: WarnOnce = WarnOnce::new();

impl StartTracker {
    pub(crate) fn new(marker: MarkerPlace, identity: Option<String>) -> Self {
        Self {
            marker,
            identity,
            counters: Counters::default(),
            marker_claimed: OnceLock::new(),
            environment: OnceLock::new(),
            wall_clock: wall_clock::process(),
        }
    }

    /// The tracker shared by every layer of the process that does not set its own marker dir
    /// (the identity of the first caller is kept).
    pub(crate) fn global(identity: Option<String>) -> Arc<Self> {
        static GLOBAL: OnceLock<Arc<StartTracker>> = OnceLock::new();
        Arc::clone(GLOBAL.get_or_init(|| Arc::new(Self::new(MarkerPlace::TempDir, identity))))
    }

    /// Claims the environment marker now, at init, with the process's start as the
    /// environment's (unless `initialization_type` is `snap-start`: its marker is claimed on
    /// the first invocation after the restore). Claimed at init, a marker is left by a process
    /// that dies before its first invocation: Lambda's retry of the init, in the same
    /// environment, is then a restart, as after a crash.
    pub(crate) fn claim_marker_at_init(&self, initialization_type: InitializationType) {
        if initialization_type != InitializationType::SnapStart {
            self.claimed_marker(process_start().wall);
        }
    }

    /// The marker, claimed with `origin` as the environment's start unless it was already.
    fn claimed_marker(&self, origin: SystemTime) -> Option<Marker> {
        *self.marker_claimed.get_or_init(|| {
            let dir = match &self.marker {
                MarkerPlace::TempDir => marker_temp_dir(std::env::temp_dir()),
                MarkerPlace::Dir(dir) => dir.clone(),
                MarkerPlace::Nowhere => return None,
            };
            marker::claim(&dir, origin, self.identity.as_deref())
                .map_err(|error| {
                    MARKER_UNUSABLE.warn(format_args!(
                        "cannot use the start marker in {} ({error}); start classification \
                         uses this process alone, so a restarted runtime is reported as cold",
                        dir.display()
                    ));
                })
                .ok()
        })
    }

    /// Classifies the invocation that begins now. Inlined where the start is stored, so that
    /// its fields are written there at once.
    #[inline]
    pub(crate) fn begin(&self, initialization_type: InitializationType) -> Start {
        self.begin_with(initialization_type, || {
            Lifecycle::of_process(initialization_type)
        })
    }

    /// [`begin`](Self::begin), reading the process's moments from `lifecycle` on the first
    /// invocation.
    #[inline(always)]
    pub(crate) fn begin_with(
        &self,
        initialization_type: InitializationType,
        lifecycle: impl FnOnce() -> Lifecycle,
    ) -> Start {
        let index = self.counters.invocations.fetch_add(1, Ordering::AcqRel) + 1;
        let environment = self
            .environment
            .get_or_init(|| self.discover(lifecycle(), MonotonicNanos::now()));
        let kind = if index == 1 {
            first_kind(environment.marker, initialization_type)
        } else {
            StartKind::Warm
        };
        let began = MonotonicNanos::now();
        let began_epoch_nanos =
            self.wall_clock
                .epoch_nanos_at(began, kind != StartKind::Warm, wall_epoch_nanos);
        let since_origin = began.nanos_since(environment.origin.monotonic);
        let idle_gap_nanos = match self.counters.last_end.load(Ordering::Acquire) {
            0 => None,
            end => Some(since_origin.saturating_sub(end - 1)),
        };
        Start {
            kind,
            index,
            idle_gap_nanos,
            environment_age_nanos: environment.age_at_origin_nanos.saturating_add(since_origin),
            init_duration_nanos: environment.init_duration_nanos,
            first_request_wait_nanos: environment.first_request_wait_nanos,
            began,
            began_since_origin_nanos: since_origin,
            began_epoch_nanos,
        }
    }

    /// Records that the invocation that began with `start` ended `duration_nanos` later.
    pub(crate) fn end(&self, start: &Start, duration_nanos: u64) {
        let since_origin = start
            .began_since_origin_nanos
            .saturating_add(duration_nanos);
        self.counters
            .last_end
            .fetch_max(since_origin.min(u64::MAX - 1) + 1, Ordering::AcqRel);
    }

    /// How many invocations have begun so far: the index of the latest.
    pub(crate) fn begun(&self) -> u64 {
        self.counters.invocations.load(Ordering::Acquire)
    }

    fn discover(&self, lifecycle: Lifecycle, first_call: MonotonicNanos) -> Environment {
        // A restored process's life, for these facts, begins at the restore: what happened
        // before belongs to the snapshot.
        let origin = lifecycle.restored.unwrap_or(lifecycle.process_start);
        let ready = lifecycle
            .ready
            .filter(|ready| ready.monotonic >= origin.monotonic);
        let init_end = ready.map_or(first_call, |ready| ready.monotonic);
        let init_duration_nanos = init_end.nanos_since(origin.monotonic);
        let first_request_wait_nanos = ready.map(|ready| first_call.nanos_since(ready.monotonic));

        let marker = self.claimed_marker(origin.wall);
        let age_at_origin_nanos = match marker {
            Some(Marker::Existing { environment_start }) => origin
                .wall
                .duration_since(environment_start)
                .map_or(0, nanos),
            Some(Marker::Created) | None => 0,
        };
        Environment {
            marker,
            origin,
            age_at_origin_nanos,
            init_duration_nanos,
            first_request_wait_nanos,
        }
    }
}

/// Where [`MarkerPlace::TempDir`] keeps the marker, given what [`std::env::temp_dir`] says:
/// that, unless it is empty — an empty `TMPDIR`, which `std` returns as it is — which counts as
/// unset (as `mktemp` and Python's `tempfile` have it), `/tmp`. Not the working directory,
/// which an empty path joined with the marker's name would be: a function started in its
/// project's directory would leave the marker there.
fn marker_temp_dir(temp_dir: PathBuf) -> PathBuf {
    if temp_dir.as_os_str().is_empty() {
        PathBuf::from("/tmp")
    } else {
        temp_dir
    }
}

fn first_kind(marker: Option<Marker>, initialization_type: InitializationType) -> StartKind {
    if let Some(Marker::Existing { .. }) = marker {
        return StartKind::Restart;
    }
    match initialization_type {
        InitializationType::OnDemand => StartKind::Cold,
        InitializationType::ProvisionedConcurrency | InitializationType::ManagedInstances => {
            StartKind::Prewarmed
        }
        InitializationType::SnapStart => StartKind::Restored,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn tracker(dir: &std::path::Path) -> StartTracker {
        StartTracker::new(MarkerPlace::Dir(dir.to_owned()), None)
    }

    /// A process that started `started_ms` ago, marked ready `ready_ms` ago and restored
    /// `restored_ms` ago.
    fn lifecycle(started_ms: u64, ready_ms: Option<u64>, restored_ms: Option<u64>) -> Lifecycle {
        let now = Moment::now();
        let ago = |ms: u64| Moment {
            monotonic: now.monotonic.minus_nanos(ms * 1_000_000),
            wall: now.wall - Duration::from_millis(ms),
        };
        Lifecycle {
            process_start: ago(started_ms),
            ready: ready_ms.map(ago),
            restored: restored_ms.map(ago),
        }
    }

    /// `ms` milliseconds, in nanoseconds.
    fn millis(ms: u64) -> u64 {
        ms * 1_000_000
    }

    /// The duration of the invocation that began with `start`, ending now.
    fn ended(start: &Start) -> u64 {
        MonotonicNanos::now().nanos_since(start.began)
    }

    #[test]
    fn a_start_that_is_not_warm_reads_the_wall_clock_again() {
        // A difference between the clocks an hour off, kept for a while.
        const HOUR: u64 = 3_600_000_000_000;
        let clock: &'static WallClock = Box::leak(Box::new(WallClock::new()));
        clock.epoch_nanos_at(MonotonicNanos::now(), true, || wall_epoch_nanos() - HOUR);
        let dir = tempfile::tempdir().unwrap();
        let mut tracker = tracker(dir.path());
        tracker.wall_clock = clock;
        let before = wall_epoch_nanos();
        let start = tracker.begin_with(InitializationType::OnDemand, || lifecycle(10, None, None));
        let after = wall_epoch_nanos();
        assert_eq!(start.kind, StartKind::Cold);
        assert!(
            (before..=after).contains(&start.began_epoch_nanos),
            "{before} {} {after}",
            start.began_epoch_nanos
        );
    }

    fn kinds(tracker: &StartTracker, init: InitializationType, n: usize) -> Vec<StartKind> {
        (0..n)
            .map(|_| {
                let start = tracker.begin_with(init, || lifecycle(10, None, None));
                tracker.end(&start, ended(&start));
                start.kind
            })
            .collect()
    }

    #[test]
    fn cold_then_warm_then_restart_in_the_same_environment() {
        let dir = tempfile::tempdir().unwrap();
        let first = tracker(dir.path());
        assert_eq!(
            kinds(&first, InitializationType::OnDemand, 3),
            [StartKind::Cold, StartKind::Warm, StartKind::Warm]
        );
        // A new process (a new tracker) in the same environment (same temp dir).
        let restarted = tracker(dir.path());
        assert_eq!(
            kinds(&restarted, InitializationType::OnDemand, 2),
            [StartKind::Restart, StartKind::Warm]
        );
        // A fresh environment.
        let fresh_dir = tempfile::tempdir().unwrap();
        assert_eq!(
            kinds(&tracker(fresh_dir.path()), InitializationType::OnDemand, 1),
            [StartKind::Cold]
        );
    }

    #[test]
    fn an_init_retry_in_the_same_environment_is_a_restart() {
        // The first process of the environment built its layer (init) and died before its
        // first invocation (an init error or timeout); Lambda retries init in the same
        // environment. The design counts that as a restart, and the environment's age as
        // running from the first process's start.
        let dir = tempfile::tempdir().unwrap();
        let died_in_init = tracker(dir.path());
        died_in_init.claim_marker_at_init(InitializationType::OnDemand);
        drop(died_in_init);
        let retried = tracker(dir.path());
        assert_eq!(
            kinds(&retried, InitializationType::OnDemand, 1),
            [StartKind::Restart]
        );
    }

    /// A `snap-start` process's temp dir goes into the snapshot: a marker claimed at init
    /// would be found by every clone restored from it.
    #[test]
    fn a_snap_start_process_claims_no_marker_at_init() {
        let dir = tempfile::tempdir().unwrap();
        tracker(dir.path()).claim_marker_at_init(InitializationType::SnapStart);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let on_demand = tracker(dir.path());
        on_demand.claim_marker_at_init(InitializationType::OnDemand);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        assert_eq!(
            kinds(&on_demand, InitializationType::OnDemand, 2),
            [StartKind::Cold, StartKind::Warm]
        );
    }

    #[test]
    fn initialization_types_give_prewarmed_and_restored() {
        for (init, expected) in [
            (
                InitializationType::ProvisionedConcurrency,
                StartKind::Prewarmed,
            ),
            (InitializationType::ManagedInstances, StartKind::Prewarmed),
            (InitializationType::SnapStart, StartKind::Restored),
        ] {
            let dir = tempfile::tempdir().unwrap();
            assert_eq!(
                kinds(&tracker(dir.path()), init, 2),
                [expected, StartKind::Warm]
            );
        }
    }

    #[test]
    fn a_restart_is_a_restart_whatever_the_initialization_type() {
        let dir = tempfile::tempdir().unwrap();
        kinds(
            &tracker(dir.path()),
            InitializationType::ProvisionedConcurrency,
            1,
        );
        assert_eq!(
            kinds(
                &tracker(dir.path()),
                InitializationType::ProvisionedConcurrency,
                1
            ),
            [StartKind::Restart]
        );
    }

    #[test]
    fn exactly_one_first_invocation_when_many_start_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let tracker = Arc::new(tracker(dir.path()));
        let barrier = Arc::new(std::sync::Barrier::new(16));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (tracker, barrier) = (Arc::clone(&tracker), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    tracker.begin_with(InitializationType::OnDemand, || lifecycle(10, None, None))
                })
            })
            .collect();
        let mut starts: Vec<Start> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        starts.sort_by_key(|start| start.index);
        let firsts: Vec<_> = starts
            .iter()
            .filter(|start| start.kind != StartKind::Warm)
            .collect();
        assert_eq!(firsts.len(), 1, "{starts:#?}");
        assert_eq!(firsts[0].kind, StartKind::Cold);
        assert_eq!(firsts[0].index, 1);
        let indices: Vec<u64> = starts.iter().map(|start| start.index).collect();
        assert_eq!(indices, (1..=16).collect::<Vec<_>>());
    }

    #[test]
    fn an_unwritable_temp_dir_falls_back_to_process_state() {
        // /proc refuses new files even for root.
        let tracker = tracker(std::path::Path::new("/proc"));
        assert_eq!(
            kinds(&tracker, InitializationType::OnDemand, 2),
            [StartKind::Cold, StartKind::Warm]
        );
        assert_eq!(tracker.environment.get().unwrap().marker, None);
    }

    #[cfg(unix)]
    #[test]
    fn a_read_only_temp_dir_falls_back_to_process_state() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o500)).unwrap();
        let writable = std::fs::File::create(dir.path().join("probe")).is_ok();
        let tracker = tracker(dir.path());
        assert_eq!(
            kinds(&tracker, InitializationType::OnDemand, 1),
            [StartKind::Cold]
        );
        // Root ignores permission bits; elsewhere the marker must have been refused.
        let expected_marker = writable.then_some(Marker::Created);
        assert_eq!(tracker.environment.get().unwrap().marker, expected_marker);
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    }

    #[test]
    fn an_empty_tmpdir_keeps_the_marker_in_tmp_not_in_the_working_directory() {
        // `TMPDIR=` (set, empty): `std::env::temp_dir` gives an empty path, relative to the
        // working directory.
        assert_eq!(marker_temp_dir(PathBuf::new()), PathBuf::from("/tmp"));
        let given = PathBuf::from("/var/run/fn-tmp");
        assert_eq!(marker_temp_dir(given.clone()), given);
    }

    #[test]
    fn a_symlinked_marker_falls_back_without_touching_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, "keep").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&target, dir.path().join(marker::MARKER_FILE)).unwrap();
        let tracker = tracker(dir.path());
        assert_eq!(
            kinds(&tracker, InitializationType::OnDemand, 1),
            [StartKind::Cold]
        );
        assert_eq!(tracker.environment.get().unwrap().marker, None);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    }

    #[test]
    fn facts_per_invocation() {
        let dir = tempfile::tempdir().unwrap();
        let tracker = tracker(dir.path());
        let on_demand = || lifecycle(50, None, None);
        let first = tracker.begin_with(InitializationType::OnDemand, on_demand);
        assert_eq!(first.index, 1);
        assert_eq!(first.idle_gap_nanos, None);
        assert!(first.init_duration_nanos >= millis(50));
        assert_eq!(first.first_request_wait_nanos, None);
        assert!(first.environment_age_nanos >= first.init_duration_nanos);
        // The first invocation lasts 30 ms: the gap runs from its end, not its beginning.
        std::thread::sleep(Duration::from_millis(30));
        let first_duration = ended(&first);
        tracker.end(&first, first_duration);
        std::thread::sleep(Duration::from_millis(20));
        let second = tracker.begin_with(InitializationType::OnDemand, on_demand);
        assert_eq!(second.index, 2);
        let gap = second.idle_gap_nanos.unwrap();
        assert!(gap >= millis(20), "{gap}");
        assert_eq!(
            gap,
            second.began.nanos_since(first.began) - first_duration,
            "from the first's end to the second's beginning"
        );
        assert_eq!(second.init_duration_nanos, first.init_duration_nanos);
        assert!(second.environment_age_nanos >= first.environment_age_nanos + gap);

        // A restarted process sees the age of the environment, not of itself.
        let restarted = StartTracker::new(MarkerPlace::Dir(dir.path().to_owned()), None);
        let restart =
            restarted.begin_with(InitializationType::OnDemand, || lifecycle(1, None, None));
        assert_eq!(restart.kind, StartKind::Restart);
        assert!(restart.environment_age_nanos >= millis(70));
    }

    #[test]
    fn a_prewarmed_environment_reports_its_init_and_its_wait_apart() {
        let dir = tempfile::tempdir().unwrap();
        let tracker = tracker(dir.path());
        // 4 ms of init, then 400 ms waiting for the first request.
        let start = tracker.begin_with(InitializationType::ProvisionedConcurrency, || {
            lifecycle(404, Some(400), None)
        });
        assert_eq!(start.kind, StartKind::Prewarmed);
        assert!(
            start.init_duration_nanos >= millis(4) && start.init_duration_nanos < millis(10),
            "{}",
            start.init_duration_nanos
        );
        let wait = start.first_request_wait_nanos.unwrap();
        assert!(wait >= millis(400), "{wait}");
        assert!(wait < millis(450), "{wait}");
    }

    #[test]
    fn a_restored_environment_counts_from_the_restore() {
        let dir = tempfile::tempdir().unwrap();
        let tracker = tracker(dir.path());
        // Started and snapshotted an hour ago (ready then), restored 3 ms ago.
        let hour = 3_600_000;
        let start = tracker.begin_with(InitializationType::SnapStart, || {
            lifecycle(hour, Some(hour - 5), Some(3))
        });
        assert_eq!(start.kind, StartKind::Restored);
        assert!(start.init_duration_nanos >= millis(3), "{start:?}");
        assert!(start.init_duration_nanos < millis(1_000), "{start:?}");
        assert!(start.environment_age_nanos < millis(1_000), "{start:?}");
        assert_eq!(
            start.first_request_wait_nanos, None,
            "the ready mark predates the restore"
        );
        // The marker holds the restore's time, so a later restart ages from it too.
        let restarted = StartTracker::new(MarkerPlace::Dir(dir.path().to_owned()), None);
        let restart =
            restarted.begin_with(InitializationType::SnapStart, || lifecycle(1, None, None));
        assert_eq!(restart.kind, StartKind::Restart);
        assert!(restart.environment_age_nanos < millis(1_000), "{restart:?}");
    }
}
