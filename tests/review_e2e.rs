//! End to end in a real headless Chromium (Debian's chromium driven by
//! chromedriver over WebDriver): a reviewer signs in to the review page,
//! opens the flagged call, plays the recording from the flagged moment
//! (the media element must be playing from there), sees the evidence
//! highlighted in the transcript, dismisses the flag with a comment, and
//! sees the agent's violations and QA score change in the report tab and
//! the report API. A screenshot of the page is left in
//! target/tmp/review-page.png. Fails, never skips, without a browser.

mod support;

use callqa::domain::{FlagId, Role};
use serde_json::json;
use support::webdriver::Browser;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviewer_plays_the_flag_dismisses_it_and_the_report_changes() {
    let w = world().await;
    // The same data as the API tests: A1's call and chats, A2's chats.
    let p = pipeline(&w.store);
    run_chat(&p, chat_job("c-a1-1", "A1", "T1", 3, true, "k1", Some(5.0))).await;
    run_chat(&p, chat_job("c-a1-2", "A1", "T1", 4, false, "k2", None)).await;
    run_chat(&p, chat_job("c-a2-1", "A2", "T1", 5, true, "k3", Some(4.0))).await;
    let call = call_result(
        &en_pack(),
        "call-1",
        ("A1", "T1"),
        CALL_TURNS,
        &w.recording,
        "2026-11-07T09:00:00+08:00",
        "k9",
    );
    save(&w.store, &call).await;
    let buck = call
        .flags
        .iter()
        .position(|f| f.id == FlagId::ForbiddenPhrase)
        .expect("the call has a buck-passing flag");
    let ev = &call.flags[buck].evidence[0];
    let start = ev.start;
    assert!(start > 5.0, "the flag is well into the call ({start} s)");
    let [h0, h1] = ev.highlight.expect("the evidence has a highlight");
    let turn = ev.turn.expect("the evidence is a turn");
    let marked: String = call.turns[turn]
        .text
        .chars()
        .skip(h0)
        .take(h1 - h0)
        .collect();

    let token = user(&w.store, "qa", Role::Reviewer, None).await;
    let api = Client::new(&w.addr, Some(&token));
    let rep = api.get("/api/reports?period=2026-11").await.json();
    let a1 = rep["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent_id"] == "A1")
        .unwrap();
    let v_before = a1["kpis"]["violations"].as_u64().unwrap();
    let s_before = a1["kpis"]["avg_score"].as_f64().unwrap();

    let b = Browser::start().await;
    b.goto(&format!("http://{}/", w.addr)).await;
    b.type_into("#token", &token).await;
    b.click("#login-btn").await;
    b.wait_for(
        "the flagged call in the queue",
        "return !!document.querySelector('#queue li[data-job=\"call-1\"]')",
        json!([]),
    )
    .await;
    // Critical and major conversations come first.
    let first = b
        .js(
            "return document.querySelector('#queue li').dataset.job",
            json!([]),
        )
        .await;
    assert_eq!(
        first, "call-1",
        "the call (major) is listed before minor-only chats"
    );

    // The report tab, before.
    b.click("#tab-report").await;
    b.js(
        "document.getElementById('report-period').value = '2026-11'",
        json!([]),
    )
    .await;
    b.click("#report-load").await;
    let cells = b
        .wait_for(
            "A1's row in the report",
            "const r = document.querySelector('#report-table tr[data-agent=\"A1\"]'); return r && [r.querySelector('.violations').textContent, r.querySelector('.score').textContent];",
            json!([]),
        )
        .await;
    assert_eq!(cells[0], v_before.to_string(), "page and API agree");
    assert_eq!(cells[1], format!("{s_before:.1}"));

    // Open the call: audio player with a signed link, transcript.
    b.click("#tab-queue").await;
    b.click("#queue li[data-job=\"call-1\"]").await;
    b.wait_for(
        "the recording's metadata",
        "const a = document.getElementById('player'); return !!a && a.src.includes('/audio?exp=') && a.readyState >= 1 && a.duration > 19;",
        json!([]),
    )
    .await;
    // The evidence is highlighted in its turn.
    let mark = b
        .js(
            "const m = document.querySelector(`.turn[data-turn=\"${arguments[0]}\"] mark`); return m && m.textContent;",
            json!([turn]),
        )
        .await;
    assert_eq!(mark, marked.as_str());

    // Play from the flag.
    b.click(&format!("button.play[data-idx=\"{buck}\"]")).await;
    let state = b
        .wait_for(
            "playback from the flagged moment",
            "const a = document.getElementById('player'); return a.played.length > 0 && a.currentTime > arguments[0] + 0.2 && [a.currentTime, a.paused, a.played.start(0)];",
            json!([start]),
        )
        .await;
    let (now, paused, played_from) = (
        state[0].as_f64().unwrap(),
        state[1].as_bool().unwrap(),
        state[2].as_f64().unwrap(),
    );
    assert!(
        (played_from - start).abs() < 0.25,
        "played from {played_from}, flag at {start}"
    );
    assert!(
        now >= start && now < start + 5.0,
        "currentTime {now}, flag at {start}"
    );
    assert!(!paused, "the recording is playing");

    let png = b.screenshot().await;
    assert_eq!(&png[1..4], b"PNG");
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("review-page.png");
    std::fs::write(&shot, &png).unwrap();
    eprintln!("screenshot: {}", shot.display());

    // Dismiss the flag with a comment.
    b.js("document.getElementById('player').pause()", json!([]))
        .await;
    b.type_into(
        &format!("textarea.comment[data-idx=\"{buck}\"]"),
        "Quoting the refund policy, not passing the buck",
    )
    .await;
    b.click(&format!("button.dismiss[data-idx=\"{buck}\"]"))
        .await;
    b.wait_for(
        "the flag marked dismissed",
        "const s = document.querySelector(`.flag-status[data-idx=\"${arguments[0]}\"]`); return !!s && s.textContent.includes('Dismissed');",
        json!([buck]),
    )
    .await;

    // The report tab, after: one violation fewer, a higher QA score.
    b.click("#tab-report").await;
    let after = b
        .wait_for(
            "the report to drop the dismissed flag",
            "const r = document.querySelector('#report-table tr[data-agent=\"A1\"]'); return r && r.querySelector('.violations').textContent === arguments[0] && [r.querySelector('.violations').textContent, r.querySelector('.score').textContent, document.getElementById('report-meta').textContent];",
            json!([(v_before - 1).to_string()]),
        )
        .await;
    let s_after: f64 = after[1].as_str().unwrap().parse().unwrap();
    assert!(s_after > s_before, "QA score {s_before} → {s_after}");
    assert!(
        after[2].as_str().unwrap().contains("1 dismissed"),
        "{}",
        after[2]
    );

    // The API agrees, and the decision is stored with its reviewer.
    let rep = api.get("/api/reports?period=2026-11").await.json();
    let a1 = rep["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent_id"] == "A1")
        .unwrap();
    assert_eq!(a1["kpis"]["violations"].as_u64().unwrap(), v_before - 1);
    let reviews = w.store.reviews_of("call-1").await.unwrap();
    assert_eq!(reviews.len(), 1);
    assert_eq!((reviews[0].idx, reviews[0].reviewer.as_str()), (buck, "qa"));

    // The page speaks Chinese too.
    b.js(
        "const l = document.getElementById('lang'); l.value = 'zh'; l.dispatchEvent(new Event('change'));",
        json!([]),
    )
    .await;
    let tab = b
        .js(
            "return document.getElementById('tab-report').textContent",
            json!([]),
        )
        .await;
    assert_eq!(tab, "考核报告");

    b.quit().await;
    w.stop().await;
}

