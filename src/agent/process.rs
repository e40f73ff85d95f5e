//! Process identity and signalling, with no `unsafe` (rustix's safe wrappers).
//!
//! Contract:
//! - A process is identified by `(pid, start time, boot id)`: the start time is field 22 of
//!   `/proc/<pid>/stat` (clock ticks since boot), the boot id is
//!   `/proc/sys/kernel/random/boot_id`. A pid whose start time or boot differs is another
//!   process that reused the number, and is never signalled ([`check`]).
//! - [`signal_group`] opens a pidfd on the group leader first (where the kernel has pidfds),
//!   re-checks the identity through it, and only then signals the group: between the check and
//!   the signal the leader cannot be reaped and its pid cannot be reused.

use std::os::fd::OwnedFd;

use rustix::process::{Pid, PidfdFlags, Signal};

/// A process's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The pid (also the process group id of a group leader).
    pub pid: i32,
    /// Field 22 of `/proc/<pid>/stat`.
    pub start_time: u64,
    /// The boot id the pid belongs to.
    pub boot_id: String,
}

/// What [`check`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// The same process is alive (possibly a zombie awaiting its parent).
    Same,
    /// No process has that pid (or the machine rebooted).
    Gone,
    /// Another process now has that pid.
    Reused,
}

/// This boot's id.
pub fn boot_id() -> std::io::Result<String> {
    Ok(std::fs::read_to_string("/proc/sys/kernel/random/boot_id")?
        .trim()
        .to_owned())
}

/// Field 22 (`starttime`) of `/proc/<pid>/stat`; `None` when there is no such process.
pub fn start_time(pid: i32) -> std::io::Result<Option<u64>> {
    let text = match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    parse_start_time(&text)
        .map(Some)
        .ok_or_else(|| std::io::Error::other(format!("unreadable /proc/{pid}/stat")))
}

/// Parse the start time out of a `stat` line: the command name (field 2) may hold spaces and
/// parentheses, so fields are counted after the **last** `)`; field 3 is the first after it.
pub fn parse_start_time(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    after.split_whitespace().nth(22 - 3)?.parse().ok()
}

/// The identity of a live pid.
pub fn identify(pid: i32) -> std::io::Result<Identity> {
    let start_time =
        start_time(pid)?.ok_or_else(|| std::io::Error::other(format!("process {pid} is gone")))?;
    Ok(Identity {
        pid,
        start_time,
        boot_id: boot_id()?,
    })
}

/// Is the recorded identity still the live process with that pid?
pub fn check(id: &Identity) -> std::io::Result<Liveness> {
    if boot_id()? != id.boot_id {
        return Ok(Liveness::Gone);
    }
    Ok(match start_time(id.pid)? {
        None => Liveness::Gone,
        Some(t) if t == id.start_time => Liveness::Same,
        Some(_) => Liveness::Reused,
    })
}

fn pid(raw: i32) -> std::io::Result<Pid> {
    Pid::from_raw(raw).ok_or_else(|| std::io::Error::other(format!("invalid pid {raw}")))
}

/// What happened when signalling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signalled {
    /// The group was signalled.
    Sent,
    /// The leader is gone; nothing was signalled.
    Gone,
    /// The pid belongs to another process; nothing was signalled.
    Reused,
}

/// Signal the process group led by `id`, after proving `id` is still that process.
pub fn signal_group(id: &Identity, sig: Signal) -> std::io::Result<Signalled> {
    match check(id)? {
        Liveness::Gone => return Ok(Signalled::Gone),
        Liveness::Reused => return Ok(Signalled::Reused),
        Liveness::Same => {}
    }
    // Pin the leader with a pidfd (when the kernel has them), then check again: from here on
    // the pid cannot be recycled while we hold the descriptor.
    let _pin: Option<OwnedFd> = match rustix::process::pidfd_open(pid(id.pid)?, PidfdFlags::empty())
    {
        Ok(fd) => Some(fd),
        Err(rustix::io::Errno::SRCH) => return Ok(Signalled::Gone),
        Err(_) => None,
    };
    match check(id)? {
        Liveness::Gone => return Ok(Signalled::Gone),
        Liveness::Reused => return Ok(Signalled::Reused),
        Liveness::Same => {}
    }
    match rustix::process::kill_process_group(pid(id.pid)?, sig) {
        Ok(()) => Ok(Signalled::Sent),
        Err(rustix::io::Errno::SRCH) => Ok(Signalled::Gone),
        Err(e) => Err(e.into()),
    }
}

