//! Everything a function process started, so that a kill reaches it all, as Lambda ends
//! everything in an execution environment with it: the function's process group (a `sh -c`
//! wrapper's child, `cargo run`'s binary), and every process descending from it, found through
//! `/proc`, also one that left the group and the session (`setsid`, a daemon).
//!
//! The same tree gives an unsized run its memory peak ([`tree_peak_bytes`]): Lambda's `Max
//! Memory Used` is the whole environment's, and a wrapper's own few megabytes are not the
//! function's.
//!
//! A process whose parent had already exited (a daemon that forked twice) descends from the
//! function no more: only a sized run reaches it, through its cgroup
//! ([`FunctionCgroup::kill_all`](crate::sizing::FunctionCgroup::kill_all)).

use std::collections::{HashMap, HashSet};

use rustix::process::{Pid, Signal};

use crate::sizing::process_peak_bytes;

/// Sends `SIGKILL` to the process group `pid` leads and to every process descending from
/// `pid`. `pid` must not have been reaped yet, so that it is still the function's.
pub(crate) fn kill_tree(pid: u32) {
    let Some(root) = i32::try_from(pid).ok().and_then(Pid::from_raw) else {
        return;
    };
    // Found before the kill: once a process is dead, its children are no longer its.
    let descendants = descendants(root);
    // Fails when the group is already empty; nothing is left to kill then.
    let _ = rustix::process::kill_process_group(root, Signal::KILL);
    for descendant in descendants {
        let _ = rustix::process::kill_process(descendant, Signal::KILL);
    }
}

/// Sends `SIGKILL` to the process group `pid` leads, if it still has members: what a
/// function whose own process is gone (or reaped) may have left in it.
pub(crate) fn kill_group(pid: u32) {
    if let Some(pid) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        // Fails when the group is already empty; nothing is left to kill then.
        let _ = rustix::process::kill_process_group(pid, Signal::KILL);
    }
}

/// The memory peak of the process `pid` and everything descending from it, for runs without
/// a size (a sized run's cgroup counts its processes itself): the sum of their peak resident
/// sizes (`VmHWM`), as read now. An upper bound of the tree's peak when its processes peaked
/// at different moments, and pages they share (their libraries) count once per process;
/// what ended before the reading is not counted. `None` once `pid` is gone.
pub(crate) fn tree_peak_bytes(pid: u32) -> Option<u64> {
    let own = process_peak_bytes(pid)?;
    let root = i32::try_from(pid).ok().and_then(Pid::from_raw)?;
    let descendants = children_descendants(root).unwrap_or_else(|| descendants(root));
    Some(
        descendants
            .into_iter()
            .filter_map(|descendant| {
                process_peak_bytes(descendant.as_raw_nonzero().get().unsigned_abs())
            })
            .fold(own, u64::saturating_add),
    )
}

/// Every process descending from `root`, by the `children` lists of its threads
/// (`/proc/<pid>/task/<tid>/children`): a few reads for a small tree, where [`descendants`]
/// reads every process of the machine. `None` when the kernel has no such lists.
fn children_descendants(root: Pid) -> Option<Vec<Pid>> {
    let root = root.as_raw_nonzero().get();
    let mut found = HashSet::new();
    let mut parents = vec![root];
    let mut first = true;
    while let Some(parent) = parents.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{parent}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let children = match std::fs::read_to_string(task.path().join("children")) {
                Ok(children) => children,
                Err(error) if first && error.kind() == std::io::ErrorKind::NotFound => {
                    return None;
                }
                Err(_) => continue,
            };
            first = false;
            for child in children.split_whitespace().filter_map(|c| c.parse().ok()) {
                // A pid reused while `/proc` was read could close a loop.
                if child != root && found.insert(child) {
                    parents.push(child);
                }
            }
        }
    }
    Some(found.into_iter().filter_map(Pid::from_raw).collect())
}

/// Every process descending from `root`, by the parent links of `/proc` as read now (one
/// forked meanwhile may be missing).
fn descendants(root: Pid) -> Vec<Pid> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut children: HashMap<i32, Vec<i32>> = HashMap::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<i32>().ok())
        else {
            continue;
        };
        if let Some(parent) = parent_of(pid) {
            children.entry(parent).or_default().push(pid);
        }
    }
    let mut found = HashSet::new();
    let mut parents = vec![root.as_raw_nonzero().get()];
    while let Some(parent) = parents.pop() {
        for &child in children.get(&parent).into_iter().flatten() {
            // A pid reused while `/proc` was read could close a loop.
            if child != root.as_raw_nonzero().get() && found.insert(child) {
                parents.push(child);
            }
        }
    }
    found.into_iter().filter_map(Pid::from_raw).collect()
}

/// The parent of process `pid`, from `/proc/<pid>/stat` (`pid (name) state ppid …`: the name
/// may hold spaces and parentheses, so the fields are counted after its last `)`).
fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, fields) = stat.rsplit_once(')')?;
    fields.split_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    /// Whether `pid` runs (exists, and is no zombie waiting for its parent).
    fn running(pid: &Pid) -> bool {
        std::fs::read_to_string(format!("/proc/{}/stat", pid.as_raw_nonzero().get()))
            .ok()
            .and_then(|stat| {
                let (_, fields) = stat.rsplit_once(')')?;
                fields.split_whitespace().next().map(|state| state != "Z")
            })
            .unwrap_or(false)
    }

    #[test]
    fn a_process_in_a_session_of_its_own_is_killed_with_its_ancestor() {
        let mut shell = std::process::Command::new("sh")
            .args(["-c", "setsid sleep 30 & sleep 30 & wait"])
            .spawn()
            .unwrap();
        let root = Pid::from_raw(i32::try_from(shell.id()).unwrap()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut found = descendants(root);
        while found.len() < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            found = descendants(root);
        }
        assert_eq!(found.len(), 2, "{found:?}");
        kill_tree(shell.id());
        shell.wait().unwrap();
        while found.iter().any(running) {
            assert!(Instant::now() < deadline, "still running: {found:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
