//! [`Cgroups`]: the cgroups of this machine as lambda-perf uses them, and [`FunctionCgroup`],
//! the cgroup one function process runs in, with its memory cap and CPU quota.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::SizingError;
use super::hierarchy::{CgroupVersion, Hierarchy, hierarchies};
use super::limits::{Limits, MemorySize};

/// The prefix of the cgroups lambda-perf creates: `lambda-perf.<harness pid>.<n>`.
const PREFIX: &str = "lambda-perf.";

/// How many times [`FunctionCgroup::kill_all`] reads a v1 cgroup's processes and kills them.
const KILL_ROUNDS: usize = 50;

/// One way of finding cgroups to use (v1 or v2), noting why it failed.
type Attempt = fn(&[Hierarchy], &mut Vec<String>) -> Option<Cgroups>;

/// Where a function's cgroup goes: one parent (v2) or one per controller (v1).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Parents {
    V2(PathBuf),
    V1 { cpu: PathBuf, memory: PathBuf },
}

/// The machine's cgroups, found and tried once by [`detect`](Self::detect): a cgroup v2
/// hierarchy with the `cpu` and `memory` controllers, or the cgroup v1 `cpu` and `memory`
/// hierarchies, in which lambda-perf could create a child cgroup and set its limits.
///
/// Children go under the cgroup lambda-perf itself runs in when that works, else under the
/// hierarchy's root. Each is named `lambda-perf.<pid>.<n>` and removed when its
/// [`FunctionCgroup`] is dropped; leftovers of a lambda-perf that no longer runs are removed
/// by the next `detect`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroups {
    version: CgroupVersion,
    parents: Parents,
}

impl Cgroups {
    /// Finds the cgroups of this machine (`/proc/self/mountinfo`, `/proc/self/cgroup`),
    /// prefers v2 when its hierarchy has the `cpu` and `memory` controllers, else v1, and
    /// proves it by creating and removing a child cgroup with limits.
    ///
    /// Fails with [`SizingError::Unavailable`], saying what was tried, when no cgroup can be
    /// created and limited (not root, no controllers, a read-only `/sys/fs/cgroup`).
    pub fn detect() -> Result<Self, SizingError> {
        let read = |path: &str| {
            fs::read_to_string(path).map_err(|error| SizingError::Unavailable {
                reasons: vec![format!("cannot read {path}: {error}")],
            })
        };
        let mountinfo = read("/proc/self/mountinfo")?;
        let own = read("/proc/self/cgroup")?;
        Self::detect_in(&hierarchies(&mountinfo, &own))
    }

    /// [`detect`](Self::detect) among these hierarchies.
    pub(crate) fn detect_in(found: &[Hierarchy]) -> Result<Self, SizingError> {
        let mut reasons = Vec::new();
        let unified = found.iter().find(|h| h.version == CgroupVersion::V2);
        let unified_has_controllers = unified
            .is_some_and(|h| controllers(&h.mount_point).is_some_and(|c| has_cpu_and_memory(&c)));
        let mut attempts: Vec<Attempt> = vec![Self::try_v1, Self::try_v2];
        if unified_has_controllers {
            attempts.reverse();
        }
        for attempt in attempts {
            if let Some(cgroups) = attempt(found, &mut reasons) {
                cgroups.remove_leftovers();
                return Ok(cgroups);
            }
        }
        // Attempts that failed for the same reason (one parent tried with several others)
        // say it once.
        let mut said = HashSet::new();
        reasons.retain(|reason| said.insert(reason.clone()));
        Err(SizingError::Unavailable { reasons })
    }

