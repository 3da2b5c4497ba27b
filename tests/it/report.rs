//! `cis-fix report`: a seeded account is planned (saved), two controls are applied, and the
//! report of the saved plan plus the journal is checked in every format against numbers the
//! test computes itself from the plan JSON, the catalog and `history --json`.
//!
//! The HTML is opened in a real headless Chromium (Debian's `chromium`; `.ci/run` installs
//! it): no console messages (the page has no script, so any message is a browser error such
//! as a blocked fetch), no network request by the page (Chromium's net log, checked on a
//! canary page first so the check itself is known to work), the chart groups and the section
//! numbers in the rendered DOM. A screenshot is written to `<target>/report/report.png`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use cis_fix::catalog::{Assessment, Catalog};
use serde_json::Value;

use crate::harness::{Output, TestAccount, REGION};

/// Where people look at the results: `<cargo target dir>/report/`.
fn out_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("report");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn ok(out: &Output, what: &str) {
    assert_eq!(
        out.code, 0,
        "{what}: exit code\nstdout:\n{}\nstderr:\n{}",
        out.stdout, out.stderr
    );
}

/// The seeded account, its saved plan (made before any change), and one apply run.
struct Fixture {
    acct: TestAccount,
    plan_file: PathBuf,
    plan: Value,
    /// (control, region, target) of every change the journal says was applied and verified.
    held: BTreeSet<(String, Option<String>, String)>,
}

async fn fixture() -> Fixture {
    let acct = TestAccount::new().await;
    // A weak password policy, a console user without MFA, EBS not encrypted by default.
    acct.iam()
        .update_account_password_policy()
        .minimum_password_length(8)
        .send()
        .await
        .unwrap();
    acct.iam()
        .create_user()
        .user_name("console-no-mfa")
        .send()
        .await
        .unwrap();
    acct.iam()
        .create_login_profile()
        .user_name("console-no-mfa")
        .password("Correct-Horse-Battery-9")
        .send()
        .await
        .unwrap();
    acct.ec2(REGION)
        .disable_ebs_encryption_by_default()
        .send()
        .await
        .unwrap();

    let plan_file = acct.state_dir().join("plan.json");
    let f = plan_file.to_str().unwrap();
    ok(
        &acct.run(&["plan", "--regions", REGION, "-o", f, "--format", "json"]),
        "plan",
    );
    let plan: Value = serde_json::from_str(&std::fs::read_to_string(&plan_file).unwrap()).unwrap();
    ok(
        &acct.run(&[
            "apply",
            "--yes",
            "-c",
            "1.7",
            "-c",
            "5.1.1",
            "--regions",
            REGION,
        ]),
        "apply",
    );
    // The account really changed (the report will claim it did).
    assert_eq!(
        acct.password_policy()
            .await
            .unwrap()
            .minimum_password_length(),
        Some(14)
    );
    assert!(acct.ebs_default(REGION).await);

    let runs: Value = serde_json::from_str(&acct.run(&["history", "--json"]).stdout).unwrap();
    let mut held = BTreeSet::new();
    for r in runs.as_array().unwrap() {
        let id = r["run_id"].as_str().unwrap();
        let run: Value =
            serde_json::from_str(&acct.run(&["history", id, "--json"]).stdout).unwrap();
        for c in run["changes"].as_array().unwrap() {
            if c["state"] == "applied, verified" {
                held.insert((
                    c["control"].as_str().unwrap().to_string(),
                    c["region"].as_str().map(str::to_string),
                    c["target"].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    assert_eq!(held.len(), 2, "two verified changes: {held:?}");
    Fixture {
        acct,
        plan_file,
        plan,
        held,
    }
}

/// Per section: (compliant, scored, failing) now and failing before, computed here from the
/// plan, the catalog's assessments and the journal, by the rules in docs/report.md.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Expect {
    compliant: usize,
    scored: usize,
    failing: usize,
    failing_before: usize,
}

fn scored_status(assessment: Assessment, status: &str) -> Option<bool> {
    match status {
        "manual" | "unknown" | "skipped" | "not_implemented" => None,
        _ if assessment == Assessment::Manual => None,
        "compliant" => Some(true),
        "change" | "blocked" | "error" => Some(false),
        other => panic!("unexpected status {other}"),
    }
}

fn expected(fx: &Fixture) -> BTreeMap<String, Expect> {
    let cat = Catalog::embedded().unwrap();
    let mut m: BTreeMap<String, Expect> = BTreeMap::new();
    for i in fx.plan["plan"]["items"].as_array().unwrap() {
        let control = i["control"].as_str().unwrap();
        let a = cat.by_slug(control).unwrap().assessment;
        let section = i["id"].as_str().unwrap().split('.').next().unwrap();
        let key = (
            control.to_string(),
            i["region"].as_str().map(str::to_string),
            i["target"].as_str().unwrap().to_string(),
        );
        let before = i["status"].as_str().unwrap();
        let now = if fx.held.contains(&key) {
            "compliant"
        } else {
            before
        };
        let e = m.entry(section.to_string()).or_default();
        match scored_status(a, now) {
            Some(true) => {
                e.compliant += 1;
                e.scored += 1
            }
            Some(false) => {
                e.failing += 1;
                e.scored += 1
            }
            None => {}
        }
        if scored_status(a, before) == Some(false) {
            e.failing_before += 1;
        }
    }
    m
}

fn report(fx: &Fixture, format: &str, out: &Path) -> String {
    let r = fx.acct.run(&[
        "report",
        "--plan",
        fx.plan_file.to_str().unwrap(),
        "--all-runs",
        "--format",
        format,
        "-o",
        out.to_str().unwrap(),
    ]);
    ok(&r, "report");
    std::fs::read_to_string(out).unwrap()
}

// ---- Chromium -------------------------------------------------------------------------------

fn chromium() -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("chromium"))
                .find(|c| c.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "chromium is not installed: this test opens the report in a real headless browser. \
                 Install it with `apt-get install -y chromium` (.ci/run does)."
            )
        })
}

