//! The container image, as users run it: built once from the real Dockerfile by
//! `deploy/container/build-local.sh` (which `scripts/test` runs before the suite;
//! `GOVSYNC_TEST_IMAGE` names another image), then run with podman against the
//! mocks on the host network.

mod support;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::programs::{missing, podman};
use support::remote::Mocks;

/// The image under test, checked to exist.
fn image() -> String {
    let image = std::env::var("GOVSYNC_TEST_IMAGE").unwrap_or_else(|_| "govsync:test".into());
    let exists = podman()
        .args(["image", "exists", &image])
        .status()
        .expect("podman image exists");
    if !exists.success() {
        missing(
            &format!("the image {image}"),
            "deploy/container/build-local.sh builds it from the Dockerfile",
        );
    }
    image
}

/// Runs `command` and returns what it printed; fails the test, with what it
/// printed, unless it succeeded.
fn ok(command: &mut Command) -> String {
    let out = command.output().expect("podman");
    assert!(
        out.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs podman with `args`, as [`ok`].
fn podman_ok(args: &[&str]) -> String {
    ok(podman().args(args))
}

/// `podman run` on the host network with the limits runc is given here; the
/// caller adds its options, the image and what follows it.
fn podman_run() -> Command {
    let mut command = podman();
    command.args(["run", "--network", "host"]).args(ULIMITS);
    command
}

/// `podman run --rm` of the image with `args` after it (the entrypoint is govsync)
/// and the environment variables `env` (`NAME=value`).
fn run_once(image: &str, env: &[&str], args: &[&str]) -> Output {
    podman_run()
        .arg("--rm")
        .args(env.iter().flat_map(|e| ["--env", e]))
        .arg(image)
        .args(args)
        .output()
        .expect("podman run")
}

/// The limits runc is given explicitly here (it may not raise them itself).
const ULIMITS: [&str; 4] = [
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=1024:1024",
];

/// A name for this test's containers and volumes, unique to the process.
fn unique(what: &str) -> String {
    format!("govsync-test-{what}-{}", std::process::id())
}

/// Removes the containers and the volume a test made, whatever happened.
struct Cleanup {
    containers: Vec<String>,
    volume: Option<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for name in &self.containers {
            let _ = podman()
                .args(["rm", "--force", "--time", "0", name])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        if let Some(volume) = &self.volume {
            let _ = podman()
                .args(["volume", "rm", "--force", volume])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

#[test]
fn the_image_answers_version_and_checks_its_own_config_offline() {
    let image = image();
    let version = run_once(&image, &[], &["--version"]);
    assert!(version.status.success(), "{version:?}");
    let printed = String::from_utf8_lossy(&version.stdout);
    assert!(
        printed.contains(env!("CARGO_PKG_VERSION")),
        "govsync --version in the image printed {printed:?}"
    );
    // The config the image carries (GOVSYNC_CONFIG) loads, with its settings from
    // the image's environment, once the secret it names is set.
    let check = run_once(
        &image,
        &["OPENPAGES_PASSWORD=set"],
        &["config", "check", "--offline"],
    );
    assert!(
        check.status.success(),
        "config check --offline in the image: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn the_image_has_no_shell_and_no_package_manager_and_runs_as_nonroot() {
    let image = image();
    let container = unique("files");
    let _cleanup = Cleanup {
        containers: vec![container.clone()],
        volume: None,
    };
    podman_ok(&["create", "--name", &container, &image]);
    let dir = tempfile::tempdir().expect("tempdir");
    let tarball = dir.path().join("image.tar");
    podman_ok(&[
        "export",
        "--output",
        tarball.to_str().expect("a UTF-8 path"),
        &container,
    ]);
    let listing = Command::new("tar")
        .args(["-tv", "--numeric-owner", "-f"])
        .arg(&tarball)
        .output()
        .expect("tar -tv");
    assert!(listing.status.success(), "tar -tv of the export failed");
    // path -> owner ("uid/gid"), from lines like
    // `drwxr-xr-x 65532/65532 0 2026-12-06 13:19 var/lib/govsync/`.
    let owners: std::collections::BTreeMap<String, String> =
        String::from_utf8_lossy(&listing.stdout)
            .lines()
            .filter_map(|line| {
                let owner = line.split_whitespace().nth(1)?;
                // The name is what follows the fifth field (it may hold spaces).
                let mut rest = line;
                for _ in 0..5 {
                    rest = rest.trim_start();
                    rest = &rest[rest.find(char::is_whitespace)?..];
                }
                let name = rest.trim_start().split(" -> ").next()?;
                let name = name.trim_start_matches("./").trim_end_matches('/');
                Some((name.to_string(), owner.to_string()))
            })
            .collect();
    let files: std::collections::BTreeSet<String> = owners.keys().cloned().collect();
    for present in [
        "usr/local/bin/govsync",
        "etc/govsync/govsync.toml",
        "etc/ssl/certs/ca-certificates.crt",
        "var/lib/govsync",
    ] {
        assert!(files.contains(present), "the image lacks {present}");
    }
    // The state directory is the runtime user's, so an empty volume on it (Docker
    // copies the image's ownership onto it) lets govsync create its database.
    assert_eq!(
        owners.get("var/lib/govsync").map(String::as_str),
        Some("65532/65532"),
        "the owner of /var/lib/govsync in the image"
    );
    let forbidden: Vec<&String> = files
        .iter()
        .filter(|f| {
            let name = f.rsplit('/').next().unwrap_or(f);
            [
                "sh", "bash", "dash", "busybox", "dpkg", "apt", "apt-get", "curl", "wget",
            ]
            .contains(&name)
                && (f.contains("bin/") || f.starts_with("bin"))
        })
        .collect();
    assert!(
        forbidden.is_empty(),
        "the image has a shell or a package manager: {forbidden:?}"
    );
    // Nothing to run a shell with, whatever entrypoint one asks for.
    let shell = podman_run()
        .args(["--rm", "--entrypoint", "/bin/sh", &image, "-c", "true"])
        .output()
        .expect("podman run");
    assert!(!shell.status.success(), "/bin/sh ran in the image");

    // The user, the health check (kept by the docker format) and the size.
    let config = podman_ok(&[
        "image",
        "inspect",
        "--format",
        "{{.Config.User}}|{{json .Config.Healthcheck}}|{{.Size}}",
        &image,
    ]);
    let mut parts = config.trim().splitn(3, '|');
    let (user, healthcheck, size) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    assert_eq!(user, "65532:65532");
    assert!(
        healthcheck.contains("govsync") && healthcheck.contains("healthcheck"),
        "the image's health check is {healthcheck}"
    );
    let size: f64 = size.parse().expect("a size");
    println!("image {image}: {:.1} MB", size / 1e6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_image_runs_the_daemon_read_only_on_a_volume_and_a_second_container_resumes() {
    let image = image();
    let mocks = Mocks::start(&["g"]).await;
    // Governance says "Approved for Deployment", SageMaker has no lifecycle yet:
    // the first cycle pushes Deployment / Approved.
    let (_, first) = mocks.pair("g", "first", Some("Approved for Deployment"), None);
    let dir = tempfile::tempdir().expect("tempdir");
    mocks.write_daemon_config(dir.path(), "", "interval = \"1s\"");
    // The container's user (65532) reads the config through a read-only mount.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::set_permissions(
        dir.path().join("govsync.toml"),
        std::fs::Permissions::from_mode(0o644),
    )
    .expect("chmod");
    let volume = unique("state");
    let (one, two) = (unique("one"), unique("two"));
    let _cleanup = Cleanup {
        containers: vec![one.clone(), two.clone()],
        volume: Some(volume.clone()),
    };
    podman_ok(&["volume", "create", &volume]);
    let port = support::free_port();
    let start = |name: &str| {
        ok(podman_run()
            .args(["--detach", "--name", name, "--read-only"])
            .args(["--volume", &format!("{volume}:/var/lib/govsync")])
            .args(["--volume", &format!("{}:/config:ro", dir.path().display())])
            .args(
                [
                    "GOVSYNC_CONFIG=/config/govsync.toml",
                    &format!("GOVSYNC_SERVER_LISTEN=127.0.0.1:{port}"),
                    "GOVSYNC_LOG_FORMAT=human",
                    "OPENPAGES_PASSWORD=pw",
                    "AWS_ACCESS_KEY_ID=AKIDTEST",
                    "AWS_SECRET_ACCESS_KEY=test-secret",
                    "AWS_EC2_METADATA_DISABLED=true",
                ]
                .iter()
                .flat_map(|e| ["--env", e]),
            )
            .arg(&image));
    };
    let logs = |name: &str| {
        let out = podman().args(["logs", name]).output().expect("podman logs");
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };

    // The container `name` pushed Deployment / Approved to `arn`.
    let pushed = |name: String, arn: String| {
        let mocks = &mocks;
        async move {
            wait_for(
                || mocks.lifecycle(&arn) == Some(("Deployment".into(), "Approved".into())),
                &format!("push by the container {name}"),
                || logs(&name),
            )
            .await
        }
    };

    start(&one);
    pushed(one.clone(), first.clone()).await;
    // The image's health check command, without a shell, on the port the
    // environment gave.
    podman_ok(&["exec", &one, "govsync", "healthcheck"]);

    // The same command as the image's HEALTHCHECK, run by podman.
    podman_ok(&["healthcheck", "run", &one]);

    // SIGTERM: the daemon finishes and exits 0, well within the grace.
    let asked = Instant::now();
    podman_ok(&["stop", "--time", "30", &one]);
    let took = asked.elapsed();
    let exit = podman_ok(&["inspect", "--format", "{{.State.ExitCode}}", &one]);
    assert_eq!(
        exit.trim(),
        "0",
        "exit code after SIGTERM; logs:\n{}",
        logs(&one)
    );
    assert!(
        took < Duration::from_secs(30),
        "podman stop took {took:?}: the grace ran out and SIGKILL followed"
    );

    // A second container on the same volume: what the first journaled is there,
    // and its own write goes after it.
    let (_, second) = mocks.pair("g", "second", Some("Approved for Deployment"), None);
    start(&two);
    pushed(two.clone(), second.clone()).await;
    podman_ok(&["stop", "--time", "30", &two]);
    let history = ok(podman_run()
        .args(["--rm", "--read-only"])
        .args(["--volume", &format!("{volume}:/var/lib/govsync")])
        .args([image.as_str(), "history", "--output", "json"]));
    let entries: Vec<serde_json::Value> =
        serde_json::from_str(&history).unwrap_or_else(|e| panic!("{e}: {history}"));
    let mut pushed: Vec<&str> = entries
        .iter()
        .filter(|e| e["action"] == "push" && e["outcome"] == "applied")
        .filter_map(|e| e["package_arn"].as_str())
        .collect();
    pushed.sort();
    let mut expected = vec![first.as_str(), second.as_str()];
    expected.sort();
    assert_eq!(
        pushed,
        expected,
        "the journal on the volume: {history}\nsecond container's log:\n{}",
        logs(&two)
    );
}

/// Polls `done` every 100 ms for up to 90 s; fails with `what` and `logs()`.
async fn wait_for(done: impl Fn() -> bool, what: &str, logs: impl Fn() -> String) {
    let deadline = Instant::now() + Duration::from_secs(90);
    while !done() {
        assert!(
            Instant::now() < deadline,
            "no {what} within 90 s; the container's log:\n{}",
            logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