    fn try_v2(found: &[Hierarchy], reasons: &mut Vec<String>) -> Option<Self> {
        let Some(unified) = found.iter().find(|h| h.version == CgroupVersion::V2) else {
            reasons.push("no cgroup v2 hierarchy is mounted".to_owned());
            return None;
        };
        for parent in candidates(&unified.own, &unified.mount_point) {
            match enable_v2_controllers(&parent) {
                Ok(()) => {}
                Err(reason) => {
                    reasons.push(reason);
                    continue;
                }
            }
            let cgroups = Self {
                version: CgroupVersion::V2,
                parents: Parents::V2(parent),
            };
            match cgroups.probe() {
                Ok(()) => return Some(cgroups),
                Err(reason) => reasons.push(reason),
            }
        }
        None
    }

    fn try_v1(found: &[Hierarchy], reasons: &mut Vec<String>) -> Option<Self> {
        let v1 = |controller: &str| {
            found
                .iter()
                .find(|h| h.version == CgroupVersion::V1 && h.has(controller))
        };
        let (Some(cpu), Some(memory)) = (v1("cpu"), v1("memory")) else {
            reasons.push("no cgroup v1 cpu and memory hierarchies are mounted".to_owned());
            return None;
        };
        for cpu_parent in candidates(&cpu.own, &cpu.mount_point) {
            for memory_parent in candidates(&memory.own, &memory.mount_point) {
                let cgroups = Self {
                    version: CgroupVersion::V1,
                    parents: Parents::V1 {
                        cpu: cpu_parent.clone(),
                        memory: memory_parent,
                    },
                };
                match cgroups.probe() {
                    Ok(()) => return Some(cgroups),
                    Err(reason) => reasons.push(reason),
                }
            }
        }
        None
    }

    /// Creates and removes a child with the limits of the smallest size.
    fn probe(&self) -> Result<(), String> {
        let limits = Limits::of(MemorySize::new(MemorySize::MIN_MB).map_err(|e| e.to_string())?);
        self.create(&limits).map(drop).map_err(|error| match error {
            SizingError::Unavailable { reasons } => reasons.join("; "),
            other => other.to_string(),
        })
    }

    /// The cgroup version in use.
    pub fn version(&self) -> CgroupVersion {
        self.version
    }

    fn parent_dirs(&self) -> Vec<&Path> {
        match &self.parents {
            Parents::V2(parent) => vec![parent],
            Parents::V1 { cpu, memory } if cpu == memory => vec![cpu],
            Parents::V1 { cpu, memory } => vec![cpu, memory],
        }
    }

    /// Creates a cgroup with `limits` for one function process.
    pub fn create(&self, limits: &Limits) -> Result<FunctionCgroup, SizingError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "{PREFIX}{}.{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut cgroup = FunctionCgroup {
            version: self.version,
            limits: *limits,
            dirs: Vec::new(),
            cpu_dir: PathBuf::new(),
            memory_dir: PathBuf::new(),
        };
        let unavailable = |reason: String| SizingError::Unavailable {
            reasons: vec![reason],
        };
        for parent in self.parent_dirs() {
            let dir = parent.join(&name);
            fs::create_dir(&dir).map_err(|error| {
                unavailable(format!(
                    "cannot create a cgroup in {}: {error}",
                    parent.display()
                ))
            })?;
            cgroup.dirs.push(dir);
        }
        (cgroup.cpu_dir, cgroup.memory_dir) = match &self.parents {
            Parents::V2(parent) => (parent.join(&name), parent.join(&name)),
            Parents::V1 { cpu, memory } => (cpu.join(&name), memory.join(&name)),
        };
        // On failure `cgroup` is dropped here, which removes what was created.
        cgroup.apply_limits().map_err(unavailable)?;
        Ok(cgroup)
    }

    /// Removes empty cgroups left by a lambda-perf process that is gone.
    fn remove_leftovers(&self) {
        for parent in self.parent_dirs() {
            let Ok(entries) = fs::read_dir(parent) else {
                continue;
            };
            for entry in entries.flatten() {
                let name = entry.file_name();
                let Some(pid) = name
                    .to_str()
                    .and_then(|n| n.strip_prefix(PREFIX))
                    .and_then(|rest| rest.split('.').next())
                    .and_then(|pid| pid.parse::<u32>().ok())
                else {
                    continue;
                };
                if !Path::new("/proc").join(pid.to_string()).exists() {
                    // Fails (and is left alone) when something still runs in it.
                    let _ = fs::remove_dir(entry.path());
                }
            }
        }
    }
}

