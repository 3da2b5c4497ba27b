//! A command in a real terminal (tmux), for the prompt and Ctrl-C tests: type into it, read
//! its screen, and check its cursor.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::{TestAccount, REGION};

/// The shell line that runs `cis-fix ARGS` in the terminal as `acct` against `endpoint`, from
/// `dir`, with nothing of the developer's own environment or AWS configuration (`env -i`),
/// then prints `TAG=<exit code>` and keeps the terminal open a minute for the test to read.
pub fn cis_fix_line(
    acct: &TestAccount,
    endpoint: &str,
    dir: &Path,
    args: &str,
    tag: &str,
) -> String {
    format!(
        "cd '{dir}' && env -i PATH=/usr/bin:/bin HOME=/tmp TERM=xterm AWS_REGION={REGION} \
         AWS_ENDPOINT_URL='{endpoint}' AWS_ACCESS_KEY_ID='{key}' AWS_SECRET_ACCESS_KEY='{secret}' \
         AWS_SESSION_TOKEN='{token}' AWS_MAX_ATTEMPTS=1 AWS_CONFIG_FILE=/nonexistent \
         AWS_SHARED_CREDENTIALS_FILE=/nonexistent AWS_EC2_METADATA_DISABLED=true \
         CIS_FIX_STATE_DIR='{state}' {bin} {args}; echo {tag}=$?; sleep 60",
        dir = dir.display(),
        key = acct.creds.access_key_id(),
        secret = acct.creds.secret_access_key(),
        token = acct.creds.session_token().unwrap_or_default(),
        state = acct.state_dir().display(),
        bin = env!("CARGO_BIN_EXE_cis-fix"),
    )
}

/// A guide session in a real terminal (tmux). The shell around it traps SIGINT so that it
/// survives the Ctrl-C sent to the terminal's foreground group and prints the exit code.
pub struct Tmux {
    session: String,
}

impl Tmux {
    pub fn start(session: &str, command: &str) -> Tmux {
        Tmux::start_sized(session, command, 220, 60)
    }

    /// A terminal of `cols` × `rows`.
    pub fn start_sized(session: &str, command: &str, cols: u16, rows: u16) -> Tmux {
        let (cols, rows) = (cols.to_string(), rows.to_string());
        let ok = Command::new("tmux")
            .args([
                "new-session",
                "-d",
                "-s",
                session,
                "-x",
                &cols,
                "-y",
                &rows,
                command,
            ])
            .status()
            .expect("tmux is needed for the guide tests (Debian package tmux)");
        assert!(ok.success());
        Tmux {
            session: session.to_string(),
        }
    }

    pub fn screen(&self) -> String {
        let out = Command::new("tmux")
            .args([
                "capture-pane",
                "-p",
                "-J",
                "-S",
                "-400",
                "-t",
                &self.session,
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn wait_for(&self, text: &str, count: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.screen();
            if s.matches(text).count() >= count {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "waited for {text:?} x{count}; screen:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", self.session.as_str()];
        args.extend_from_slice(keys);
        assert!(Command::new("tmux").args(&args).status().unwrap().success());
    }

    /// Whether the terminal shows its cursor (`#{cursor_flag}`).
    pub fn cursor_visible(&self) -> bool {
        let out = Command::new("tmux")
            .args(["display", "-p", "-t", &self.session, "#{cursor_flag}"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .status();
    }
}
