//! The start classifier: process-wide state plus the environment marker.
//!
//! The only process-wide state lambda-perf keeps. One atomic counter decides which invocation
//! is the first of the process, so exactly one is, even when several start at once; the marker
//! is consulted once, on that first invocation, never at init.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::clock::{ProcessStart, process_start};
use crate::marker::{self, Marker};
use crate::warn::WarnOnce;
use crate::{InitializationType, StartKind};

/// What the tracker knows when an invocation begins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Start {
    pub(crate) kind: StartKind,
    /// 1 for the first invocation of the process.
    pub(crate) index: u64,
    /// Since the previous invocation of the process ended; `None` before any has ended.
    pub(crate) idle_gap: Option<Duration>,
    /// Since the execution environment started (the marker's time).
    pub(crate) environment_age: Duration,
    /// From process start to the first handler call.
    pub(crate) init_duration: Duration,
    /// When this invocation began.
    pub(crate) began: Instant,
}

/// What the first invocation learned about the environment.
#[derive(Debug)]
struct Environment {
    /// `None` when the marker could not be used.
    marker: Option<Marker>,
    /// Environment age when this process started.
    age_at_process_start: Duration,
    init_duration: Duration,
}

/// Classifies invocations of one process.
#[derive(Debug)]
pub(crate) struct StartTracker {
    /// `None`: [`std::env::temp_dir`], resolved on the first invocation.
    marker_dir: Option<PathBuf>,
    process_start: ProcessStart,
    invocations: AtomicU64,
    /// Nanoseconds from process start to the latest end, plus one; 0 before any end.
    last_end: AtomicU64,
    environment: OnceLock<Environment>,
}

static MARKER_UNUSABLE: WarnOnce = WarnOnce::new();

impl StartTracker {
    pub(crate) fn new(marker_dir: Option<PathBuf>) -> Self {
        Self::with_process_start(marker_dir, process_start())
    }

    fn with_process_start(marker_dir: Option<PathBuf>, process_start: ProcessStart) -> Self {
        Self {
            marker_dir,
            process_start,
            invocations: AtomicU64::new(0),
            last_end: AtomicU64::new(0),
            environment: OnceLock::new(),
        }
    }

    /// The tracker shared by every layer of the process that does not set its own marker dir.
    pub(crate) fn global() -> Arc<Self> {
        static GLOBAL: OnceLock<Arc<StartTracker>> = OnceLock::new();
        Arc::clone(GLOBAL.get_or_init(|| Arc::new(Self::new(None))))
    }

    /// Classifies the invocation that begins now.
    pub(crate) fn begin(&self, initialization_type: InitializationType) -> Start {
        let index = self.invocations.fetch_add(1, Ordering::AcqRel) + 1;
        let environment = self.environment.get_or_init(|| self.discover());
        let kind = if index == 1 {
            first_kind(environment.marker, initialization_type)
        } else {
            StartKind::Warm
        };
        let began = Instant::now();
        let since_process_start = began.saturating_duration_since(self.process_start.instant);
        let idle_gap = match self.last_end.load(Ordering::Acquire) {
            0 => None,
            end => Some(since_process_start.saturating_sub(Duration::from_nanos(end - 1))),
        };
        Start {
            kind,
            index,
            idle_gap,
            environment_age: environment.age_at_process_start + since_process_start,
            init_duration: environment.init_duration,
            began,
        }
    }

    /// Records that an invocation ended now.
    pub(crate) fn end(&self) {
        let since_start = self.process_start.instant.elapsed();
        let nanos = u64::try_from(since_start.as_nanos()).unwrap_or(u64::MAX - 1);
        self.last_end.fetch_max(nanos + 1, Ordering::AcqRel);
    }

    fn discover(&self) -> Environment {
        let init_duration = self.process_start.instant.elapsed();
        let dir = self.marker_dir.clone().unwrap_or_else(std::env::temp_dir);
        let identity = crate::config::environment_identity();
        let marker = match marker::claim(&dir, self.process_start.wall, identity.as_deref()) {
            Ok(marker) => Some(marker),
            Err(error) => {
                MARKER_UNUSABLE.warn(format_args!(
                    "cannot use the start marker in {} ({error}); start classification uses \
                     this process alone, so a restarted runtime is reported as cold",
                    dir.display()
                ));
                None
            }
        };
        let age_at_process_start = match marker {
            Some(Marker::Existing { environment_start }) => self
                .process_start
                .wall
                .duration_since(environment_start)
                .unwrap_or_default(),
            Some(Marker::Created) | None => Duration::ZERO,
        };
        Environment {
            marker,
            age_at_process_start,
            init_duration,
        }
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
    use super::*;
    use std::time::SystemTime;

    fn tracker(dir: &std::path::Path) -> StartTracker {
        StartTracker::new(Some(dir.to_owned()))
    }

    fn kinds(tracker: &StartTracker, init: InitializationType, n: usize) -> Vec<StartKind> {
        (0..n)
            .map(|_| {
                let start = tracker.begin(init);
                tracker.end();
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
                    tracker.begin(InitializationType::OnDemand)
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
        let process_start = ProcessStart {
            instant: Instant::now() - Duration::from_millis(50),
            wall: SystemTime::now() - Duration::from_millis(50),
        };
        let tracker = StartTracker::with_process_start(Some(dir.path().to_owned()), process_start);
        let first = tracker.begin(InitializationType::OnDemand);
        assert_eq!(first.index, 1);
        assert_eq!(first.idle_gap, None);
        assert!(first.init_duration >= Duration::from_millis(50));
        assert!(first.environment_age >= first.init_duration);
        tracker.end();
        std::thread::sleep(Duration::from_millis(20));
        let second = tracker.begin(InitializationType::OnDemand);
        assert_eq!(second.index, 2);
        let gap = second.idle_gap.unwrap();
        assert!(gap >= Duration::from_millis(20), "{gap:?}");
        assert!(gap < Duration::from_secs(5), "{gap:?}");
        assert_eq!(second.init_duration, first.init_duration);
        assert!(second.environment_age >= first.environment_age + gap);

        // A restarted process sees the age of the environment, not of itself.
        let restarted = StartTracker::new(Some(dir.path().to_owned()));
        let restart = restarted.begin(InitializationType::OnDemand);
        assert_eq!(restart.kind, StartKind::Restart);
        assert!(restart.environment_age >= Duration::from_millis(70));
    }
}