struct Browsed {
    dom: String,
    log: String,
    /// URLs the page itself asked the network for (not file: or data:).
    page_requests: Vec<String>,
}

/// Open `page` in headless Chromium with every network request sent to a dead proxy, and
/// return the rendered DOM, the log, and the page's requests from the net log.
fn browse(page: &Path, screenshot: Option<&Path>) -> Browsed {
    let profile = tempfile::tempdir().unwrap();
    let netlog = profile.path().join("net-log.json");
    let url = format!("file://{}", page.display());
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--proxy-server=127.0.0.1:9",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1280,2000",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .arg(format!("--log-net-log={}", netlog.display()));
    match screenshot {
        Some(png) => cmd.arg(format!("--screenshot={}", png.display())),
        None => cmd.arg("--dump-dom"),
    };
    let out = cmd.arg(&url).output().expect("run chromium");
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "chromium failed: {log}");
    let net: Value = serde_json::from_str(&std::fs::read_to_string(&netlog).unwrap())
        .expect("chromium's net log");
    Browsed {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        log,
        page_requests: page_requests(&net),
    }
}

/// Requests started for a page loaded from file:// (their network isolation key names it),
/// other than file: and data: URLs. Chromium's own background requests have other keys.
fn page_requests(net: &Value) -> Vec<String> {
    let start = net["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
        .as_u64()
        .expect("net log constants");
    net["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"].as_u64() == Some(start))
        .filter(|e| {
            e["params"]["network_isolation_key"]
                .as_str()
                .is_some_and(|k| k.starts_with("file://"))
        })
        .filter_map(|e| e["params"]["url"].as_str())
        .filter(|u| !u.starts_with("file:") && !u.starts_with("data:"))
        .map(str::to_string)
        .collect()
}

fn console_lines(log: &str) -> Vec<&str> {
    log.lines().filter(|l| l.contains(":CONSOLE")).collect()
}

/// The attributes of every element whose start tag begins with `open` (e.g. `<g class="bar-group"`).
fn elements(dom: &str, open: &str) -> Vec<BTreeMap<String, String>> {
    dom.match_indices(open)
        .map(|(at, _)| {
            let tag = &dom[at..at + dom[at..].find('>').unwrap()];
            let mut attrs = BTreeMap::new();
            let mut rest = tag;
            while let Some(eq) = rest.find("=\"") {
                let name = rest[..eq].rsplit([' ', '\n']).next().unwrap().to_string();
                let tail = &rest[eq + 2..];
                let end = tail.find('"').unwrap();
                attrs.insert(name, tail[..end].to_string());
                rest = &tail[end + 1..];
            }
            attrs
        })
        .collect()
}