/// The cgroup's own directory first, then the hierarchy's root.
fn candidates(own: &Path, root: &Path) -> Vec<PathBuf> {
    let mut list = vec![own.to_path_buf()];
    if own.components().ne(root.components()) {
        list.push(root.to_path_buf());
    }
    list
}

/// The controllers a v2 cgroup offers its children (`cgroup.controllers`).
fn controllers(dir: &Path) -> Option<Vec<String>> {
    fs::read_to_string(dir.join("cgroup.controllers"))
        .ok()
        .map(|text| text.split_whitespace().map(str::to_owned).collect())
}

fn has_cpu_and_memory(controllers: &[String]) -> bool {
    ["cpu", "memory"]
        .iter()
        .all(|wanted| controllers.iter().any(|c| c == wanted))
}

/// Makes `cpu` and `memory` available to the children of a v2 cgroup.
fn enable_v2_controllers(parent: &Path) -> Result<(), String> {
    let offered = controllers(parent).unwrap_or_default();
    if !has_cpu_and_memory(&offered) {
        return Err(format!(
            "{} does not offer the cpu and memory controllers (it has: {})",
            parent.display(),
            if offered.is_empty() {
                "none".to_owned()
            } else {
                offered.join(" ")
            }
        ));
    }
    let subtree = parent.join("cgroup.subtree_control");
    let enabled: Vec<String> = fs::read_to_string(&subtree)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if has_cpu_and_memory(&enabled) {
        return Ok(());
    }
    fs::write(&subtree, "+cpu +memory").map_err(|error| {
        format!(
            "cannot enable cpu and memory in {}: {error}",
            subtree.display()
        )
    })
}

/// The cgroup of one function process: its memory cap and CPU quota, the files its process
/// joins, and what the kernel counted (peak memory, out-of-memory kills). Removed when
/// dropped (once its processes are gone).
#[derive(Debug)]
pub struct FunctionCgroup {
    version: CgroupVersion,
    limits: Limits,
    /// The directories created (one, or one per v1 hierarchy).
    dirs: Vec<PathBuf>,
    cpu_dir: PathBuf,
    memory_dir: PathBuf,
}

impl FunctionCgroup {
    /// A cgroup of one directory, `dir`, as if created there (for tests elsewhere in the
    /// crate: `dir` may be any directory, its files stand-ins).
    #[cfg(test)]
    pub(crate) fn at(dir: PathBuf) -> Self {
        Self {
            version: CgroupVersion::V2,
            limits: Limits::of(MemorySize::new(MemorySize::MIN_MB).expect("a Lambda size")),
            dirs: vec![dir.clone()],
            cpu_dir: dir.clone(),
            memory_dir: dir,
        }
    }

    /// The cgroup version.
    pub fn version(&self) -> CgroupVersion {
        self.version
    }