/// `true` while a process that is not a zombie is in group `pgid`. A zombie (dead, waiting
/// for its parent to reap it) runs nothing, so a stop is complete without waiting for the
/// reaper; when `/proc` cannot be read the answer is `true` (never report a group gone on
/// doubt).
pub fn group_alive(pgid: i32) -> bool {
    let Ok(p) = pid(pgid) else { return false };
    if matches!(
        rustix::process::test_kill_process_group(p),
        Err(rustix::io::Errno::SRCH)
    ) {
        return false;
    }
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return true;
    };
    for e in dir.flatten() {
        let name = e.file_name();
        let Some(n) = name.to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        if let Ok(stat) = std::fs::read_to_string(format!("/proc/{n}/stat"))
            && let Some((state, pgrp)) = parse_state_and_group(&stat)
            && pgrp == pgid
            && state != 'Z'
            && state != 'X'
        {
            return true;
        }
    }
    false
}

/// Fields 3 (state) and 5 (process group) of a `stat` line.
fn parse_state_and_group(stat: &str) -> Option<(char, i32)> {
    let after = &stat[stat.rfind(')')? + 1..];
    let mut f = after.split_whitespace();
    let state = f.next()?.chars().next()?;
    let _ppid = f.next()?;
    let pgrp = f.next()?.parse().ok()?;
    Some((state, pgrp))
}

/// Kill whatever is left in group `pgid` (used by the monitor, the group leader's parent,
/// while the leader is an unreaped zombie, so the group id cannot have been reused).
pub fn kill_group_now(pgid: i32) {
    if let Ok(p) = pid(pgid) {
        let _ = rustix::process::kill_process_group(p, Signal::KILL);
    }
}

/// Send `sig` to group `pgid` without an identity check (only for a group whose leader's
/// identity was proven and which still has members: a group id is not reused while any member
/// lives).
pub fn kill_group_now_with(pgid: i32, sig: Signal) {
    if let Ok(p) = pid(pgid) {
        let _ = rustix::process::kill_process_group(p, sig);
    }
}

/// The signal's conventional name (`TERM`, `KILL`, …) or its number.
pub fn signal_name(sig: i32) -> String {
    let name = match sig {
        1 => "HUP",
        2 => "INT",
        3 => "QUIT",
        6 => "ABRT",
        9 => "KILL",
        11 => "SEGV",
        13 => "PIPE",
        14 => "ALRM",
        15 => "TERM",
        _ => return sig.to_string(),
    };
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_is_field_22_even_with_parens_in_the_name() {
        let stat =
            "1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(parse_start_time(stat), Some(987_654));
        assert_eq!(parse_start_time("garbage"), None);
    }

    #[test]
    fn state_and_group_are_fields_3_and_5() {
        assert_eq!(
            parse_state_and_group("7 (a) b) Z 1 42 42 0"),
            Some(('Z', 42))
        );
    }

    #[test]
    fn our_own_identity_is_live_and_a_forged_one_is_reused() {
        let me = identify(i32::try_from(std::process::id()).unwrap()).unwrap();
        assert_eq!(check(&me).unwrap(), Liveness::Same);
        let forged = Identity {
            start_time: me.start_time + 1,
            ..me.clone()
        };
        assert_eq!(check(&forged).unwrap(), Liveness::Reused);
        assert_eq!(
            signal_group(&forged, Signal::TERM).unwrap(),
            Signalled::Reused
        );
        let other_boot = Identity {
            boot_id: "not-this-boot".into(),
            ..me
        };
        assert_eq!(check(&other_boot).unwrap(), Liveness::Gone);
    }
}
