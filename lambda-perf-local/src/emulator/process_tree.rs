//! Everything a function process started, so that a kill reaches it all, as Lambda ends
//! everything in an execution environment with it: the function's process group (a `sh -c`
//! wrapper's child, `cargo run`'s binary), and every process descending from it, found through
//! `/proc`, also one that left the group and the session (`setsid`, a daemon).
//!
//! A process whose parent had already exited (a daemon that forked twice) descends from the
//! function no more: only a sized run reaches it, through its cgroup
//! ([`FunctionCgroup::kill_all`](crate::sizing::FunctionCgroup::kill_all)).

use std::collections::{HashMap, HashSet};

use rustix::process::{Pid, Signal};

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