/// Where a view is drawn: top and height of its box in the viewport.
const BOX: &str = "const r = document.getElementById(arguments[0]).getBoundingClientRect(); return [r.top, r.height, window.innerHeight];";

/// The review desk in the browser: every tab's content is drawn in the
/// viewport when selected (positions, not only `hidden`: a grid rule once
/// pushed the other tabs 2,200 px down), reports open on the month that
/// has contacts, a reviewer finds a contact by a Chinese phrase and by a
/// rule filter, cannot overturn a supervisor's ruling, and the Chinese UI
/// names flags, severities and speakers in Chinese. Screenshots of the
/// search and the report are left in target/tmp.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviewer_searches_tabs_are_visible_and_rulings_hold() {
    let w = world().await;
    let p = pipeline(&w.store);
    run_chat(&p, chat_job("c-a1-1", "A1", "T1", 3, true, "k1", Some(5.0))).await;
    run_chat(&p, chat_job("c-a1-2", "A1", "T1", 4, false, "k2", None)).await;
    let zh = std::fs::read_to_string(repo().join("samples/chats/zh-02-buck-passing.json")).unwrap();
    let zh = run_chat(&p, zh).await;
    let call = call_result(
        &en_pack(),
        "call-1",
        ("A1", "T1"),
        CALL_TURNS,
        &w.recording,
        "2026-11-07T09:00:00+08:00",
        "k9",
    );
    save(&w.store, &call).await;
    let greet = call
        .flags
        .iter()
        .position(|f| f.id == FlagId::GreetingMissing)
        .expect("the call lacks a greeting");
    // The agent disputes the greeting flag; the supervisor rejects it.
    let agent = Client::new(
        &w.addr,
        Some(&user(&w.store, "li", Role::Agent, Some("A1")).await),
    );
    let sup = Client::new(
        &w.addr,
        Some(&user(&w.store, "boss", Role::Supervisor, None).await),
    );
    let base = format!("/api/results/call-1/flags/{greet}/dispute");
    assert_eq!(
        agent
            .send("POST", &base, &json!({"reason": "I greeted first"}))
            .await
            .status,
        201
    );
    let r = sup
        .send(
            "POST",
            &format!("{base}/decision"),
            &json!({"outcome": "rejected", "comment": "no greeting on the recording"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Who has a buck-passing rule flag, from the store itself.
    let mut want_rule: Vec<String> = Vec::new();
    for id in ["c-a1-1", "c-a1-2", zh.job_id.as_str(), "call-1"] {
        let r = w.store.get_result(id).await.unwrap().unwrap();
        if r.flags.iter().any(|f| f.rule == "buck_passing") {
            want_rule.push(id.to_owned());
        }
    }
    want_rule.sort();
    assert!(want_rule.contains(&"call-1".to_owned()), "{want_rule:?}");

    // qa-li is a reviewer of the shipped monthly plan; drawing it for
    // November gives her tasks.
    let token = user(&w.store, "qa-li", Role::Reviewer, None).await;
    let run = sup
        .send(
            "POST",
            "/api/sampling/run",
            &json!({"plan": "monthly", "period": "2026-11"}),
        )
        .await;
    assert_eq!(run.status, 201, "{}", run.text());
    let mut mine: Vec<String> = Client::new(&w.addr, Some(&token))
        .get("/api/tasks")
        .await
        .json()["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["job_id"].as_str().unwrap().to_owned())
        .collect();
    mine.sort();
    assert!(!mine.is_empty());
    let b = Browser::start().await;
    b.goto(&format!("http://{}/", w.addr)).await;
    b.type_into("#token", &token).await;
    b.click("#login-btn").await;
    b.wait_for(
        "the queue",
        "return !!document.querySelector('#queue li[data-job=\"call-1\"]')",
        json!([]),
    )
    .await;

    // Each tab: its view is in the viewport, near the top, and the others
    // take no room.
    for tab in [
        "search",
        "tasks",
        "disputes",
        "report",
        "calibration",
        "queue",
    ] {
        b.click(&format!("#tab-{tab}")).await;
        let bx = b.js(BOX, json!([format!("view-{tab}")])).await;
        let (top, height, vh) = (
            bx[0].as_f64().unwrap(),
            bx[1].as_f64().unwrap(),
            bx[2].as_f64().unwrap(),
        );
        assert!(
            (0.0..120.0).contains(&top) && height > 0.0 && top < vh,
            "{tab}: view at {top} px, {height} px high (viewport {vh})"
        );
        for other in [
            "queue",
            "search",
            "tasks",
            "disputes",
            "report",
            "calibration",
        ] {
            if other != tab {
                let o = b.js(BOX, json!([format!("view-{other}")])).await;
                assert_eq!(o[1].as_f64().unwrap(), 0.0, "{other} drawn under {tab}");
            }
        }
    }

    // My tasks: the plan's contacts for qa-li, with due dates and progress.
    b.click("#tab-tasks").await;
    let rows = b
        .wait_for(
            "my tasks",
            "const r = [...document.querySelectorAll('#tasks-table tr[data-job]')]; return r.length && [r.map(x => x.dataset.job).sort(), r[0].querySelector('.due').textContent, document.getElementById('tasks-progress').textContent];",
            json!([]),
        )
        .await;
    assert_eq!(rows[0], json!(mine));
    assert!(rows[1].as_str().unwrap().starts_with("20"), "{rows}");
    assert!(
        rows[2].as_str().unwrap().contains("monthly 2026-11: 0 of"),
        "{rows}"
    );
    std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("review-tasks.png"),
        b.screenshot().await,
    )
    .unwrap();

    // The report opens on November 2026, the month with contacts.
    b.click("#tab-report").await;
    let meta = b
        .wait_for(
            "the report's summary",
            "return document.getElementById('report-period').value === '2026-11' && document.getElementById('report-meta').textContent;",
            json!([]),
        )
        .await;
    assert!(meta.as_str().unwrap().contains(" · 4 Contacts"), "{meta}");
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::write(shot.join("review-report.png"), b.screenshot().await).unwrap();

    // Search by a Chinese phrase: only the Chinese chat, with its snippet.
    b.click("#tab-search").await;
    b.type_into("#search-q", "杯子碎了").await;
    b.click("#search-go").await;
    let found = b
        .wait_for(
            "search results",
            "const l = [...document.querySelectorAll('#search-results li')]; return l.length && document.getElementById('search-total').textContent && l.map(x => [x.dataset.job, (x.querySelector('.snippet') || {}).textContent]);",
            json!([]),
        )
        .await;
    assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found[0][0], zh.job_id.as_str());
    assert!(
        found[0][1].as_str().unwrap().contains("杯子碎了"),
        "{found}"
    );
    std::fs::write(shot.join("review-search.png"), b.screenshot().await).unwrap();

    // Search by rule: exactly the contacts with a buck-passing flag.
    b.js("document.getElementById('search-q').value = ''; document.getElementById('search-results').replaceChildren();", json!([])).await;
    b.type_into("#search-rule", "buck_passing").await;
    b.click("#search-go").await;
    let ids = b
        .wait_for(
            "rule results",
            "const l = [...document.querySelectorAll('#search-results li')]; return l.length && l.map(x => x.dataset.job).sort();",
            json!([]),
        )
        .await;
    assert_eq!(ids, json!(want_rule));

    // A result opens in the queue view; the reviewer tries to dismiss the
    // flag the supervisor ruled on, and is refused.
    b.click("#search-results li[data-job=\"call-1\"]").await;
    b.wait_for(
        "the call's flags",
        "return !!document.querySelector(`textarea.comment[data-idx=\"${arguments[0]}\"]`)",
        json!([greet]),
    )
    .await;
    b.type_into(
        &format!("textarea.comment[data-idx=\"{greet}\"]"),
        "sounds fine to me",
    )
    .await;
    b.click(&format!("button.dismiss[data-idx=\"{greet}\"]"))
        .await;
    let msg = b
        .wait_for(
            "the refusal",
            "const t = document.getElementById('toast').textContent; return t.includes('supervisor') && t;",
            json!([]),
        )
        .await;
    assert!(
        msg.as_str().unwrap().contains("only a supervisor or admin"),
        "{msg}"
    );
    let v = w.store.reviews_of("call-1").await.unwrap();
    let v = v.iter().find(|v| v.idx == greet).unwrap();
    assert_eq!(v.reviewer, "boss", "the ruling stands");

    // A calibration session: qa-li judges on the page, qa-wang over the
    // API; once closed, the page shows agreement and what to discuss.
    let r = sup
        .send(
            "POST",
            "/api/calibration/sessions",
            &json!({"name": "Greeting check", "jobs": ["call-1", "c-a1-2"]}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let sid = r.json()["id"].as_str().unwrap().to_owned();
    b.click("#tab-calibration").await;
    b.type_into("#ses-id", &sid).await;
    b.click("#ses-load").await;
    b.wait_for(
        "the open session",
        "return !document.getElementById('ses-entry').hidden && document.querySelectorAll('#ses-job option').length === 2",
        json!([]),
    )
    .await;
    b.type_into("#ses-rule", "greeting").await;
    for (job, verdict) in [("call-1", "#ses-yes"), ("c-a1-2", "#ses-no")] {
        b.js(
            "document.getElementById('ses-job').value = arguments[0]",
            json!([job]),
        )
        .await;
        b.click(verdict).await;
        b.wait_for(
            "the verdict listed",
            "return [...document.querySelectorAll('#ses-table td')].some(td => td.textContent === arguments[0])",
            json!([job]),
        )
        .await;
    }
    let wang = Client::new(
        &w.addr,
        Some(&user(&w.store, "qa-wang", Role::Reviewer, None).await),
    );
    for job in ["call-1", "c-a1-2"] {
        let r = wang
            .send(
                "PUT",
                &format!("/api/calibration/sessions/{sid}/verdicts"),
                &json!({"job_id": job, "rule": "greeting", "violated": true}),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.text());
    }
    let r = sup
        .send(
            "POST",
            &format!("/api/calibration/sessions/{sid}/close"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 204);
    b.click("#ses-load").await;
    let cells = b
        .wait_for(
            "the session's figures",
            "const r = document.querySelector('#ses-table tr[data-rule=\"greeting\"]'); return r && [r.querySelector('.between').textContent, r.querySelector('.withm').textContent, r.querySelector('.disagree').textContent];",
            json!([]),
        )
        .await;
    // Reviewers agree on 1 of 2 (κ 0); with the machine (which flagged
    // both) 3 of 4, κ 0 again; c-a1-2 is the one to discuss.
    assert_eq!(cells[0], "50.0% (1/2) · κ 0.00");
    assert_eq!(cells[1], "75.0% (3/4) · κ 0.00");
    assert!(cells[2].as_str().unwrap().starts_with("c-a1-2"), "{cells}");
    std::fs::write(
        std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("review-calibration.png"),
        b.screenshot().await,
    )
    .unwrap();

    // In Chinese: flag names, severities, speakers and dispute states.
    b.js(
        "const l = document.getElementById('lang'); l.value = 'zh'; l.dispatchEvent(new Event('change'));",
        json!([]),
    )
    .await;
    let zh_ui = b
        .wait_for(
            "the Chinese labels",
            "const f = document.querySelector(`.flag[data-idx=\"${arguments[0]}\"]`); const q = document.querySelector('#queue li[data-job=\"call-1\"]'); return f && q && f.querySelector('.flag-name').textContent === '未使用标准开场白' && [f.querySelector('.flag-status').textContent, q.textContent, document.querySelector('.turn .who-agent').textContent];",
            json!([greet]),
        )
        .await;
    assert!(zh_ui[0].as_str().unwrap().contains("申诉不成立"), "{zh_ui}");
    assert!(zh_ui[1].as_str().unwrap().contains("服务禁语"), "{zh_ui}");
    assert_eq!(zh_ui[2], "坐席");
    b.quit().await;
    w.stop().await;
}

/// Issue 10: the review page never shows personal data in clear. The
/// sample chats in which a card number and e-mail addresses are read out
/// go through the real pipeline; the reviewer opens each in Chromium; the
/// whole DOM (text, attributes, scripts' output) holds none of the raw
/// values, while the masked forms and the PII flag are there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_never_shows_personal_data_in_clear() {
    let w = world().await;
    let p = pipeline(&w.store);
    let raw = [
        "6222 0212 3456 7894",
        "6222021234567894",
        "4111 1111 1111 1111",
        "4111111111111111",
        "jane.doe@example.com",
        "jane.d@example.org",
    ];
    for (file, job) in [
        ("samples/chats/zh-04-pii-card.json", "chat-zh-04"),
        ("samples/chats/en-04-pii.json", "chat-en-04"),
    ] {
        let json = std::fs::read_to_string(file).unwrap();
        assert!(
            raw.iter().any(|r| json.contains(r)),
            "{file} holds the data"
        );
        let r = run_chat(&p, json).await;
        assert_eq!(r.job_id, job);
        assert!(
            r.flags.iter().any(|f| f.id == FlagId::PiiExposure),
            "{job}: the agent's disclosure is flagged"
        );
    }
    let token = user(&w.store, "qa", Role::Reviewer, None).await;
    let b = Browser::start().await;
    b.goto(&format!("http://{}/", w.addr)).await;
    b.type_into("#token", &token).await;
    b.click("#login-btn").await;
    for (job, masked) in [("chat-zh-04", "7894"), ("chat-en-04", "@example.com")] {
        let item = format!("#queue li[data-job=\"{job}\"]");
        b.wait_for(
            "the chat in the queue",
            "return !!document.querySelector(arguments[0])",
            json!([item]),
        )
        .await;
        b.click(&item).await;
        b.wait_for(
            "its transcript and flags",
            "return document.querySelectorAll('.turn').length > 3 && !!document.querySelector('.flag') && document.getElementById('detail').textContent.includes(arguments[0])",
            json!([job]),
        )
        .await;
        let html = b
            .js("return document.documentElement.outerHTML", json!([]))
            .await;
        let html = html.as_str().unwrap();
        for r in raw {
            assert!(!html.contains(r), "{job}: {r} in the page");
        }
        let text = b.js("return document.body.innerText", json!([])).await;
        let text = text.as_str().unwrap();
        assert!(text.contains(masked), "{job}: the masked form is shown");
        assert!(text.contains("****"), "{job}: the mask is shown");
    }
    b.quit().await;
    w.stop().await;
}