fn num(a: &BTreeMap<String, String>, k: &str) -> usize {
    a.get(k)
        .unwrap_or_else(|| panic!("no {k} in {a:?}"))
        .parse()
        .unwrap()
}

/// The file fetches nothing: no tag mentions a URL scheme, no src, no external href, no CSS
/// url() or @import. (URLs may appear as text, e.g. in a finding's note; text is not fetched.)
fn assert_self_contained(html: &str) {
    for tag in html
        .split('<')
        .skip(1)
        .map(|t| &t[..t.find('>').unwrap_or(t.len())])
    {
        assert!(!tag.contains("://"), "a tag refers to a URL: <{tag}>");
        assert!(!tag.contains("src="), "a tag loads something: <{tag}>");
        if let Some(i) = tag.find("href=\"") {
            assert!(tag[i + 6..].starts_with('#'), "external link: <{tag}>");
        }
    }
    assert!(!html.contains("url("), "CSS url() in the report");
    assert!(!html.contains("@import"), "CSS @import in the report");
}

#[tokio::test]
async fn html_report_renders_offline_in_chromium_with_the_plans_numbers() {
    let chromium_bin = chromium();
    let fx = fixture().await;
    let dir = out_dir();

    // The detectors work: a canary page that logs to the console and fetches an image.
    let canary = dir.join("canary.html");
    std::fs::write(
        &canary,
        "<!DOCTYPE html><html><body><img src=\"https://example.com/x.png\">\
         <script>console.error('canary')</script></body></html>",
    )
    .unwrap();
    let c = browse(&canary, None);
    assert!(
        !console_lines(&c.log).is_empty(),
        "console detector: {}",
        c.log
    );
    assert_eq!(
        c.page_requests,
        ["https://example.com/x.png"],
        "net-log detector"
    );

    let page = dir.join("report.html");
    let html = report(&fx, "html", &page);
    assert_self_contained(&html);
    assert!(html.contains(&fx.acct.id));
    let caller = fx.plan["plan"]["account"]["caller_arn"].as_str().unwrap();
    assert!(html.contains(caller), "caller ARN {caller}");
    assert!(html.contains("CIS AWS Foundations Benchmark 5.0.0"));

    let b = browse(&page, None);
    assert!(
        b.page_requests.is_empty(),
        "network requests: {:?}",
        b.page_requests
    );
    assert!(
        console_lines(&b.log).is_empty(),
        "console messages:\n{}",
        console_lines(&b.log).join("\n")
    );
    assert!(b.dom.contains("id=\"chart-sections\""), "{}", b.dom);

    let want = expected(&fx);
    // One bar group per section, each with its compliant/failing bars, numbers as computed.
    let groups = elements(&b.dom, "<g class=\"bar-group\"");
    assert_eq!(groups.len(), want.len(), "one bar group per section");
    assert_eq!(
        b.dom.matches("<rect class=\"bar-compliant\"").count(),
        want.len()
    );
    assert_eq!(
        b.dom.matches("<rect class=\"bar-failing\"").count(),
        want.len()
    );
    for g in &groups {
        let e = want[&g["data-section"]];
        assert_eq!(
            (num(g, "data-compliant"), num(g, "data-failing")),
            (e.compliant, e.failing),
            "section {}",
            g["data-section"]
        );
    }
    let rows = elements(&b.dom, "<tr class=\"section-row\"");
    assert_eq!(rows.len(), want.len());
    for r in &rows {
        let e = want[&r["data-section"]];
        assert_eq!(
            (num(r, "data-compliant"), num(r, "data-scored")),
            (e.compliant, e.scored),
            "section {} row",
            r["data-section"]
        );
    }
    // Before → after: the runs fixed one failing item in sections 1 and 5 each.
    let ba = elements(&b.dom, "<g class=\"ba-group\"");
    assert_eq!(ba.len(), want.len());
    for g in &ba {
        let e = want[&g["data-section"]];
        assert_eq!(
            (num(g, "data-before"), num(g, "data-now")),
            (e.failing_before, e.failing),
            "section {}",
            g["data-section"]
        );
    }
    let s1 = want["1"];
    assert!(s1.failing_before > s1.failing, "1.7 was fixed: {s1:?}");
    let overall = &elements(&b.dom, "<div class=\"card\" id=\"overall\"")[0];
    assert_eq!(
        num(overall, "data-compliant"),
        want.values().map(|e| e.compliant).sum::<usize>()
    );
    assert_eq!(
        num(overall, "data-scored"),
        want.values().map(|e| e.scored).sum::<usize>()
    );
    // The change and the journal run are in the page.
    assert!(
        b.dom.contains("MinimumPasswordLength 8 → 14"),
        "change shown"
    );
    assert!(b.dom.contains("applied, verified"));

    let png = dir.join("report.png");
    let _ = std::fs::remove_file(&png);
    let s = browse(&page, Some(&png));
    assert!(console_lines(&s.log).is_empty());
    let size = std::fs::metadata(&png).map(|m| m.len()).unwrap_or(0);
    assert!(
        size > 10_000,
        "screenshot {} ({size} bytes) from {}",
        png.display(),
        chromium_bin.display()
    );
}

