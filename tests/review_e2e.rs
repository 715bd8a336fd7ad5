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
