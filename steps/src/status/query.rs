//! What the step files say, from `waitfor --status PATH...` run in one of the
//! pod's containers: one line a PATH, `STATE\tSTATUS\tMTIME_MS\tPATH`.

use std::collections::HashMap;

/// A step file's state, as `waitfor --status` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub state: FileState,
    /// The marker's content: the wrapper's exit status.
    pub status: Option<i64>,
    /// The marker's modification time (milliseconds since the epoch).
    pub mtime_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    /// `PATH` exists (a directory too).
    Done,
    /// `PATH.err` exists.
    Failed,
    /// The wrapper lives (its lock is held).
    Alive,
    /// The wrapper died without a result (its lock is free).
    Died,
    /// Nothing there yet.
    Absent,
}

/// The states of the step files, by path.
pub type Files = HashMap<String, File>;

/// Reads `waitfor --status`'s output; `Err` names the first line that is not one of its lines.
pub fn parse(out: &str) -> Result<Files, String> {
    let mut files = Files::new();
    for line in out.lines() {
        let fields: Vec<&str> = line.splitn(4, '\t').collect();
        let [state, status, mtime, path] = fields[..] else {
            return Err(format!("not a line of waitfor --status: '{line}'"));
        };
        let state = match state {
            "done" => FileState::Done,
            "failed" => FileState::Failed,
            "alive" => FileState::Alive,
            "died" => FileState::Died,
            "absent" => FileState::Absent,
            _ => return Err(format!("not a line of waitfor --status: '{line}'")),
        };
        files.insert(
            path.to_string(),
            File { state, status: status.parse().ok(), mtime_ms: mtime.parse().ok() },
        );
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_waitfor() {
        let files = parse(
            "done\t0\t1796650407114\t/steps/a/out\nfailed\t-\t1796650407126\t/steps/b/out\nalive\t-\t-\t/steps/c/out\n",
        )
        .unwrap();
        assert_eq!(
            files["/steps/a/out"],
            File { state: FileState::Done, status: Some(0), mtime_ms: Some(1_796_650_407_114) }
        );
        assert_eq!(
            files["/steps/b/out"],
            File { state: FileState::Failed, status: None, mtime_ms: Some(1_796_650_407_126) }
        );
        assert_eq!(files["/steps/c/out"], File { state: FileState::Alive, status: None, mtime_ms: None });
        assert_eq!(parse(""), Ok(Files::new()));
        assert!(parse("OCI runtime exec failed: exec failed: unable to start container process").is_err());
        assert!(parse("gone\t-\t-\t/x").is_err());
    }
}
