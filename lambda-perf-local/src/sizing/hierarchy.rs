//! Where the machine's cgroups are: the hierarchies mounted (`/proc/self/mountinfo`) and the
//! cgroup this process belongs to in each (`/proc/self/cgroup`). Pure parsing, so that both
//! layouts (v1 and v2) are tested on any machine.

use std::path::{Component, Path, PathBuf};

/// A cgroup version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CgroupVersion {
    /// cgroup v1: one hierarchy per controller (or group of controllers).
    V1,
    /// cgroup v2: one unified hierarchy.
    V2,
}

impl CgroupVersion {
    /// `v1` or `v2`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V1 => "v1",
            Self::V2 => "v2",
        }
    }
}

/// One mounted cgroup hierarchy and where this process sits in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hierarchy {
    pub(crate) version: CgroupVersion,
    /// v1: the controllers named in the mount options (`cpu`, `cpuacct`, `memory`…);
    /// v2: empty (the controllers are in the `cgroup.controllers` file).
    pub(crate) controllers: Vec<String>,
    /// Where it is mounted.
    pub(crate) mount_point: PathBuf,
    /// The directory of this process's cgroup in it.
    pub(crate) own: PathBuf,
}

impl Hierarchy {
    /// Whether a v1 hierarchy carries `controller`.
    pub(crate) fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }
}

/// A line of `/proc/self/mountinfo` that mounts a cgroup file system.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CgroupMount {
    version: CgroupVersion,
    /// The path inside the hierarchy that is mounted (`/` usually).
    root: String,
    mount_point: PathBuf,
    controllers: Vec<String>,
}

/// Undoes the octal escapes of mountinfo (`\040` for a space).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|digits| bytes[i] == b'\\' && digits.iter().all(|d| (b'0'..=b'7').contains(d)));
        match octal {
            Some(digits) => {
                let value = digits
                    .iter()
                    .fold(0u32, |acc, d| acc * 8 + u32::from(d - b'0'));
                out.push(u8::try_from(value).unwrap_or(b'?'));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The cgroup mounts of a mountinfo text; other lines (and malformed ones) are skipped.
fn cgroup_mounts(mountinfo: &str) -> Vec<CgroupMount> {
    let mut mounts = Vec::new();
    for line in mountinfo.lines() {
        let Some((before, after)) = line.split_once(" - ") else {
            continue;
        };
        let fields: Vec<&str> = before.split(' ').collect();
        let tail: Vec<&str> = after.split(' ').collect();
        let (Some(root), Some(mount_point), Some(fstype)) =
            (fields.get(3), fields.get(4), tail.first())
        else {
            continue;
        };
        let version = match *fstype {
            "cgroup2" => CgroupVersion::V2,
            "cgroup" => CgroupVersion::V1,
            _ => continue,
        };
        let controllers = match version {
            CgroupVersion::V2 => Vec::new(),
            CgroupVersion::V1 => tail
                .get(2)
                .map(|options| {
                    options
                        .split(',')
                        .filter(|o| !o.contains('=') && !matches!(*o, "rw" | "ro"))
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        };
        mounts.push(CgroupMount {
            version,
            root: unescape(root),
            mount_point: PathBuf::from(unescape(mount_point)),
            controllers,
        });
    }
    mounts
}

/// A line of `/proc/self/cgroup`: `id:controllers:path`.
struct Membership<'a> {
    controllers: Vec<&'a str>,
    path: &'a str,
}

fn memberships(proc_cgroup: &str) -> Vec<Membership<'_>> {
    proc_cgroup
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let _id = parts.next()?;
            let controllers = parts.next()?;
            let path = parts.next()?;
            Some(Membership {
                controllers: controllers.split(',').filter(|c| !c.is_empty()).collect(),
                path,
            })
        })
        .collect()
}

/// `mount_point` joined with `path` taken relative to the mounted `root`; the mount point
/// itself when `path` is outside the mounted part (or tries to climb out of it).
fn own_directory(mount_point: &Path, root: &str, path: &str) -> PathBuf {
    let relative = Path::new(path)
        .strip_prefix(root)
        .ok()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let safe = relative
        .components()
        .all(|c| matches!(c, Component::Normal(_)));
    if safe {
        mount_point.join(relative)
    } else {
        mount_point.to_path_buf()
    }
}

