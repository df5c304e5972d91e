//! The outside programs some tests need, found in one place with one rule: a test
//! whose program is missing fails, naming the program and how to get it; it never
//! passes without running. `scripts/test` (README's test command) installs them all.

use std::path::{Path, PathBuf};

/// Fails the test: `program` is missing; `install` says how to get it.
pub fn missing(program: &str, install: &str) -> ! {
    panic!(
        "this test needs {program}, which is not installed here: {install}. \
         scripts/test (the README's test command) installs every program the tests need"
    )
}

/// The first of `names` on `PATH`.
pub fn on_path(names: &[&str]) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// A headless browser: Debian's chromium.
pub fn chromium() -> PathBuf {
    on_path(&["chromium", "chromium-browser", "google-chrome"])
        .unwrap_or_else(|| missing("chromium", "apt-get install chromium"))
}

/// PostgreSQL's server binaries (`initdb`, `pg_ctl`): on `PATH`, or Debian's
/// `/usr/lib/postgresql/<version>/bin`, newest first.
pub fn postgres_bin() -> PathBuf {
    let on_path = on_path(&["initdb"])
        // Debian links some tools into PATH; their real directory holds pg_ctl too.
        .and_then(|p| Some(std::fs::canonicalize(p).ok()?.parent()?.to_path_buf()))
        .filter(|dir| dir.join("pg_ctl").is_file());
    on_path
        .or_else(|| {
            let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
                .ok()?
                .filter_map(|e| Some(e.ok()?.path().join("bin")))
                .filter(|bin| bin.join("initdb").is_file() && bin.join("pg_ctl").is_file())
                .collect();
            versions.sort_by_key(|p| {
                p.parent()
                    .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
                    .unwrap_or(0)
            });
            versions.pop()
        })
        .unwrap_or_else(|| {
            missing(
                "PostgreSQL's server (initdb, pg_ctl)",
                "apt-get install postgresql",
            )
        })
}

/// The test virtual environment's Python (`GOVSYNC_TEST_PYTHON`, set by
/// `scripts/test`), checked to import `module`; else `python3` if it does.
pub fn python_with(module: &str) -> PathBuf {
    let candidates: Vec<PathBuf> = std::env::var_os("GOVSYNC_TEST_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain(on_path(&["python3"]))
        .collect();
    candidates
        .into_iter()
        .find(|python| imports(python, module))
        .unwrap_or_else(|| {
            missing(
                &format!("a Python with {module}"),
                "scripts/test makes a virtual environment with the pinned version and sets \
                 GOVSYNC_TEST_PYTHON to its python",
            )
        })
}

fn imports(python: &Path, module: &str) -> bool {
    std::process::Command::new(python)
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `podman` with the runtime and cgroup manager that work on these machines
/// (runc and cgroupfs: crun and systemd's manager fail on hybrid cgroups), both
/// checked to be installed.
pub fn podman() -> std::process::Command {
    let podman =
        on_path(&["podman"]).unwrap_or_else(|| missing("podman", "apt-get install podman runc"));
    on_path(&["runc"]).unwrap_or_else(|| missing("runc", "apt-get install runc"));
    let mut command = std::process::Command::new(podman);
    command.args(["--runtime", "runc", "--cgroup-manager=cgroupfs"]);
    command
}
