//! The status page in a real browser: Debian's chromium, headless, renders the
//! daemon's `/` for a seeded scenario (its DOM and screenshots at 360 px and
//! 1280 px). `scripts/test` installs chromium; without it this test fails saying so.

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::json;

/// Chromium headless with the flags a closed network needs, and a profile of its own.
fn browser(profile: &Path, args: &[&str]) -> std::process::Output {
    Command::new(support::programs::chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .output()
        .expect("chromium runs")
}

/// Width and height of a PNG, from its IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"));
    (word(16), word(20))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_status_page_shows_the_states_of_a_seeded_scenario_in_a_browser() {
    let mocks = support::remote::Mocks::start(&["fraud"]).await;
    // Two in sync, one in drift (a lifecycle outside the table), one whose package
    // is deleted (decommissioned), one unlinked.
    for name in ["in-sync-a", "in-sync-b"] {
        mocks.pair(
            "fraud",
            name,
            Some("Deployed"),
            Some(("Deployment", "Complete")),
        );
    }
    let (drift_id, _) = mocks.pair(
        "fraud",
        "drifting <model>",
        Some("Deployed"),
        Some(("Production", "InService")),
    );
    let (_, gone) = mocks.pair(
        "fraud",
        "deleted-package",
        Some("Deployed"),
        Some(("Deployment", "Complete")),
    );
    mocks
        .sm
        .call("DeleteModelPackage", json!({ "ModelPackageName": gone }))
        .expect("delete");
    mocks
        .gov
        .create_model("not linked", Some("Proposed"), None)
        .expect("model");
    // A package no model links: ungoverned, named on the page.
    let ungoverned = mocks.register(json!({ "ModelPackageGroupName": "fraud",
                    "ModelLifeCycle": { "Stage": "Development", "StageStatus": "InProgress" } }));

    let daemon = mocks.run_daemon().await;
    let url = format!("{}/", daemon.url);

    let dir = tempfile::tempdir().expect("temp dir");
    let profile = dir.path().join("profile");
    let (dom, narrow, wide) = {
        let (url, dir, profile) = (url.clone(), dir.path().to_path_buf(), profile.clone());
        tokio::task::spawn_blocking(move || {
            let dom = browser(&profile, &["--dump-dom", &url]);
            let shot = |width: u32, name: &str| {
                let file = dir.join(name);
                let out = browser(
                    &profile,
                    &[
                        &format!("--screenshot={}", file.display()),
                        &format!("--window-size={width},1400"),
                        &url,
                    ],
                );
                assert!(out.status.success(), "screenshot: {out:?}");
                std::fs::read(&file).expect("the screenshot was written")
            };
            (dom, shot(360, "narrow.png"), shot(1280, "wide.png"))
        })
        .await
        .expect("browser")
    };
    daemon.stop().await;

    assert!(dom.status.success(), "{dom:?}");
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();
    let section = dom
        .split("id=\"ungoverned\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no ungoverned table in:\n{dom}"));
    assert!(dom.contains("Ungoverned packages (1)"), "{dom}");
    assert!(
        section.contains(&ungoverned) && section.contains("Development/InProgress"),
        "{section}"
    );
    let count = |state: &str| -> String {
        let card = dom
            .split(&format!("data-state=\"{state}\""))
            .nth(1)
            .unwrap_or_else(|| panic!("no {state} card in:\n{dom}"));
        let n = card
            .split('>')
            .nth(2)
            .expect("count")
            .split('<')
            .next()
            .expect("count");
        n.to_string()
    };
    // The decommissioned model is in sync once its status is written.
    assert_eq!(count("in-sync"), "3", "{dom}");
    assert_eq!(count("drift"), "1", "{dom}");
    assert_eq!(count("unlinked"), "1", "{dom}");
    assert_eq!(count("failed"), "0", "{dom}");
    // The model that needs a person, escaped, with its history command.
    let table = dom
        .split("id=\"needs-a-person\"")
        .nth(1)
        .unwrap_or_else(|| panic!("no needs-a-person table:\n{dom}"));
    assert!(table.contains("drifting &lt;model&gt;"), "{table}");
    assert!(table.contains("Production/InService"), "{table}");
    assert!(
        table.contains(&format!("govsync history --model {drift_id}")),
        "{table}"
    );
    assert!(!table.contains("in-sync-a"), "in-sync models need no one");
    // The cycle, and the journal with the decommission.
    assert!(dom.contains("id=\"cycles\""), "{dom}");
    let journal = dom.split("id=\"journal\"").nth(1).expect("journal table");
    assert!(
        journal.contains("deleted-package") && journal.contains("decommission"),
        "{journal}"
    );
    assert!(dom.contains("<span class=\"ok\">ready</span>"), "{dom}");

    assert_eq!(png_size(&narrow).0, 360);
    assert_eq!(png_size(&wide).0, 1280);
    // Keep the screenshots for a person to look at when asked.
    if let Some(dir) = std::env::var_os("STATUS_PAGE_SCREENSHOTS") {
        std::fs::write(Path::new(&dir).join("status-360.png"), &narrow).expect("write");
        std::fs::write(Path::new(&dir).join("status-1280.png"), &wide).expect("write");
    }
}