/// The cgroup hierarchies of this machine, with this process's place in each, from the
/// texts of `/proc/self/mountinfo` and `/proc/self/cgroup`. A hierarchy mounted twice is
/// listed once (its first mount).
pub(crate) fn hierarchies(mountinfo: &str, proc_cgroup: &str) -> Vec<Hierarchy> {
    let memberships = memberships(proc_cgroup);
    let mut found: Vec<Hierarchy> = Vec::new();
    for mount in cgroup_mounts(mountinfo) {
        let membership = memberships.iter().find(|m| match mount.version {
            CgroupVersion::V2 => m.controllers.is_empty(),
            CgroupVersion::V1 => {
                !m.controllers.is_empty()
                    && m.controllers
                        .iter()
                        .all(|c| mount.controllers.iter().any(|o| o == c))
            }
        });
        let own = membership.map_or_else(
            || mount.mount_point.clone(),
            |m| own_directory(&mount.mount_point, &mount.root, m.path),
        );
        let duplicate = found
            .iter()
            .any(|h| h.version == mount.version && h.controllers == mount.controllers);
        if !duplicate {
            found.push(Hierarchy {
                version: mount.version,
                controllers: mount.controllers,
                mount_point: mount.mount_point,
                own,
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hybrid layout: v1 controllers, an empty unified hierarchy beside them.
    const HYBRID_MOUNTINFO: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
22 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw";
    const HYBRID_CGROUP: &str = "\
9:name=systemd:/
4:memory:/jobs/42
2:cpu,cpuacct:/
0::/";

    #[test]
    fn hybrid_v1_layout() {
        let found = hierarchies(HYBRID_MOUNTINFO, HYBRID_CGROUP);
        let cpu = found.iter().find(|h| h.has("cpu")).unwrap();
        assert_eq!(cpu.version, CgroupVersion::V1);
        assert_eq!(cpu.controllers, ["cpu", "cpuacct"]);
        assert_eq!(cpu.own, Path::new("/sys/fs/cgroup/cpu,cpuacct/"));
        let memory = found.iter().find(|h| h.has("memory")).unwrap();
        assert_eq!(memory.own, Path::new("/sys/fs/cgroup/memory/jobs/42"));
        let unified = found
            .iter()
            .find(|h| h.version == CgroupVersion::V2)
            .unwrap();
        assert_eq!(unified.mount_point, Path::new("/sys/fs/cgroup/unified"));
        assert_eq!(found.len(), 4, "{found:?}");
    }

    #[test]
    fn pure_v2_layout_in_a_container() {
        // A container whose cgroup namespace root is /sys/fs/cgroup: the mount root is the
        // container's own cgroup.
        let mountinfo = "\
612 603 0:26 /kubepods/pod1/abc /sys/fs/cgroup ro,nosuid - cgroup2 cgroup rw,nsdelegate
700 603 0:90 / /mnt/with\\040space rw - tmpfs tmpfs rw";
        let found = hierarchies(mountinfo, "0::/kubepods/pod1/abc/app\n");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].version, CgroupVersion::V2);
        assert_eq!(found[0].own, Path::new("/sys/fs/cgroup/app"));
        // Outside the mounted part, or climbing out: the mount point.
        assert_eq!(
            own_directory(Path::new("/sys/fs/cgroup"), "/a", "/b/c"),
            Path::new("/sys/fs/cgroup")
        );
        assert_eq!(
            own_directory(Path::new("/cg"), "/", "/x/../../etc"),
            Path::new("/cg")
        );
    }

    #[test]
    fn escapes_and_garbage() {
        assert_eq!(unescape("/mnt/with\\040space"), "/mnt/with space");
        assert_eq!(unescape("tail\\04"), "tail\\04");
        assert!(hierarchies("not mountinfo\n - \n", "garbage").is_empty());
        assert!(hierarchies("", "").is_empty());
    }
}