    /// The limits it imposes.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The directories it consists of.
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// The `cgroup.procs` files a process writes its pid to in order to join.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.join("cgroup.procs")).collect()
    }

    /// The most memory its processes used at once, as the kernel counts it for the limit
    /// (v2 `memory.peak`, v1 `memory.max_usage_in_bytes`).
    pub fn peak_memory_bytes(&self) -> Option<u64> {
        let file = match self.version {
            CgroupVersion::V2 => "memory.peak",
            CgroupVersion::V1 => "memory.max_usage_in_bytes",
        };
        read_number(&self.memory_dir.join(file))
    }

    /// How many processes the kernel's OOM killer killed in it (the `oom_kill` count of v2
    /// `memory.events`, v1 `memory.oom_control`).
    pub fn oom_kills(&self) -> Option<u64> {
        let file = match self.version {
            CgroupVersion::V2 => "memory.events",
            CgroupVersion::V1 => "memory.oom_control",
        };
        fs::read_to_string(self.memory_dir.join(file))
            .ok()?
            .lines()
            .find_map(|line| line.strip_prefix("oom_kill "))
            .and_then(|count| count.trim().parse().ok())
    }

    /// Kills every process still in it (what the function started that outlived it: a
    /// daemon, a process in a session of its own): at once with v2's `cgroup.kill` where the
    /// kernel has it (5.14 on), else each pid its `cgroup.procs` files list, read again until
    /// none is left (a process forking meanwhile is caught on the next read), for at most
    /// `KILL_ROUNDS` rounds.
    pub fn kill_all(&self) {
        // Its directory, not `memory_dir`: a cgroup whose creation failed has none (and an
        // empty `memory_dir`, which would make `cgroup.kill` a file in the current directory).
        if self.version == CgroupVersion::V2
            && self
                .dirs
                .first()
                .is_some_and(|dir| fs::write(dir.join("cgroup.kill"), "1").is_ok())
        {
            return;
        }
        for _ in 0..KILL_ROUNDS {
            let pids: Vec<rustix::process::Pid> = self
                .procs_files()
                .iter()
                .filter_map(|procs| fs::read_to_string(procs).ok())
                .flat_map(|text| {
                    text.lines()
                        .filter_map(|line| line.trim().parse::<i32>().ok())
                        .collect::<Vec<_>>()
                })
                .filter_map(rustix::process::Pid::from_raw)
                .collect();
            if pids.is_empty() {
                return;
            }
            for pid in pids {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    fn apply_limits(&self) -> Result<(), String> {
        let limits = &self.limits;
        let bytes = limits.memory_bytes.to_string();
        match self.version {
            CgroupVersion::V2 => {
                let cpu_max = format!("{} {}", limits.cpu_quota_us, limits.cpu_period_us);
                set(&self.memory_dir.join("memory.max"), &bytes)?;
                set_if_present(&self.memory_dir.join("memory.swap.max"), "0")?;
                set(&self.cpu_dir.join("cpu.max"), &cpu_max)?;
            }
            CgroupVersion::V1 => {
                set(&self.memory_dir.join("memory.limit_in_bytes"), &bytes)?;
                set_if_present(&self.memory_dir.join("memory.memsw.limit_in_bytes"), &bytes)?;
                set(
                    &self.cpu_dir.join("cpu.cfs_period_us"),
                    &limits.cpu_period_us.to_string(),
                )?;
                set(
                    &self.cpu_dir.join("cpu.cfs_quota_us"),
                    &limits.cpu_quota_us.to_string(),
                )?;
            }
        }
        Ok(())
    }
}

/// Writes `value` to a cgroup file and reads it back: a limit the kernel did not take is an
/// error, never a silently unlimited run.
fn set(path: &Path, value: &str) -> Result<(), String> {
    fs::write(path, value).map_err(|error| format!("cannot write {}: {error}", path.display()))?;
    let read = fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    if read.trim() == value {
        Ok(())
    } else {
        Err(format!(
            "{} reads {:?} after writing {value:?}",
            path.display(),
            read.trim()
        ))
    }
}

fn set_if_present(path: &Path, value: &str) -> Result<(), String> {
    if path.exists() {
        set(path, value)
    } else {
        Ok(())
    }
}

fn read_number(path: &Path) -> Option<u64> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

impl Drop for FunctionCgroup {
    /// Kills what is left in the cgroup ([`kill_all`](Self::kill_all)), then removes it. A
    /// cgroup with a process still exiting is busy for a moment: retried for up to 200 ms.
    fn drop(&mut self) {
        self.kill_all();
        for dir in self.dirs.iter().rev() {
            for _ in 0..100 {
                match fs::remove_dir(dir) {
                    Err(error) if error.kind() == io::ErrorKind::ResourceBusy => {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    _ => break,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v2_tree() -> (tempfile::TempDir, Hierarchy) {
        let root = tempfile::tempdir().unwrap();
        fs::write(
            root.path().join("cgroup.controllers"),
            "cpuset cpu io memory pids",
        )
        .unwrap();
        fs::write(root.path().join("cgroup.subtree_control"), "").unwrap();
        let own = root.path().join("session");
        fs::create_dir(&own).unwrap();
        // The harness's own cgroup offers nothing: children must go under the root.
        fs::write(own.join("cgroup.controllers"), "").unwrap();
        let hierarchy = Hierarchy {
            version: CgroupVersion::V2,
            controllers: Vec::new(),
            mount_point: root.path().to_path_buf(),
            own,
        };
        (root, hierarchy)
    }

    #[test]
    fn v2_layout_limits_and_counters() {
        let (root, hierarchy) = v2_tree();
        let cgroups = Cgroups::detect_in(&[hierarchy]).unwrap();
        assert_eq!(cgroups.version(), CgroupVersion::V2);
        assert_eq!(
            fs::read_to_string(root.path().join("cgroup.subtree_control")).unwrap(),
            "+cpu +memory"
        );
        let limits = Limits::of(MemorySize::new(512).unwrap());
        let cgroup = cgroups.create(&limits).unwrap();
        let dir = &cgroup.dirs()[0];
        assert!(dir.starts_with(root.path()) && !dir.starts_with(root.path().join("session")));
        assert_eq!(
            fs::read_to_string(dir.join("cpu.max")).unwrap(),
            "5789 20000"
        );
        assert_eq!(
            fs::read_to_string(dir.join("memory.max")).unwrap(),
            (512u64 << 20).to_string()
        );
        assert_eq!(cgroup.procs_files(), [dir.join("cgroup.procs")]);
        fs::write(dir.join("memory.peak"), "73400320\n").unwrap();
        fs::write(
            dir.join("memory.events"),
            "low 0\nhigh 0\nmax 12\noom 1\noom_kill 1\noom_group_kill 0\n",
        )
        .unwrap();
        assert_eq!(cgroup.peak_memory_bytes(), Some(73_400_320));
        assert_eq!(cgroup.oom_kills(), Some(1));
    }

    /// A v1 `cpu` hierarchy at `cpu` (the process in its root) and a v1 `memory` one at
    /// `memory` (the process in `jobs`).
    fn v1_hierarchies(cpu: &Path, memory: &Path) -> [Hierarchy; 2] {
        let hierarchy = |controller: &str, mount: &Path, own: PathBuf| Hierarchy {
            version: CgroupVersion::V1,
            controllers: vec![controller.to_owned()],
            mount_point: mount.to_path_buf(),
            own,
        };
        [
            hierarchy("cpu", cpu, cpu.to_path_buf()),
            hierarchy("memory", memory, memory.join("jobs")),
        ]
    }

    #[test]
    fn v1_layout_limits_and_counters() {
        let root = tempfile::tempdir().unwrap();
        let (cpu, memory) = (root.path().join("cpu"), root.path().join("memory"));
        fs::create_dir_all(memory.join("jobs")).unwrap();
        fs::create_dir(&cpu).unwrap();
        let found = v1_hierarchies(&cpu, &memory);
        let cgroups = Cgroups::detect_in(&found).unwrap();
        assert_eq!(cgroups.version(), CgroupVersion::V1);
        let cgroup = cgroups
            .create(&Limits::of(MemorySize::new(128).unwrap()))
            .unwrap();
        let [cpu_dir, memory_dir] = cgroup.dirs() else {
            panic!("two directories: {:?}", cgroup.dirs());
        };
        assert!(
            memory_dir.starts_with(memory.join("jobs")),
            "{memory_dir:?}"
        );
        let read = |path: PathBuf| fs::read_to_string(path).unwrap();
        assert_eq!(read(cpu_dir.join("cpu.cfs_quota_us")), "1447");
        assert_eq!(read(cpu_dir.join("cpu.cfs_period_us")), "20000");
        assert_eq!(
            read(memory_dir.join("memory.limit_in_bytes")),
            (128u64 << 20).to_string()
        );
        fs::write(memory_dir.join("memory.max_usage_in_bytes"), "1048576").unwrap();
        fs::write(
            memory_dir.join("memory.oom_control"),
            "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
        )
        .unwrap();
        assert_eq!(cgroup.peak_memory_bytes(), Some(1_048_576));
        assert_eq!(cgroup.oom_kills(), Some(2));
        assert_eq!(cgroup.procs_files().len(), 2);
    }

    #[test]
    fn nothing_writable_says_what_was_tried() {
        let root = tempfile::tempdir().unwrap();
        // A v2 hierarchy without controllers and no v1 hierarchies.
        let unified = Hierarchy {
            version: CgroupVersion::V2,
            controllers: Vec::new(),
            mount_point: root.path().to_path_buf(),
            own: root.path().to_path_buf(),
        };
        let error = Cgroups::detect_in(&[unified]).unwrap_err();
        let text = error.to_string();
        assert!(!text.contains('\n'), "one line: {text}");
        assert!(text.contains("cpu and memory controllers"), "{text}");
        assert!(
            text.contains("no cgroup v1 cpu and memory hierarchies"),
            "{text}"
        );
        assert!(Cgroups::detect_in(&[]).is_err());
    }

    /// A v2 cgroup whose directory could not be created has nothing to empty: its drop writes
    /// no `cgroup.kill` anywhere (its directories are unknown yet, and a relative
    /// `cgroup.kill` is a file in the caller's current directory).
    #[test]
    fn a_cgroup_never_created_writes_no_cgroup_kill_in_the_current_directory() {
        let root = tempfile::tempdir().unwrap();
        let cgroups = Cgroups {
            version: CgroupVersion::V2,
            // Gone: `create_dir` fails (as it does for a user who may not write there).
            parents: Parents::V2(root.path().join("gone")),
        };
        let stray = std::env::current_dir().unwrap().join("cgroup.kill");
        assert!(!stray.exists(), "left by another run: {}", stray.display());
        let error = cgroups.create(&Limits::of(MemorySize::new(128).unwrap()));
        assert!(error.is_err());
        let written = stray.exists();
        let _ = fs::remove_file(&stray);
        assert!(!written, "the failed create wrote {}", stray.display());
    }

    #[test]
    fn a_parent_that_fails_every_attempt_is_named_once() {
        let root = tempfile::tempdir().unwrap();
        // The cpu hierarchy cannot hold a child (its directory is gone); the memory one would
        // be tried at two places.
        let cpu = root.path().join("cpu");
        let memory = root.path().join("memory");
        fs::create_dir_all(memory.join("jobs")).unwrap();
        let found = v1_hierarchies(&cpu, &memory);
        let text = Cgroups::detect_in(&found).unwrap_err().to_string();
        let reason = format!("cannot create a cgroup in {}", cpu.display());
        assert_eq!(text.matches(&reason).count(), 1, "{text}");
        assert!(!text.contains('\n'), "one line: {text}");
        assert!(text.contains("no cgroup v2 hierarchy is mounted"), "{text}");
    }

    #[test]
    fn a_limit_the_kernel_did_not_take_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("memory.max");
        assert!(set(&path, "100").is_ok());
        // A file the value cannot be written to.
        let missing = dir.path().join("no/such/dir/cpu.max");
        let error = set(&missing, "1 2").unwrap_err();
        assert!(error.contains("cannot write"), "{error}");
    }
}
