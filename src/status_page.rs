//! The status page at `/`: what an operator wants at a glance. Server-rendered HTML
//! with its CSS inline, no JavaScript and no external assets (clusters are often
//! air-gapped), readable at 360 px and on a wide screen, refreshing itself.

use std::fmt::Write;
use std::time::Duration;

use crate::engine::ModelResult;
use crate::engine::ModelState;
use crate::render::or_none;
use crate::status::{LoopStatus, Role};

/// How many ungoverned packages the page names.
const UNGOVERNED_SHOWN: usize = 10;

/// HTML-escapes text.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(10) {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
    }
}

const STYLE: &str = "
:root { color-scheme: light dark; --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --muted: #6e7781; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; margin: 0 auto;
       padding: 12px; max-width: 1200px; }
h1 { font-size: 1.4em; margin: 0 0 4px; }
h2 { font-size: 1.1em; margin: 24px 0 8px; }
.muted { color: var(--muted); }
.ok { color: var(--ok); } .warn { color: var(--warn); } .bad { color: var(--bad); }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(130px, 1fr)); gap: 8px; }
.card { border: 1px solid #8884; border-radius: 8px; padding: 8px 10px; }
.card .n { font-size: 1.6em; font-weight: 600; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid #8883; vertical-align: top; }
th { font-weight: 600; white-space: nowrap; }
code { font: 0.9em ui-monospace, SFMono-Regular, Menlo, monospace; white-space: nowrap; }
@media (max-width: 640px) {
  table.stack thead { display: none; }
  table.stack tr { display: block; border: 1px solid #8884; border-radius: 8px; margin: 0 0 8px; padding: 4px 0; }
  table.stack td { display: block; border: 0; padding: 2px 10px; }
  table.stack td::before { content: attr(data-label) ': '; font-weight: 600; }
  code { white-space: normal; overflow-wrap: anywhere; }
}
";

/// Renders the page from the loop's status; `interval` is the sync interval.
pub fn render(status: &LoopStatus, interval: Duration) -> String {
    let refresh = interval.as_secs().clamp(5, 30);
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"refresh\" content=\"{refresh}\">\
         <title>govsync status</title><style>{STYLE}</style></head><body>\n"
    );
    html.push_str("<h1>govsync</h1>\n");
    html.push_str(&headline(status, interval));
    if status.governance_date_only {
        html.push_str(
            "<p class=\"warn\" id=\"date-only\">Governance accepts only dates (not times) in \
             [Last Modification Date]: incremental cycles ask for the models changed since the \
             day before their watermark, so each reads a day or two of changes.</p>\n",
        );
    }
    if let Some(events) = &status.events {
        html.push_str(&events_line(events, std::time::SystemTime::now()));
    }
    if let Some(outbox) = &status.outbox {
        html.push_str(&outbox_line(outbox));
    }
    let fleet = status.fleet.as_ref();

    html.push_str("<h2>Models by state</h2>\n<div class=\"cards\" id=\"states\">\n");
    let counts = fleet.map(|f| f.state_counts()).unwrap_or_default();
    for (state, n) in ModelState::ALL.into_iter().zip(counts) {
        let class = match state {
            _ if n == 0 => "muted",
            ModelState::InSync => "ok",
            ModelState::Failed | ModelState::Withheld | ModelState::NotObserved => "bad",
            ModelState::Drift
            | ModelState::Unmapped
            | ModelState::Conflict
            | ModelState::OutOfScope => "warn",
            ModelState::Pending | ModelState::Unlinked => "",
        };
        let _ = writeln!(
            html,
            "<div class=\"card\" data-state=\"{}\"><div class=\"n {class}\">{n}</div>{}</div>",
            state.as_str(),
            state.words()
        );
    }
    html.push_str("</div>\n");

    html.push_str("<h2>Needs a person</h2>\n");
    let people: &[ModelResult] = fleet.map(|f| f.people.as_slice()).unwrap_or_default();
    if people.is_empty() {
        html.push_str("<p class=\"muted\" id=\"needs-a-person\">Nothing: every linked model is in sync or on its way.</p>\n");
    } else {
        html.push_str(
            "<div class=\"scroll\"><table class=\"stack\" id=\"needs-a-person\"><thead><tr>\
             <th>Model</th><th>State</th><th>Governance</th><th>SageMaker</th><th>Why</th>\
             <th>Since</th><th>History</th></tr></thead><tbody>\n",
        );
        for r in people {
            let d = &r.decision;
            let since = status
                .model_since
                .get(d.model_id.as_str())
                .filter(|(action, _)| action == d.action.kind().as_str())
                .map_or_else(|| "this cycle".to_string(), |(_, at)| at.clone());
            let why = match r.outcome.error() {
                Some(error) => format!("{} ({error})", d.reason),
                None => d.reason.clone(),
            };
            let _ = writeln!(
                html,
                "<tr><td data-label=\"Model\">{name} <span class=\"muted\">{id}</span></td>\
                 <td data-label=\"State\">{state}</td><td data-label=\"Governance\">{gov}</td>\
                 <td data-label=\"SageMaker\">{sm}</td><td data-label=\"Why\">{why}</td>\
                 <td data-label=\"Since\">{since}</td>\
                 <td data-label=\"History\"><code>govsync history --model {id}</code></td></tr>",
                name = escape(&d.model_name),
                id = escape(d.model_id.as_str()),
                state = ModelState::of(r).words(),
                gov = escape(&or_none(d.governance_status.as_ref())),
                sm = escape(&or_none(d.lifecycle.as_ref())),
                why = escape(&why),
                since = escape(&since),
            );
        }
        html.push_str("</tbody></table></div>\n");
    }

    let conflicts = fleet
        .map(|f| f.link_conflicts.as_slice())
        .unwrap_or_default();
    if !conflicts.is_empty() {
        let _ = writeln!(html, "<h2>Link conflicts ({})</h2>", conflicts.len());
        html.push_str(
            "<div class=\"scroll\"><table class=\"stack\" id=\"link-conflicts\"><thead><tr>\
             <th>Model</th><th>Why</th></tr></thead><tbody>\n",
        );
        for c in conflicts {
            let _ = writeln!(
                html,
                "<tr><td data-label=\"Model\">{}</td><td data-label=\"Why\">{}</td></tr>",
                escape(c.model_id.as_str()),
                escape(&c.reason),
            );
        }
        html.push_str("</tbody></table></div>\n");
    }
    let ungoverned = fleet.map(|f| f.ungoverned.as_slice()).unwrap_or_default();
    let _ = writeln!(html, "<h2>Ungoverned packages ({})</h2>", ungoverned.len());
    if ungoverned.is_empty() {
        html.push_str("<p class=\"muted\" id=\"ungoverned\">None: a governance model links every registered package.</p>\n");
    } else {
        html.push_str(
            "<div class=\"scroll\"><table class=\"stack\" id=\"ungoverned\"><thead><tr>\
             <th>Package</th><th>Group</th><th>SageMaker</th></tr></thead><tbody>\n",
        );
        for u in ungoverned.iter().take(UNGOVERNED_SHOWN) {
            let _ = writeln!(
                html,
                "<tr><td data-label=\"Package\"><code>{}</code></td><td data-label=\"Group\">{}</td>\
                 <td data-label=\"SageMaker\">{}</td></tr>",
                escape(u.arn.as_str()),
                escape(&u.group),
                escape(&or_none(u.lifecycle.as_ref())),
            );
        }
        html.push_str("</tbody></table></div>\n");
        if ungoverned.len() > UNGOVERNED_SHOWN {
            let _ = writeln!(
                html,
                "<p class=\"muted\">… and {} more: <code>govsync reconcile --dry-run --output json</code> lists them all.</p>",
                ungoverned.len() - UNGOVERNED_SHOWN
            );
        }
    }

    html.push_str("<h2>Last cycles</h2>\n");
    if status.recent_cycles.is_empty() {
        html.push_str("<p class=\"muted\">No cycle has finished yet.</p>\n");
    } else {
        html.push_str(
            "<div class=\"scroll\"><table class=\"stack\" id=\"cycles\"><thead><tr><th>Started</th>\
             <th>Kind</th><th>Duration</th><th>Writes</th><th>Outcome</th></tr></thead><tbody>\n",
        );
        for c in &status.recent_cycles {
            let class = match c.outcome {
                "ok" => "ok",
                "unresolved" | "cancelled" => "warn",
                _ => "bad",
            };
            let outcome = match &c.error {
                Some(error) => format!("{}: {error}", c.outcome),
                None => c.outcome.to_string(),
            };
            let _ = writeln!(
                html,
                "<tr><td data-label=\"Started\">{}</td><td data-label=\"Kind\">{}</td>\
                 <td data-label=\"Duration\">{}</td><td data-label=\"Writes\">{}</td>\
                 <td data-label=\"Outcome\" class=\"{class}\">{}</td></tr>",
                escape(&c.started_at),
                c.kind,
                seconds(c.duration),
                c.writes,
                escape(&outcome)
            );
        }
        html.push_str("</tbody></table></div>\n");
    }

    html.push_str("<h2>Last journal entries</h2>\n");
    if status.journal_tail.is_empty() {
        html.push_str("<p class=\"muted\">The journal is empty.</p>\n");
    } else {
        html.push_str(
            "<div class=\"scroll\"><table class=\"stack\" id=\"journal\"><thead><tr><th>Time</th>\
             <th>Model</th><th>Action</th><th>From</th><th>To</th><th>Outcome</th></tr></thead><tbody>\n",
        );
        for e in &status.journal_tail {
            let _ = writeln!(
                html,
                "<tr><td data-label=\"Time\">{}</td><td data-label=\"Model\">{} <span class=\"muted\">{}</span></td>\
                 <td data-label=\"Action\">{}</td><td data-label=\"From\">{}</td><td data-label=\"To\">{}</td>\
                 <td data-label=\"Outcome\">{}</td></tr>",
                escape(&e.at),
                escape(&e.model_name),
                escape(&e.model_id),
                escape(&e.action),
                escape(e.from.as_deref().unwrap_or("")),
                escape(e.to.as_deref().unwrap_or("")),
                escape(&e.outcome),
            );
        }
        html.push_str("</tbody></table></div>\n");
    }
    let _ = write!(
        html,
        "<p class=\"muted\">Refreshes every {refresh} s. <a href=\"/metrics\">/metrics</a> · \
         <a href=\"/healthz\">/healthz</a> · <a href=\"/readyz\">/readyz</a></p>\n</body></html>\n"
    );
    html
}

/// The line under the title: ready or not, the last cycle, the interval.
/// Whether SageMaker's events flow: the queue's last answer and message, and what
/// became of the messages.
fn events_line(events: &crate::events::EventsStatus, now: std::time::SystemTime) -> String {
    let ago = |t: Option<std::time::SystemTime>| {
        t.map(|t| seconds(now.duration_since(t).unwrap_or_default()) + " ago")
    };
    let (class, state) = match (&events.error, ago(events.last_received)) {
        (Some(error), _) => ("bad", format!("the queue cannot be read: {error}")),
        (None, Some(last)) => ("ok", format!("flowing; last message {last}")),
        (None, None) => match ago(events.last_polled) {
            Some(polled) => ("", format!("no message yet (queue answered {polled})")),
            None => ("warn", "the queue has not answered yet".to_string()),
        },
    };
    format!(
        "<p id=\"events\" class=\"{class}\">Events in: {}. Received {}: acted {}, duplicate {}, \
         ignored {}, failed {}. Queue <code>{}</code>.</p>\n",
        escape(&state),
        events.received,
        events.acted,
        events.duplicate,
        events.ignored,
        events.failed,
        escape(&events.queue)
    )
}

/// The outbox's backlog: events out waiting to be published, and why, if sends fail.
fn outbox_line(outbox: &crate::events::outbox::OutboxStatus) -> String {
    let (class, state) = match &outbox.error {
        Some(error) => (
            "bad",
            format!("sends fail, the events wait in the outbox: {error}"),
        ),
        None if outbox.pending > 0 => ("warn", "sending".to_string()),
        None => ("ok", "all published".to_string()),
    };
    format!(
        "<p id=\"outbox\" class=\"{class}\">Events out: {}. Waiting {}, published {} \
         (this process). Bus <code>{}</code>.</p>\n",
        escape(&state),
        outbox.pending,
        outbox.published,
        escape(&outbox.bus)
    )
}

fn headline(status: &LoopStatus, interval: Duration) -> String {
    // What /readyz answers, in the same words.
    let ready = match crate::status::readiness(status) {
        Ok(text) => format!("<span class=\"ok\">{}</span>", escape(text.trim())),
        Err(text) if status.last_result.is_none() => {
            format!("<span class=\"warn\">{}</span>", escape(text.trim()))
        }
        Err(text) => format!("<span class=\"bad\">{}</span>", escape(text.trim())),
    };
    let last = status.recent_cycles.front().map_or_else(String::new, |c| {
        format!(
            " · last cycle started {} ({}, {})",
            escape(&c.started_at),
            c.outcome,
            seconds(c.duration)
        )
    });
    let role = match &status.role {
        Role::Single => String::new(),
        Role::Leader { instance } => {
            format!(
                " · <span id=\"role\">leader: this instance ({})</span>",
                escape(instance)
            )
        }
        Role::Standby {
            instance, leader, ..
        } => format!(
            " · <span id=\"role\">standby ({}); the leader is {}</span>",
            escape(instance),
            leader.as_ref().map_or_else(
                || "not known yet".to_string(),
                |l| format!(
                    "{} (last heartbeat {})",
                    escape(&l.instance),
                    escape(&l.heartbeat_at)
                )
            )
        ),
    };
    format!(
        "<p id=\"headline\">{ready}{last} · a cycle every {}{role}</p>\n",
        humantime::format_duration(interval)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_events_line_says_whether_events_flow() {
        use crate::events::EventsStatus;
        let now = std::time::SystemTime::now();
        let mut e = EventsStatus {
            queue: "https://sqs.us-east-1.amazonaws.com/1/q".into(),
            ..EventsStatus::default()
        };
        assert!(events_line(&e, now).contains("has not answered yet"));
        e.last_polled = Some(now - Duration::from_secs(3));
        assert!(events_line(&e, now).contains("no message yet (queue answered 3.00 s ago)"));
        e.last_received = Some(now - Duration::from_secs(2));
        e.received = 4;
        e.acted = 3;
        e.ignored = 1;
        let line = events_line(&e, now);
        assert!(line.contains("class=\"ok\""), "{line}");
        assert!(line.contains("flowing; last message 2.00 s ago"), "{line}");
        assert!(
            line.contains("Received 4: acted 3, duplicate 0, ignored 1, failed 0"),
            "{line}"
        );
        e.error = Some("ReceiveMessage: <AccessDenied>".into());
        let line = events_line(&e, now);
        assert!(line.contains("class=\"bad\""), "{line}");
        assert!(line.contains("&lt;AccessDenied&gt;"), "{line}");
    }

    #[test]
    fn the_outbox_line_shows_the_backlog_and_why_it_waits() {
        use crate::events::outbox::OutboxStatus;
        let mut o = OutboxStatus {
            bus: "govsync-changes".into(),
            pending: 0,
            published: 12,
            error: None,
        };
        let line = outbox_line(&o);
        assert!(
            line.contains("all published") && line.contains("Waiting 0, published 12"),
            "{line}"
        );
        o.pending = 3;
        o.error = Some("PutEvents for govsync-changes: ResourceNotFoundException".into());
        let line = outbox_line(&o);
        assert!(
            line.contains("class=\"bad\"") && line.contains("Waiting 3"),
            "{line}"
        );
        assert!(line.contains("ResourceNotFoundException"), "{line}");
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<b>\"x\" & 'y'</b>"),
            "&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/b&gt;"
        );
    }

    #[test]
    fn the_headline_says_which_replica_leads() {
        let mut status = LoopStatus::new(tokio::time::Instant::now());
        let single = render(&status, Duration::from_secs(60));
        assert!(
            !single.contains("id=\"role\""),
            "a single replica says nothing of roles"
        );
        status.role = Role::Standby {
            instance: "pod-b".into(),
            leader: Some(crate::store::LeaderRow {
                instance: "pod-<a>".into(),
                since: "2026-12-02T10:00:00Z".into(),
                heartbeat_at: "2026-12-02T10:05:00Z".into(),
            }),
            checked: tokio::time::Instant::now(),
            error: None,
        };
        let standby = render(&status, Duration::from_secs(60));
        assert!(
            standby.contains(
                "standby (pod-b); the leader is pod-&lt;a&gt; (last heartbeat 2026-12-02T10:05:00Z)"
            ),
            "{standby}"
        );
        // A standby that has run no cycle is ready, and the page says so in the
        // words /readyz answers with.
        let ready = crate::status::readiness(&status).expect("a standby is ready");
        assert!(
            standby.contains(&format!(
                "<span class=\"ok\">{}</span>",
                escape(ready.trim())
            )),
            "{standby}"
        );
        assert!(!standby.contains("no cycle has finished"), "{standby}");
        status.role = Role::Leader {
            instance: "pod-b".into(),
        };
        let leader = render(&status, Duration::from_secs(60));
        assert!(leader.contains("leader: this instance (pod-b)"), "{leader}");
    }

    #[test]
    fn an_empty_status_renders_a_page_that_says_so() {
        let status = LoopStatus::new(tokio::time::Instant::now());
        let page = render(&status, Duration::from_secs(60));
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("no cycle has finished yet"));
        assert!(page.contains("No cycle has finished yet."));
        assert!(page.contains("content=\"30\""), "refresh capped at 30 s");
        assert!(!page.contains("<script"), "no JavaScript");
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "no external assets"
        );
    }
}