#[tokio::test]
async fn csv_report_round_trips_with_the_plans_counts() {
    let fx = fixture().await;
    let file = fx.acct.state_dir().join("report.csv");
    let text = report(&fx, "csv", &file);
    let _ = std::fs::write(out_dir().join("report.csv"), &text);
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let head: Vec<String> = rd.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(
        head,
        cis_fix::report::csv::COLUMNS.map(str::to_string).to_vec(),
        "documented columns"
    );
    let col = |n: &str| head.iter().position(|h| h == n).unwrap();
    let rows: Vec<csv::StringRecord> = rd.records().map(|r| r.expect("row parses")).collect();
    let items = fx.plan["plan"]["items"].as_array().unwrap();
    assert_eq!(rows.len(), items.len(), "one row per plan item");

    // Counts per status: "before" is the plan's; "now" is the plan's with the two verified
    // changes compliant.
    let mut plan_counts: BTreeMap<String, usize> = BTreeMap::new();
    for i in items {
        *plan_counts
            .entry(i["status"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let mut before: BTreeMap<String, usize> = BTreeMap::new();
    let mut now: BTreeMap<String, usize> = BTreeMap::new();
    for r in &rows {
        *before
            .entry(r[col("status_before")].to_string())
            .or_default() += 1;
        *now.entry(r[col("status")].to_string()).or_default() += 1;
        assert_eq!(&r[col("account_id")], fx.acct.id);
    }
    assert_eq!(before, plan_counts);
    let mut want_now = plan_counts.clone();
    *want_now.get_mut("change").unwrap() -= 2;
    *want_now.entry("compliant".into()).or_default() += 2;
    assert_eq!(now, want_now);

    let pw = rows
        .iter()
        .find(|r| &r[col("control")] == "password-min-length")
        .unwrap();
    assert_eq!(&pw[col("cis_1.4")], "1.8", "ids in other versions");
    assert_eq!(&pw[col("security_hub")], "IAM.15");
    assert_eq!(&pw[col("change_state")], "applied, verified");
    assert_eq!(&pw[col("region")], "global");
    let scored = rows.iter().filter(|r| &r[col("scored")] == "true").count();
    let want: usize = expected(&fx).values().map(|e| e.scored).sum();
    assert_eq!(scored, want);
}

#[tokio::test]
async fn json_report_parses_and_agrees_with_a_live_plan() {
    let fx = fixture().await;
    let file = fx.acct.state_dir().join("report.json");
    let doc: Value = serde_json::from_str(&report(&fx, "json", &file)).expect("JSON parses");
    assert_eq!(doc["format"], "cis-fix-report");
    assert_eq!(doc["account"]["id"], fx.acct.id.as_str());
    assert_eq!(doc["plan_source"], "file");
    assert_eq!(doc["runs"].as_array().unwrap().len(), 1);
    // The chain head is the one `history --verify` recomputes.
    let head = doc["runs"][0]["chain_head"].as_str().expect("chain head");
    assert_eq!(head.len(), 64, "{head}");
    let verify: Value =
        serde_json::from_str(&fx.acct.run(&["history", "--verify", "--json"]).stdout).unwrap();
    assert_eq!(verify["runs"][0]["chain_head"], head);
    assert_eq!(verify["runs"][0]["status"], "verified");
    assert_eq!(doc["changes"].as_array().unwrap().len(), 2);
    let want = expected(&fx);
    let sections = doc["sections"].as_array().unwrap();
    assert_eq!(sections.len(), want.len());
    for s in sections {
        let e = want[s["section"].as_str().unwrap()];
        assert_eq!(s["now"]["compliant"], e.compliant);
        assert_eq!(s["now"]["scored"], e.scored);
        assert_eq!(s["before"]["failing"], e.failing_before);
    }
    let items = doc["items"].as_array().unwrap();
    assert_eq!(
        items.len(),
        fx.plan["plan"]["items"].as_array().unwrap().len()
    );

    // Run selection: by id, and by start date (a saved plan: no AWS call).
    let run_id = doc["runs"][0]["run_id"].as_str().unwrap();
    let plan = fx.plan_file.to_str().unwrap();
    for (flags, runs) in [
        (vec!["--run", run_id], 1),
        (vec!["--since", "2000-01-01"], 1),
        (vec!["--since", "2999-01-01T00:00:00Z"], 0),
    ] {
        let mut args = vec!["report", "--plan", plan, "--format", "json"];
        args.extend(flags.iter().copied());
        let out = fx.acct.run(&args);
        ok(&out, "report with a run selection");
        let d: Value = serde_json::from_str(&out.stdout).unwrap();
        assert_eq!(d["runs"].as_array().unwrap().len(), runs, "{flags:?}");
        assert_eq!(d["with_runs"], runs > 0, "{flags:?}");
    }

    // A live plan made now, after the apply, scores the same as the saved plan + journal.
    let live = fx.acct.run(&[
        "report",
        "--regions",
        REGION,
        "--all-runs",
        "--format",
        "json",
    ]);
    ok(&live, "live report");
    let live: Value = serde_json::from_str(&live.stdout).unwrap();
    assert_eq!(live["plan_source"], "live");
    for (a, b) in sections.iter().zip(live["sections"].as_array().unwrap()) {
        assert_eq!(a["section"], b["section"]);
        assert_eq!(a["now"], b["now"], "section {} now", a["section"]);
        assert_eq!(
            a["before"]["failing"], b["before"]["failing"],
            "section {} before",
            a["section"]
        );
    }
}

#[tokio::test]
async fn bad_report_flags_fail_before_any_aws_call() {
    let acct = TestAccount::new().await;
    acct.run(&["report", "--since", "yesterday"])
        .assert_one_line_error(1, "--since 'yesterday' is not a date");
    acct.run(&["report", "--run", "nope", "--all-runs"])
        .assert_one_line_error(1, "cannot be used with");
    acct.run(&["report", "-o", "x.pdf"])
        .assert_one_line_error(1, "cannot tell the report format");
    acct.run(&["report", "--run", "nope"])
        .assert_one_line_error(1, "no run 'nope'");
    acct.run(&["report", "--plan", "/nonexistent/plan.json", "-c", "1.7"])
        .assert_one_line_error(1, "a saved plan keeps the selection");
}

/// Issue 17: editing one byte of a journal entry makes `history --verify` name that entry; an
/// intact journal verifies. (Failing first: `--verify` did not exist.)
#[tokio::test]
async fn history_verify_names_the_edited_entry_and_passes_an_intact_journal() {
    let acct = TestAccount::new().await;
    let out = acct.run(&["apply", "-c", "1.7", "--yes"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let ok = acct.run(&["history", "--verify"]);
    assert_eq!(ok.code, 0, "{}\n{}", ok.stdout, ok.stderr);
    assert!(
        ok.stdout.contains("entries verified; chain head"),
        "{}",
        ok.stdout
    );

    let runs = acct.state_dir().join("runs");
    let file = std::fs::read_dir(&runs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .expect("a run file");
    let text = std::fs::read_to_string(&file).unwrap();
    // One byte of the second entry (the change's intent): 14 becomes 15 in its planned state.
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let want = "\"MinimumPasswordLength\":14";
    assert!(lines[1].contains(want), "{}", lines[1]);
    lines[1] = lines[1].replacen(want, "\"MinimumPasswordLength\":15", 1);
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();

    let bad = acct.run(&["history", "--verify"]);
    assert_eq!(bad.code, 3, "{}\n{}", bad.stdout, bad.stderr);
    assert!(
        bad.stdout.contains("entry at line 2 no longer matches"),
        "{}",
        bad.stdout
    );
}
