//! The review server over real HTTP: the router on port 0 with a temporary
//! SQLite database, results seeded through the real pipeline (chats) and
//! the real analysers and scorecard (a call with a WAV recording), users
//! with real tokens. Checks access rules (an agent never sees another
//! agent's conversations), range-served audio through signed links,
//! reviews and disputes feeding reports and calibration, input checks,
//! user and rule-pack administration.

mod support;

use callqa::domain::{FlagId, Role};
use callqa::store::Store;
use callqa::wire::ResultWire;
use serde_json::{json, Value};
use support::*;

/// Two agents in team T1: A1 has two chats (one rude) and the call; A2
/// has two polite chats. Returns the call result.
async fn seed(store: &Store, recording: &std::path::Path) -> ResultWire {
    let p = pipeline(store);
    run_chat(&p, chat_job("c-a1-1", "A1", "T1", 3, true, "k1", Some(5.0))).await;
    let rude = run_chat(&p, chat_job("c-a1-2", "A1", "T1", 4, false, "k2", None)).await;
    assert!(
        rude.flags.iter().any(|f| f.id == FlagId::GreetingMissing),
        "the rude chat lacks a greeting"
    );
    run_chat(&p, chat_job("c-a2-1", "A2", "T1", 5, true, "k3", Some(4.0))).await;
    run_chat(&p, chat_job("c-a2-2", "A2", "T1", 6, true, "k1", None)).await;
    let call = call_result(
        &en_pack(),
        "call-1",
        ("A1", "T1"),
        CALL_TURNS,
        recording,
        "2026-11-07T09:00:00+08:00",
        "k9",
    );
    save(store, &call).await;
    call
}

fn flag_idx(r: &ResultWire, id: FlagId) -> usize {
    r.flags
        .iter()
        .position(|f| f.id == id)
        .unwrap_or_else(|| panic!("{} has no {id} flag: {:?}", r.job_id, r.flags))
}

fn agent_row<'a>(report: &'a Value, agent: &str) -> &'a Value {
    report["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["agent_id"] == agent)
        .unwrap_or_else(|| panic!("no {agent} in {report}"))
}

async fn report(c: &Client) -> Value {
    let r = c.get("/api/reports?period=2026-11").await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_requests_see_no_data() {
    let w = world().await;
    seed(&w.store, &w.recording).await;
    let anon = Client::new(&w.addr, None);
    let page = anon.get("/").await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("/assets/review.js"));
    assert!(
        !page.text().contains("refund"),
        "the page shell carries no data"
    );
    let csp = page.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert_eq!(anon.get("/assets/review.js").await.status, 200);
    for path in [
        "/api/me",
        "/api/results",
        "/api/results/call-1",
        "/api/results/call-1/audio",
        "/api/results/call-1/media-link",
        "/api/flags",
        "/api/reports?period=2026-11",
        "/api/calibration",
        "/api/calibration/sessions",
        "/api/users",
    ] {
        let r = anon.get(path).await;
        assert_eq!(r.status, 401, "{path}: {}", r.text());
        assert_eq!(r.header("www-authenticate"), Some("Bearer"), "{path}");
        assert!(!r.text().contains("refund"), "{path}");
    }
    let r = anon
        .send(
            "POST",
            "/api/packs/en/backtest",
            &json!({"rules": "", "scorecard": "", "period": "2026-11"}),
        )
        .await;
    assert_eq!(r.status, 401, "{}", r.text());
    // A well-formed but unknown token, and junk.
    let fake = format!("cqa_{}", "0".repeat(64));
    for t in [fake.as_str(), "cqa_short", "'; DROP TABLE users; --"] {
        let r = Client::new(&w.addr, Some(t)).get("/api/results").await;
        assert_eq!(r.status, 401, "{t}");
    }
    // A disabled user's token stops working.
    let tok = user(&w.store, "temp", Role::Reviewer, None).await;
    assert_eq!(
        Client::new(&w.addr, Some(&tok)).get("/api/me").await.status,
        200
    );
    assert!(w.store.disable_user("temp").await.unwrap());
    assert_eq!(
        Client::new(&w.addr, Some(&tok)).get("/api/me").await.status,
        401
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_cannot_read_another_agents_results() {
    let w = world().await;
    let call = seed(&w.store, &w.recording).await;
    let a1 = Client::new(
        &w.addr,
        Some(&user(&w.store, "li", Role::Agent, Some("A1")).await),
    );
    let a2 = Client::new(
        &w.addr,
        Some(&user(&w.store, "wang", Role::Agent, Some("A2")).await),
    );

    // A1 reads their own call, transcript included.
    let own = a1.get("/api/results/call-1").await;
    assert_eq!(own.status, 200);
    assert!(own.text().contains("I want a refund"));

    // A2 gets "not found" for A1's call — not even its existence — and
    // nothing of its transcript, recording or flags.
    for path in [
        "/api/results/call-1",
        "/api/results/call-1/audio",
        "/api/results/call-1/media-link",
        "/api/results/c-a1-1",
    ] {
        let r = a2.get(path).await;
        assert_eq!(r.status, 404, "{path}: {}", r.text());
        assert!(
            !r.text().contains("refund") && !r.text().contains("parcel"),
            "{path}"
        );
    }
    let r = a2.get("/api/results?agent=A1").await;
    assert_eq!(r.status, 403, "{}", r.text());
    let list = a2.get("/api/results").await.json();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["job_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{list}");
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|r| r["agent_id"] == "A2"),
        "{list}"
    );
    let queue = a2.get("/api/flags?status=all").await.json();
    assert!(
        queue
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["agent_id"] == "A2"),
        "{queue}"
    );
    assert_eq!(a2.get("/api/flags?agent=A1").await.status, 403);
    // A2 cannot dispute A1's flag either.
    let r = a2
        .send(
            "POST",
            "/api/results/call-1/flags/0/dispute",
            &json!({"reason": "not me"}),
        )
        .await;
    assert_eq!(r.status, 404, "{}", r.text());
    // The report gives an agent their own row only, and no other agent's
    // coaching evidence.
    let rep = report(&a2).await;
    let agents: Vec<&str> = rep["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["agent_id"].as_str().unwrap())
        .collect();
    assert_eq!(agents, ["A2"]);
    assert!(
        !rep.to_string().contains("not my department"),
        "A1's evidence leaked"
    );
    assert_eq!(
        a2.get("/api/reports?period=2026-11&agent=A1").await.status,
        403
    );
    let agents = a2.get("/api/agents").await.json();
    assert_eq!(agents.as_array().unwrap().len(), 1);
    assert_eq!(agents[0]["agent_id"], "A2");
    // Calibration is for reviewers.
    assert_eq!(a2.get("/api/calibration").await.status, 403);
    assert_eq!(call.agent_id, "A1");
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_is_served_with_ranges_through_signed_links() {
    let w = world().await;
    seed(&w.store, &w.recording).await;
    let rev = Client::new(
        &w.addr,
        Some(&user(&w.store, "qa", Role::Reviewer, None).await),
    );
    let anon = Client::new(&w.addr, None);
    let wav = std::fs::read(&w.recording).unwrap();
    let len = wav.len();

    let link = rev.get("/api/results/call-1/media-link").await;
    assert_eq!(link.status, 200, "{}", link.text());
    let url = link.json()["url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("/api/results/call-1/audio?exp="), "{url}");

    // The link alone opens the recording (the <audio> element sends no
    // header), in ranges.
    let r = anon.get_with(&url, &[("Range", "bytes=0-99")]).await;
    assert_eq!(r.status, 206);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes 0-99/{len}").as_str())
    );
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(r.header("content-type"), Some("audio/wav"));
    assert_eq!(r.body, wav[..100]);
    let r = anon.get_with(&url, &[("Range", "bytes=-44")]).await;
    assert_eq!((r.status, r.body.as_slice()), (206, &wav[len - 44..]));
    let mid = 16_000 * 2 * 7 + 44; // 7 s into the call
    let r = anon
        .get_with(&url, &[("Range", &format!("bytes={mid}-{}", mid + 9))])
        .await;
    assert_eq!((r.status, r.body.as_slice()), (206, &wav[mid..mid + 10]));
    let r = anon
        .get_with(&url, &[("Range", &format!("bytes={len}-"))])
        .await;
    assert_eq!(r.status, 416);
    assert_eq!(
        r.header("content-range"),
        Some(format!("bytes */{len}").as_str())
    );
    let r = anon.get(&url).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), len);

    // A bearer token works too; a tampered or foreign link does not.
    let r = rev
        .get_with("/api/results/call-1/audio", &[("Range", "bytes=0-3")])
        .await;
    assert_eq!((r.status, r.body.as_slice()), (206, &b"RIFF"[..]));
    let tampered = url
        .replace("sig=", "sig=0")
        .chars()
        .take(url.len())
        .collect::<String>();
    assert_eq!(anon.get(&tampered).await.status, 403);
    let other = url.replace("/call-1/", "/c-a1-1/");
    assert_eq!(
        anon.get(&other).await.status,
        403,
        "a link opens only its job"
    );
    let later = {
        let exp: i64 = url
            .split("exp=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        url.replace(&format!("exp={exp}"), &format!("exp={}", exp + 1000))
    };
    assert_eq!(anon.get(&later).await.status, 403, "the expiry is signed");
    let no_sig = url.split("&sig=").next().unwrap().to_owned();
    assert_eq!(anon.get(&no_sig).await.status, 400);

    // Chats have no recording.
    assert_eq!(rev.get("/api/results/c-a1-1/media-link").await.status, 404);
    // A stored path outside the recording roots is never opened.
    let mut stray = call_result(
        &en_pack(),
        "call-stray",
        ("A1", "T1"),
        CALL_TURNS,
        std::path::Path::new("/etc/hostname"),
        "2026-11-08T09:00:00+08:00",
        "k8",
    );
    stray.recording = Some("/etc/hostname".into());
    save(&w.store, &stray).await;
    let r = rev.get("/api/results/call-stray/audio").await;
    assert_eq!(r.status, 404, "{}", r.text());
    assert!(
        r.text().contains("outside the recording roots"),
        "{}",
        r.text()
    );
    // The link names its user, and the server checks them at every use: a
    // user disabled since loses the link at once, not at its expiry.
    assert!(url.contains("&u=qa&"), "{url}");
    let forged = url.replace("&u=qa&", "&u=boss&");
    assert_eq!(anon.get(&forged).await.status, 403, "the user is signed");
    assert_eq!(anon.get(&url).await.status, 200);
    assert!(w.store.disable_user("qa").await.unwrap());
    assert_eq!(anon.get(&url).await.status, 403, "a disabled user's link");
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reviews_and_disputes_feed_reports_and_calibration() {
    let w = world().await;
    let call = seed(&w.store, &w.recording).await;
    let rev = Client::new(
        &w.addr,
        Some(&user(&w.store, "qa", Role::Reviewer, None).await),
    );
    let sup = Client::new(
        &w.addr,
        Some(&user(&w.store, "boss", Role::Supervisor, None).await),
    );
    let a1 = Client::new(
        &w.addr,
        Some(&user(&w.store, "li", Role::Agent, Some("A1")).await),
    );

    // The queue: flagged conversations, most severe first.
    let queue = rev.get("/api/flags?status=all").await.json();
    let rank = |s: &str| {
        ["info", "minor", "major", "critical"]
            .iter()
            .position(|x| *x == s)
            .unwrap()
    };
    let sev: Vec<usize> = queue
        .as_array()
        .unwrap()
        .iter()
        .map(|i| rank(i["max_severity"].as_str().unwrap()))
        .collect();
    assert!(sev.windows(2).all(|w| w[0] >= w[1]), "{queue}");
    assert!(queue
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["job_id"] == "call-1"));

    let before = report(&rev).await;
    let a1_before = agent_row(&before, "A1").clone();
    let v0 = a1_before["kpis"]["violations"].as_u64().unwrap();
    assert_eq!(before["dismissed_flags"], 0);

    // Dismissing needs a comment.
    let buck = flag_idx(&call, FlagId::ForbiddenPhrase);
    let path = format!("/api/results/call-1/flags/{buck}/review");
    let r = rev
        .send("POST", &path, &json!({"decision": "dismissed"}))
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("comment"));
    let r = rev
        .send("POST", &path, &json!({"decision": "dismissed", "comment": "quoting the policy, not passing the buck"}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["review"]["decision"], "dismissed");
    assert_eq!(r.json()["review"]["reviewer"], "qa");

    // The report leaves the flag out: one violation fewer, and the call
    // rescored by the scorecard without it.
    let after = report(&rev).await;
    let a1_after = agent_row(&after, "A1");
    assert_eq!(a1_after["kpis"]["violations"].as_u64().unwrap(), v0 - 1);
    assert_eq!(after["dismissed_flags"], 1);
    let remaining: Vec<callqa::domain::Flag> = call
        .flags
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != buck)
        .map(|(_, f)| callqa::domain::Flag {
            id: f.id,
            rule: callqa::domain::RuleId::new(f.rule.clone()),
            severity: f.severity,
            message: String::new(),
            evidence: Vec::new(),
        })
        .collect();
    let new_call_score = en_pack().scorecard.apply(&remaining).score;
    assert!(
        new_call_score > call.score,
        "{new_call_score} vs {}",
        call.score
    );
    let old_avg = a1_before["kpis"]["avg_score"].as_f64().unwrap();
    let new_avg = a1_after["kpis"]["avg_score"].as_f64().unwrap();
    let want = old_avg + (new_call_score - call.score) / 3.0;
    assert!((new_avg - want).abs() < 0.01, "avg {new_avg}, want {want}");
    // The pending queue no longer lists that flag as pending.
    let pending = rev.get("/api/flags?status=dismissed").await.json();
    assert_eq!(pending.as_array().unwrap().len(), 1, "{pending}");

    // A1 disputes the greeting flag of the call; a second dispute is
    // refused; reviewers can neither dispute nor decide.
    let greet = flag_idx(&call, FlagId::GreetingMissing);
    let dpath = format!("/api/results/call-1/flags/{greet}/dispute");
    let r = a1
        .send(
            "POST",
            &dpath,
            &json!({"reason": "I said hello before the recording started"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["dispute"]["status"], "open");
    assert_eq!(
        a1.send("POST", &dpath, &json!({"reason": "again"}))
            .await
            .status,
        409
    );
    assert_eq!(
        rev.send("POST", &dpath, &json!({"reason": "x"}))
            .await
            .status,
        403
    );
    // A dismissed flag cannot be disputed.
    let r = a1
        .send(
            "POST",
            &format!("/api/results/call-1/flags/{buck}/dispute"),
            &json!({"reason": "x"}),
        )
        .await;
    assert_eq!(r.status, 409);
    let decide = format!("{dpath}/decision");
    let r = rev
        .send(
            "POST",
            &decide,
            &json!({"outcome": "upheld", "comment": "ok"}),
        )
        .await;
    assert_eq!(r.status, 403);
    let open = sup.get("/api/disputes?status=open").await.json();
    assert_eq!(open.as_array().unwrap().len(), 1);
    assert_eq!(open[0]["agent_id"], "A1");
    let r = sup
        .send(
            "POST",
            &decide,
            &json!({"outcome": "rejected", "comment": "the recording starts at the answer"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["dispute"]["status"], "rejected");
    assert_eq!(r.json()["review"]["decision"], "confirmed");
    assert_eq!(
        sup.send(
            "POST",
            &decide,
            &json!({"outcome": "upheld", "comment": "x"})
        )
        .await
        .status,
        409
    );

    // A1 disputes the greeting of the rude chat; the supervisor upholds it.
    let rude: ResultWire = w.store.get_result("c-a1-2").await.unwrap().unwrap();
    let g2 = flag_idx(&rude, FlagId::GreetingMissing);
    let d2 = format!("/api/results/c-a1-2/flags/{g2}/dispute");
    assert_eq!(
        a1.send(
            "POST",
            &d2,
            &json!({"reason": "the greeting was sent as an image"})
        )
        .await
        .status,
        201
    );
    let r = sup
        .send(
            "POST",
            &format!("{d2}/decision"),
            &json!({"outcome": "upheld", "comment": "fair"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["review"]["decision"], "dismissed");
    let third = report(&rev).await;
    assert_eq!(
        agent_row(&third, "A1")["kpis"]["violations"]
            .as_u64()
            .unwrap(),
        v0 - 2
    );
    assert_eq!(third["dismissed_flags"], 2);

    // Calibration: buck_passing 0 of 1 decided confirmed; greeting 1 of 2.
    let cal = rev.get("/api/calibration?period=2026-11").await.json();
    let rule = |id: &str| {
        cal["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["rule"] == id)
            .unwrap()
            .clone()
    };
    assert_eq!(rule("buck_passing")["precision"], 0.0);
    assert_eq!(rule("buck_passing")["dismissed"], 1);
    assert_eq!(rule("greeting")["confirmed"], 1);
    assert_eq!(rule("greeting")["dismissed"], 1);
    assert_eq!(rule("greeting")["precision"], 0.5);
    assert_eq!(cal["decided"], 3);
    assert_eq!(
        cal["rules"][0]["rule"], "buck_passing",
        "least precise first"
    );

    // The history of the call, oldest first.
    let d = a1.get("/api/results/call-1").await.json();
    let actions: Vec<&str> = d["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["dismissed", "disputed", "rejected"]);
    // The report as HTML and CSV.
    let html = rev
        .get("/api/reports?period=2026-11&format=html&lang=zh")
        .await;
    assert_eq!(html.status, 200);
    assert!(html.text().contains("<svg") && html.text().contains("坐席考核报告"));
    assert!(
        !html.text().contains("<script"),
        "the HTML report runs nothing"
    );
    let csv = rev.get("/api/reports?period=2026-11&format=csv").await;
    assert!(
        csv.text().lines().any(|l| l.starts_with("agent,T1,A1,")),
        "{}",
        csv.text()
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inputs_are_validated() {
    let w = world().await;
    seed(&w.store, &w.recording).await;
    let rev = Client::new(
        &w.addr,
        Some(&user(&w.store, "qa", Role::Reviewer, None).await),
    );
    let admin = Client::new(
        &w.addr,
        Some(&user(&w.store, "root", Role::Admin, None).await),
    );
    let review = "/api/results/call-1/flags/0/review";
    let cases: Vec<(&str, &str, String, u16)> = vec![
        (
            "unknown field",
            review,
            json!({"decision": "confirmed", "extra": 1}).to_string(),
            400,
        ),
        (
            "bad enum",
            review,
            json!({"decision": "maybe"}).to_string(),
            400,
        ),
        ("not JSON", review, "{decision".into(), 400),
        (
            "long comment",
            review,
            json!({"decision": "confirmed", "comment": "x".repeat(2001)}).to_string(),
            400,
        ),
        (
            "control chars",
            review,
            json!({"decision": "confirmed", "comment": "a\u{1b}[31m"}).to_string(),
            400,
        ),
        (
            "flag out of range",
            "/api/results/call-1/flags/99/review",
            json!({"decision": "confirmed"}).to_string(),
            404,
        ),
        (
            "idx not a number",
            "/api/results/call-1/flags/x/review",
            json!({"decision": "confirmed"}).to_string(),
            400,
        ),
        (
            "no such job",
            "/api/results/nope/flags/0/review",
            json!({"decision": "confirmed"}).to_string(),
            404,
        ),
    ];
    for (name, path, body, want) in cases {
        let r = rev.send_raw("POST", path, &body).await;
        assert_eq!(r.status, want, "{name}: {}", r.text());
        assert!(r.json()["error"].is_string(), "{name}: errors are JSON");
    }
    for (path, want) in [
        ("/api/flags?limit=0", 400),
        ("/api/flags?status=weird", 400),
        ("/api/results?since=yesterday", 400),
        ("/api/reports?period=2026-13", 400),
        ("/api/reports?period=2026-11&format=pdf", 400),
        ("/api/reports", 400),
        ("/api/results?team=a%20b", 400),
        (
            "/api/calibration?period=2026-11&since=2026-11-01T00:00:00Z",
            400,
        ),
        ("/api/nothing", 404),
    ] {
        let r = rev.get(path).await;
        assert_eq!(r.status, want, "{path}: {}", r.text());
    }
    let long = format!("/api/results/{}", "j".repeat(201));
    assert_eq!(rev.get(&long).await.status, 400);
    for (body, want) in [
        (json!({"name": "a b", "role": "reviewer"}), 400),
        (json!({"name": "x", "role": "agent"}), 400),
        (
            json!({"name": "x", "role": "reviewer", "agent_id": "A1"}),
            400,
        ),
        (json!({"name": "x", "role": "god"}), 400),
    ] {
        let r = admin.send("POST", "/api/users", &body).await;
        assert_eq!(r.status, want, "{body}: {}", r.text());
    }
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_manage_users_and_rule_packs() {
    let w = world().await;
    let admin = Client::new(
        &w.addr,
        Some(&user(&w.store, "root", Role::Admin, None).await),
    );
    let sup = Client::new(
        &w.addr,
        Some(&user(&w.store, "boss", Role::Supervisor, None).await),
    );
    assert_eq!(sup.get("/api/users").await.status, 403);
    assert_eq!(sup.get("/api/packs/en").await.status, 403);

    let r = admin
        .send(
            "POST",
            "/api/users",
            &json!({"name": "王芳", "role": "agent", "agent_id": "A7"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    let token = r.json()["token"].as_str().unwrap().to_owned();
    let me = Client::new(&w.addr, Some(&token))
        .get("/api/me")
        .await
        .json();
    assert_eq!(
        me,
        json!({"name": "王芳", "role": "agent", "agent_id": "A7"})
    );
    assert_eq!(
        admin
            .send(
                "POST",
                "/api/users",
                &json!({"name": "王芳", "role": "reviewer"})
            )
            .await
            .status,
        409
    );
    let users = admin.get("/api/users").await.json();
    assert!(
        !users.to_string().contains(&token),
        "tokens are never listed"
    );
    assert_eq!(
        admin
            .send("DELETE", "/api/users/%E7%8E%8B%E8%8A%B3", &json!({}))
            .await
            .status,
        204
    );
    assert_eq!(
        Client::new(&w.addr, Some(&token))
            .get("/api/me")
            .await
            .status,
        401
    );
    assert_eq!(
        admin
            .send("DELETE", "/api/users/root", &json!({}))
            .await
            .status,
        400
    );

    // Rule packs: read, refuse a broken one with its line, refuse a change
    // without a new version, accept a versioned change.
    let pack = admin.get("/api/packs/en").await;
    assert_eq!(pack.status, 200);
    let pack = pack.json();
    let rules = pack["rules"].as_str().unwrap().to_owned();
    let card = pack["scorecard"].as_str().unwrap().to_owned();
    assert!(rules.contains("[pack]"));
    assert_eq!(admin.get("/api/packs/fr").await.status, 400);
    let broken = rules.replacen("kind = \"required_phrase\"", "kind = \"telepathy\"", 1);
    let r = admin
        .send(
            "PUT",
            "/api/packs/en",
            &json!({"rules": broken, "scorecard": card}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .starts_with("rules.toml:"),
        "{}",
        r.text()
    );
    let edited = rules.replacen("\"hi\",", "\"hi\", \"hiya\",", 1);
    assert_ne!(edited, rules);
    let r = admin
        .send(
            "PUT",
            "/api/packs/en",
            &json!({"rules": edited, "scorecard": card}),
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.text().contains("version"), "{}", r.text());
    // The first `version = "…"` is the [pack] header's: give it a suffix.
    let old_version = edited
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("[pack] version")
        .to_owned();
    let new_version = format!("{old_version}-edited");
    let bumped = edited.replacen(
        &format!("version = \"{old_version}\""),
        &format!("version = \"{new_version}\""),
        1,
    );
    let r = admin
        .send(
            "PUT",
            "/api/packs/en",
            &json!({"rules": bumped, "scorecard": card}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["pack"],
        format!("callqa-default-en@{new_version}").as_str()
    );
    let on_disk = std::fs::read_to_string(w.rules.join("en/rules.toml")).unwrap();
    assert!(on_disk.contains("\"hiya\""));
    assert_eq!(
        std::fs::read_to_string(w.rules.join("en/rules.toml.bak")).unwrap(),
        rules
    );
    assert!(
        !std::fs::read_dir(&w.rules).unwrap().any(|e| e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(".staging")),
        "staging directories are cleaned up"
    );
    w.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisor_scores_blend_into_the_composite() {
    let w = world().await;
    seed(&w.store, &w.recording).await;
    let rev = Client::new(
        &w.addr,
        Some(&user(&w.store, "qa", Role::Reviewer, None).await),
    );
    let sup = Client::new(
        &w.addr,
        Some(&user(&w.store, "boss", Role::Supervisor, None).await),
    );
    let body =
        json!({"period": "2026-11", "agent_id": "A2", "score": 100, "comment": "great month"});
    assert_eq!(
        rev.send("PUT", "/api/supervisor-scores", &body)
            .await
            .status,
        403
    );
    let bad = json!({"period": "2026-11", "agent_id": "A2", "score": 101});
    assert_eq!(
        sup.send("PUT", "/api/supervisor-scores", &bad).await.status,
        400
    );
    assert_eq!(
        sup.send("PUT", "/api/supervisor-scores", &body)
            .await
            .status,
        204
    );
    let list = rev
        .get("/api/supervisor-scores?period=2026-11")
        .await
        .json();
    assert_eq!(list[0]["scored_by"], "boss");
    let rep = report(&rev).await;
    let c = &agent_row(&rep, "A2")["composite"];
    assert_eq!(c["supervisor"], 100.0);
    let data = c["data"].as_f64().unwrap();
    let total = c["total"].as_f64().unwrap();
    assert!((total - (0.8 * data + 0.2 * 100.0)).abs() < 0.01, "{c}");
    assert!(agent_row(&rep, "A1")["composite"]["supervisor"].is_null());
    w.stop().await;
}

/// Role order: a supervisor's ruling on a dispute is final for reviewers
/// (it changed an agent's QA score from 62.5 to 75.0 before); a flag
/// under an open dispute is for the supervisor; only a supervisor or
/// admin reopens a ruling. Agents dispute only flags that cost them
/// points.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_supervisors_ruling_is_final_for_reviewers() {
    let w = world().await;
    let call = seed(&w.store, &w.recording).await;
    let rev = Client::new(
        &w.addr,
        Some(&user(&w.store, "qa", Role::Reviewer, None).await),
    );
    let sup = Client::new(
        &w.addr,
        Some(&user(&w.store, "boss", Role::Supervisor, None).await),
    );
    let a1 = Client::new(
        &w.addr,
        Some(&user(&w.store, "li", Role::Agent, Some("A1")).await),
    );
    let greet = flag_idx(&call, FlagId::GreetingMissing);
    let base = format!("/api/results/call-1/flags/{greet}");
    let r = a1
        .send(
            "POST",
            &format!("{base}/dispute"),
            &json!({"reason": "I greeted before the recording"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    // Open dispute: the reviewer cannot pre-empt the supervisor.
    let dismiss = json!({"decision": "dismissed", "comment": "fine by me"});
    let r = rev.send("POST", &format!("{base}/review"), &dismiss).await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("supervisor rules"), "{}", r.text());
    let r = sup
        .send(
            "POST",
            &format!("{base}/dispute/decision"),
            &json!({"outcome": "rejected", "comment": "the recording starts at the answer"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let score_after_ruling = agent_row(&report(&rev).await, "A1")["kpis"]["avg_score"]
        .as_f64()
        .unwrap();

    // The reviewer cannot overturn the ruling: refused, nothing stored,
    // the agent's QA score unchanged.
    let r = rev.send("POST", &format!("{base}/review"), &dismiss).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(
        r.text().contains("only a supervisor or admin"),
        "{}",
        r.text()
    );
    let reviews = w.store.reviews_of("call-1").await.unwrap();
    let v = reviews.iter().find(|v| v.idx == greet).unwrap();
    assert_eq!(
        (v.decision, v.reviewer.as_str()),
        (callqa::domain::Decision::Confirmed, "boss")
    );
    let score_now = agent_row(&report(&rev).await, "A1")["kpis"]["avg_score"]
        .as_f64()
        .unwrap();
    assert_eq!(score_now, score_after_ruling);
    // A reviewer may still decide undisputed flags.
    let buck = flag_idx(&call, FlagId::ForbiddenPhrase);
    let r = rev
        .send(
            "POST",
            &format!("/api/results/call-1/flags/{buck}/review"),
            &json!({"decision": "confirmed"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());

    // The supervisor reopens it: the flag is dismissed and the score rises.
    let r = sup
        .send(
            "POST",
            &format!("{base}/review"),
            &json!({"decision": "dismissed", "comment": "new evidence: the greeting is on the IVR log"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["review"]["decision"], "dismissed");
    let reopened = agent_row(&report(&rev).await, "A1")["kpis"]["avg_score"]
        .as_f64()
        .unwrap();
    assert!(
        reopened > score_after_ruling,
        "{score_after_ruling} → {reopened}"
    );

    // The customer's complaint threat costs the agent nothing: not
    // disputable, and the page is told so.
    let threat = flag_idx(&call, FlagId::ComplaintThreat);
    let d = a1.get("/api/results/call-1").await.json();
    assert_eq!(d["flags"][threat]["costs_points"], false, "{}", d["flags"]);
    assert_eq!(d["flags"][buck]["costs_points"], true);
    let r = a1
        .send(
            "POST",
            &format!("/api/results/call-1/flags/{threat}/dispute"),
            &json!({"reason": "the customer was upset, not me"}),
        )
        .await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.text().contains("costs you no points"), "{}", r.text());
    assert!(w
        .store
        .disputes_of("call-1")
        .await
        .unwrap()
        .iter()
        .all(|d| d.idx != threat));
    w.stop().await;
}

/// An agent's report holds their own figures only: no team row or team
/// trend that, in a two-person team, would reveal the colleague.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_sees_only_their_own_figures() {
    let w = world().await;
    seed(&w.store, &w.recording).await;
    let a2 = Client::new(
        &w.addr,
        Some(&user(&w.store, "wang", Role::Agent, Some("A2")).await),
    );
    let rev = Client::new(
        &w.addr,
        Some(&user(&w.store, "qa", Role::Reviewer, None).await),
    );
    let full = report(&rev).await;
    assert_eq!(
        full["teams"].as_array().unwrap().len(),
        1,
        "T1 for reviewers"
    );
    assert_eq!(full["overall"]["contacts"], 5);
    let own = report(&a2).await;
    assert_eq!(own["teams"], json!([]), "{}", own["teams"]);
    assert_eq!(own["trend"], json!([]));
    assert_eq!(own["agents"].as_array().unwrap().len(), 1);
    assert_eq!(own["overall"], agent_row(&own, "A2")["kpis"]);
    assert_eq!(own["overall"]["contacts"], 2);
    assert_eq!(own["overall"], agent_row(&full, "A2")["kpis"]);
    // CSV and HTML carry the same scope.
    let csv = a2
        .get("/api/reports?period=2026-11&format=csv")
        .await
        .text();
    assert!(!csv.contains("A1"), "{csv}");
    assert!(!csv.lines().any(|l| l.starts_with("team,")), "{csv}");
    w.stop().await;
}

/// The evaluation scheme is loaded once and again only when the file
/// changes; a broken edit keeps the last good scheme in use (it used to
/// be read, and fail, on every request).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheme_is_cached_and_reloaded_when_edited() {
    let w = world().await;
    seed(&w.store, &w.recording).await;
    let rev = Client::new(
        &w.addr,
        Some(&user(&w.store, "qa", Role::Reviewer, None).await),
    );
    assert_eq!(report(&rev).await["scheme"], "callqa-default@1.0.0");
    let file = w.rules.join("evaluation.toml");
    let good = std::fs::read_to_string(&file).unwrap();
    let touch = |text: &str, secs: u64| {
        std::fs::write(&file, text).unwrap();
        let f = std::fs::File::options().write(true).open(&file).unwrap();
        f.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs))
            .unwrap();
    };
    touch("[scheme]\nid = \"broken", 1_800_000_000);
    let r = rev.get("/api/reports?period=2026-11").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["scheme"], "callqa-default@1.0.0");
    touch(
        &good.replace("version = \"1.0.0\"", "version = \"1.1.0\""),
        1_800_000_100,
    );
    assert_eq!(report(&rev).await["scheme"], "callqa-default@1.1.0");
    w.stop().await;
}

/// Who may call what: every route against every role, in one table.
/// `Y` allowed (2xx, or 409 where an earlier row already did it), `n`
/// refused with 403, `-` "not found" (an agent asking for another agent's
/// conversation never learns it exists). Columns: agent A1, reviewer,
/// supervisor, admin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_by_route_permission_matrix() {
    let w = world().await;
    let call = seed(&w.store, &w.recording).await;
    let roles = [
        Client::new(
            &w.addr,
            Some(&user(&w.store, "li", Role::Agent, Some("A1")).await),
        ),
        Client::new(
            &w.addr,
            Some(&user(&w.store, "qa", Role::Reviewer, None).await),
        ),
        Client::new(
            &w.addr,
            Some(&user(&w.store, "boss", Role::Supervisor, None).await),
        ),
        Client::new(
            &w.addr,
            Some(&user(&w.store, "root", Role::Admin, None).await),
        ),
    ];
    let buck = flag_idx(&call, FlagId::ForbiddenPhrase);
    let greet = flag_idx(&call, FlagId::GreetingMissing);
    let pack = roles[3].get("/api/packs/en").await.json();
    let n = std::sync::atomic::AtomicUsize::new(0);
    let new_user = || {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        json!({"name": format!("u{i}"), "role": "reviewer"})
    };
    // (method, path, body, expected per role). Rows run in order, each
    // role in column order.
    let rows: Vec<(&str, String, Option<Value>, &str)> = vec![
        ("GET", "/api/me".into(), None, "YYYY"),
        ("GET", "/api/labels".into(), None, "YYYY"),
        ("GET", "/api/results".into(), None, "YYYY"),
        ("GET", "/api/results/call-1".into(), None, "YYYY"),
        ("GET", "/api/results/c-a2-1".into(), None, "-YYY"),
        ("GET", "/api/results/call-1/media-link".into(), None, "YYYY"),
        ("GET", "/api/results/c-a2-1/media-link".into(), None, "----"),
        ("GET", "/api/flags".into(), None, "YYYY"),
        ("GET", "/api/search?q=refund".into(), None, "YYYY"),
        ("GET", "/api/disputes".into(), None, "YYYY"),
        ("GET", "/api/agents".into(), None, "YYYY"),
        ("GET", "/api/reports?period=2026-11".into(), None, "YYYY"),
        ("GET", "/api/calibration".into(), None, "nYYY"),
        (
            "GET",
            "/api/supervisor-scores?period=2026-11".into(),
            None,
            "nYYY",
        ),
        ("GET", "/api/sampling/plans".into(), None, "nYYY"),
        ("GET", "/api/tasks".into(), None, "nYYY"),
        (
            "POST",
            "/api/sampling/run".into(),
            Some(json!({"plan": "monthly", "period": "2026-11"})),
            "nnYY",
        ),
        (
            "POST",
            "/api/calibration/sessions".into(),
            Some(json!({"name": "s", "jobs": ["call-1"]})),
            "nnYY",
        ),
        ("GET", "/api/calibration/sessions".into(), None, "nYYY"),
        ("GET", "/api/flags?offset=1&limit=1".into(), None, "YYYY"),
        ("GET", "/api/packs/en".into(), None, "nnnY"),
        (
            "POST",
            "/api/packs/en/backtest".into(),
            Some(
                json!({"rules": pack["rules"], "scorecard": pack["scorecard"], "period": "2026-11"}),
            ),
            "nnnY",
        ),
        ("GET", "/api/users".into(), None, "nnnY"),
        (
            "POST",
            format!("/api/results/call-1/flags/{buck}/review"),
            Some(json!({"decision": "confirmed"})),
            "nYYY",
        ),
        (
            "POST",
            format!("/api/results/call-1/flags/{greet}/dispute"),
            Some(json!({"reason": "I greeted"})),
            "Ynnn",
        ),
        (
            "POST",
            format!("/api/results/call-1/flags/{greet}/dispute/decision"),
            Some(json!({"outcome": "rejected", "comment": "no greeting"})),
            "nnYY",
        ),
        (
            "POST",
            format!("/api/results/call-1/flags/{greet}/review"),
            Some(json!({"decision": "dismissed", "comment": "reopened"})),
            "nnYY",
        ),
        (
            "PUT",
            "/api/supervisor-scores".into(),
            Some(json!({"period": "2026-11", "agent_id": "A2", "score": 80})),
            "nnYY",
        ),
        ("PUT", "/api/packs/en".into(), Some(pack), "nnnY"),
        ("POST", "/api/users".into(), None, "nnnY"),
        // The admin (fourth column) created u3 in the row above.
        ("DELETE", "/api/users/u3".into(), None, "nnnY"),
    ];
    let mut wrong = Vec::new();
    for (method, path, body, want) in &rows {
        for (c, expect) in roles.iter().zip(want.chars()) {
            let r = match (method, body) {
                (&"GET", _) => c.get(path).await,
                (&"POST", None) if path == "/api/users" => c.send("POST", path, &new_user()).await,
                (m, Some(b)) => c.send(m, path, b).await,
                (m, None) => c.send_raw(m, path, "").await,
            };
            let got = match r.status {
                200..=299 | 409 => 'Y',
                403 => 'n',
                404 => '-',
                s => char::from_digit(u32::from(s / 100), 10).unwrap_or('?'),
            };
            if got != expect {
                wrong.push(format!(
                    "{method} {path}: want {expect}, got {} {}",
                    r.status,
                    r.text()
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    w.stop().await;
}

/// Search over HTTP: agents find only their own contacts; inputs are
/// checked; pages carry the total.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_is_scoped_checked_and_paged() {
    let w = world().await;
    seed(&w.store, &w.recording).await;
    let rev = Client::new(
        &w.addr,
        Some(&user(&w.store, "qa", Role::Reviewer, None).await),
    );
    let a2 = Client::new(
        &w.addr,
        Some(&user(&w.store, "wang", Role::Agent, Some("A2")).await),
    );
    let r = rev.get("/api/search?q=refund").await.json();
    assert_eq!(r["total"], 1, "{r}");
    assert_eq!(r["contacts"][0]["job_id"], "call-1");
    assert!(r["contacts"][0]["snippet"]
        .as_str()
        .unwrap()
        .contains("refund"));
    assert_eq!(a2.get("/api/search?q=refund").await.json()["total"], 0);
    assert_eq!(a2.get("/api/search").await.json()["total"], 2);
    assert_eq!(a2.get("/api/search?agent=A1").await.status, 403);
    let all = rev.get("/api/search?period=2026-11").await.json();
    assert_eq!(all["total"], 5);
    let p2 = rev
        .get("/api/search?period=2026-11&limit=2&offset=4")
        .await
        .json();
    assert_eq!(
        (
            p2["total"].as_i64(),
            p2["contacts"].as_array().unwrap().len()
        ),
        (Some(5), 1)
    );
    assert_eq!(p2["contacts"][0], all["contacts"][4]);
    let flagged = rev.get("/api/search?flag=greeting_missing").await.json();
    assert!(flagged["total"].as_i64().unwrap() >= 1, "{flagged}");
    for bad in [
        "score_min=200",
        "flag=nope",
        "severity=huge",
        "state=maybe",
        "offset=-1",
        "limit=0",
        "rule=a%20b",
        "period=2026-13",
        "colour=red",
    ] {
        let r = rev.get(&format!("/api/search?{bad}")).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
    }
    w.stop().await;
}

/// A sampling plan drawn for a period creates review tasks: every agent
/// gets the plan's minimum, reviewers share the work, the draw is
/// repeatable, reviewers see their own tasks with due dates and mark them
/// done, and the plan's progress counts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sampling_plan_creates_tasks() {
    let w = world().await;
    seed(&w.store, &w.recording).await;
    let sup = Client::new(
        &w.addr,
        Some(&user(&w.store, "boss", Role::Supervisor, None).await),
    );
    let li = Client::new(
        &w.addr,
        Some(&user(&w.store, "qa-li", Role::Reviewer, None).await),
    );
    let wang = Client::new(
        &w.addr,
        Some(&user(&w.store, "qa-wang", Role::Reviewer, None).await),
    );
    let a1 = Client::new(
        &w.addr,
        Some(&user(&w.store, "li", Role::Agent, Some("A1")).await),
    );
    let plans = li.get("/api/sampling/plans").await.json();
    assert_eq!(plans[0]["id"], "monthly", "{plans}");
    let body = json!({"plan": "monthly", "period": "2026-11"});
    assert_eq!(
        li.send("POST", "/api/sampling/run", &body).await.status,
        403
    );
    assert_eq!(a1.get("/api/tasks").await.status, 403);
    let r = sup.send("POST", "/api/sampling/run", &body).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let run = r.json();
    assert_eq!(run["contacts"], 5);
    let picked = run["picked"].as_u64().unwrap();
    assert_eq!(run["created"], picked);
    // Two agents, at least two each; 5 % of the rest rounds up to one.
    assert!(picked >= 4, "{run}");
    let assigned: u64 = run["assigned"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(assigned + run["unassigned"].as_u64().unwrap(), picked);
    assert_eq!(run["unassigned"], 0);
    let (n_li, n_wang) = (
        run["assigned"]["qa-li"].as_u64().unwrap(),
        run["assigned"]["qa-wang"].as_u64().unwrap(),
    );
    assert!(n_li.abs_diff(n_wang) <= 1, "balanced: {run}");
    // Drawing again picks the same contacts and creates nothing new.
    let again = sup.send("POST", "/api/sampling/run", &body).await.json();
    assert_eq!(
        (again["picked"].as_u64(), again["created"].as_u64()),
        (Some(picked), Some(0))
    );
    // My tasks: only mine, with a due date in five days.
    let mine = li.get("/api/tasks").await.json();
    let tasks = mine["tasks"].as_array().unwrap();
    assert_eq!(tasks.len() as u64, n_li);
    assert!(tasks
        .iter()
        .all(|t| t["reviewer"] == "qa-li" && t["overdue"] == false));
    let due = chrono::DateTime::parse_from_rfc3339(tasks[0]["due_at"].as_str().unwrap()).unwrap();
    let days = (due.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours();
    assert!((119..=120).contains(&days), "due in {days} h");
    let all = li.get("/api/tasks?reviewer=all").await.json();
    let mut per_agent = std::collections::BTreeMap::new();
    for t in all["tasks"].as_array().unwrap() {
        *per_agent
            .entry(t["agent_id"].as_str().unwrap().to_owned())
            .or_insert(0) += 1;
    }
    assert!(per_agent.values().all(|&n| n >= 2), "{per_agent:?}");
    assert_eq!(per_agent.len(), 2);
    // Done: by the assignee, not by another reviewer.
    let t = &tasks[0];
    let done = json!({"plan": "monthly", "period": "2026-11", "job_id": t["job_id"]});
    assert_eq!(
        wang.send("POST", "/api/tasks/done", &done).await.status,
        403
    );
    assert_eq!(li.send("POST", "/api/tasks/done", &done).await.status, 204);
    assert_eq!(li.send("POST", "/api/tasks/done", &done).await.status, 409);
    let open = li.get("/api/tasks?open=true").await.json();
    assert_eq!(open["tasks"].as_array().unwrap().len() as u64, n_li - 1);
    let progress = &open["progress"][0];
    assert_eq!(
        (
            progress["plan"].as_str(),
            progress["total"].as_u64(),
            progress["done"].as_u64()
        ),
        (Some("monthly"), Some(picked), Some(1))
    );
    // The evaluation report shows the plan's progress beside the figures
    // (table, HTML), but not to an agent.
    let report = sup
        .get("/api/reports?period=2026-11&format=json")
        .await
        .json();
    assert_eq!(report["plans"][0]["plan"], "monthly", "{}", report["plans"]);
    assert_eq!(report["plans"][0]["total"].as_u64(), Some(picked));
    assert_eq!(report["plans"][0]["done"].as_u64(), Some(1));
    let html = sup
        .get("/api/reports?period=2026-11&format=html&lang=zh")
        .await
        .text();
    assert!(
        html.contains("人工抽检计划进度") && html.contains("<td>monthly</td>"),
        "{html}"
    );
    let own = a1
        .get("/api/reports?period=2026-11&format=json")
        .await
        .json();
    assert_eq!(own["plans"].as_array().map(Vec::len), Some(0), "{own}");
    w.stop().await;
}

/// Issue 11, defect 9: guessing tokens is answered 429 after
/// `MAX_FAILED_SIGN_INS` wrong ones from one address, with Retry-After;
/// requests without a token are not sign-ins and are never limited.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_sign_ins_are_limited_per_address() {
    use callqa::http::server::MAX_FAILED_SIGN_INS;
    let w = world().await;
    let anon = Client::new(&w.addr, None);
    for _ in 0..(MAX_FAILED_SIGN_INS + 5) {
        assert_eq!(
            anon.get("/api/me").await.status,
            401,
            "no token: not limited"
        );
    }
    let guess = Client::new(&w.addr, Some("cq_0123456789abcdef0123456789abcdef"));
    let mut statuses = Vec::new();
    for _ in 0..(MAX_FAILED_SIGN_INS + 3) {
        statuses.push(guess.get("/api/me").await.status);
    }
    let refused = statuses.iter().filter(|s| **s == 401).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(
        (refused, limited),
        (MAX_FAILED_SIGN_INS as usize, 3),
        "{statuses:?}"
    );
    let r = guess.get("/api/me").await;
    assert_eq!(r.status, 429);
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    w.stop().await;
}

/// A calibration session: two reviewers judge the same contacts blind;
/// once the supervisor closes it, agreement per rule between them (κ) and
/// with the machine, and the contact to discuss.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_calibration_session_is_blind_then_shows_agreement() {
    let w = world().await;
    seed(&w.store, &w.recording).await;
    let sup = Client::new(
        &w.addr,
        Some(&user(&w.store, "boss", Role::Supervisor, None).await),
    );
    let li = Client::new(
        &w.addr,
        Some(&user(&w.store, "qa-li", Role::Reviewer, None).await),
    );
    let wang = Client::new(
        &w.addr,
        Some(&user(&w.store, "qa-wang", Role::Reviewer, None).await),
    );
    let jobs = ["call-1", "c-a1-2", "c-a2-1"];
    let body = json!({"name": "November greeting", "jobs": jobs});
    assert_eq!(
        li.send("POST", "/api/calibration/sessions", &body)
            .await
            .status,
        403
    );
    let bad = json!({"name": "x", "jobs": ["nope"]});
    assert_eq!(
        sup.send("POST", "/api/calibration/sessions", &bad)
            .await
            .status,
        404
    );
    let r = sup.send("POST", "/api/calibration/sessions", &body).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_owned();
    let put = format!("/api/calibration/sessions/{id}/verdicts");
    for (c, verdicts) in [(&li, [true, true, false]), (&wang, [true, false, false])] {
        for (job, v) in jobs.iter().zip(verdicts) {
            let r = c
                .send(
                    "PUT",
                    &put,
                    &json!({"job_id": job, "rule": "greeting", "violated": v}),
                )
                .await;
            assert_eq!(r.status, 204, "{}", r.text());
        }
    }
    let r = li
        .send(
            "PUT",
            &put,
            &json!({"job_id": "c-a1-1", "rule": "greeting", "violated": true}),
        )
        .await;
    assert_eq!(r.status, 404, "not in the session");
    // Blind: li sees her own three verdicts and no figures.
    let open = li
        .get(&format!("/api/calibration/sessions/{id}"))
        .await
        .json();
    assert_eq!(open["verdicts"].as_array().unwrap().len(), 3);
    assert!(open["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|v| v["reviewer"] == "qa-li"));
    assert_eq!(open["figures"], Value::Null);
    assert_eq!(
        li.send(
            "POST",
            &format!("/api/calibration/sessions/{id}/close"),
            &json!({})
        )
        .await
        .status,
        403
    );
    assert_eq!(
        sup.send(
            "POST",
            &format!("/api/calibration/sessions/{id}/close"),
            &json!({})
        )
        .await
        .status,
        204
    );
    let r = wang
        .send(
            "PUT",
            &put,
            &json!({"job_id": "call-1", "rule": "greeting", "violated": false}),
        )
        .await;
    assert_eq!(r.status, 409, "closed");
    let done = wang
        .get(&format!("/api/calibration/sessions/{id}"))
        .await
        .json();
    assert_eq!(done["verdicts"].as_array().unwrap().len(), 6);
    let g = &done["figures"][0];
    assert_eq!(g["rule"], "greeting");
    // Reviewers agree on 2 of 3: p1 = 2/3, p2 = 1/3, pe = 4/9, κ = 0.4.
    assert_eq!(
        g["between_reviewers"],
        json!({"items": 3, "agreed": 2, "percent": 0.6667, "kappa": 0.4})
    );
    // The machine flagged call-1 and c-a1-2: li agrees 3 of 3, wang 2 of 3.
    assert_eq!(g["with_machine"]["items"], 6);
    assert_eq!(g["with_machine"]["agreed"], 5);
    assert_eq!(
        g["disagreements"],
        json!([{"job_id": "c-a1-2", "machine": true, "verdicts": [["qa-li", true], ["qa-wang", false]]}])
    );
    w.stop().await;
}

/// Calibration sessions are listed for the review side, newest first,
/// with their number of contacts and whether they are closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calibration_sessions_are_listed_newest_first() {
    let w = world().await;
    seed(&w.store, &w.recording).await;
    let sup = Client::new(
        &w.addr,
        Some(&user(&w.store, "boss", Role::Supervisor, None).await),
    );
    let rev = Client::new(
        &w.addr,
        Some(&user(&w.store, "qa", Role::Reviewer, None).await),
    );
    assert_eq!(
        rev.get("/api/calibration/sessions").await.json(),
        json!([]),
        "no sessions yet"
    );
    let mut ids = Vec::new();
    for (name, jobs) in [
        ("October greeting", vec!["call-1"]),
        ("November greeting", vec!["call-1", "c-a1-2", "c-a2-1"]),
    ] {
        let r = sup
            .send(
                "POST",
                "/api/calibration/sessions",
                &json!({"name": name, "jobs": jobs}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text());
        ids.push(r.json()["id"].as_str().unwrap().to_owned());
        // Creation times are kept to the millisecond.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let r = sup
        .send(
            "POST",
            &format!("/api/calibration/sessions/{}/close", ids[0]),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 204);
    let list = rev.get("/api/calibration/sessions").await.json();
    let rows: Vec<(&str, &str, i64, bool, &str)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap(),
                s["name"].as_str().unwrap(),
                s["contacts"].as_i64().unwrap(),
                s["closed"].as_bool().unwrap(),
                s["created_by"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (ids[1].as_str(), "November greeting", 3, false, "boss"),
            (ids[0].as_str(), "October greeting", 1, true, "boss"),
        ]
    );
    assert!(list[0]["created_at"].as_str().unwrap() > list[1]["created_at"].as_str().unwrap());
    assert_eq!(list[0]["closed_at"], Value::Null);
    assert!(list[1]["closed_at"].as_str().unwrap().starts_with("20"));
    let one = rev.get("/api/calibration/sessions?limit=1").await.json();
    assert_eq!(one.as_array().unwrap().len(), 1);
    assert_eq!(one[0]["id"], ids[1].as_str());
    assert_eq!(
        rev.get("/api/calibration/sessions?limit=0").await.status,
        400
    );
    w.stop().await;
}

/// The first `version = "…"` of a rules.toml is its [pack] version.
fn with_phrase(rules: &str, rule: &str, phrase: &str) -> String {
    let at = rules
        .find(&format!("id = \"{rule}\""))
        .unwrap_or_else(|| panic!("no rule {rule}"));
    let list = at + rules[at..].find("phrases = [").unwrap() + "phrases = [".len();
    format!("{}\"{phrase}\", {}", &rules[..list], &rules[list..])
}

/// A proposed pack is back-tested over HTTP before it is saved: a phrase
/// added to a copy of the default Chinese pack gains exactly the stored
/// contacts whose agent says it, the answer is what `callqa backtest
/// --json` computes for the same packs, nothing is written, and a pack
/// that does not load is a 400 naming its file and line.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proposed_pack_is_backtested_before_it_is_saved() {
    let w = world().await;
    let p = pipeline(&w.store);
    let mut chats: Vec<_> = std::fs::read_dir(repo().join("samples/chats"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    chats.sort();
    let mut stored = Vec::new();
    for f in &chats {
        stored.push(run_chat(&p, std::fs::read_to_string(f).unwrap()).await);
    }
    let admin = Client::new(
        &w.addr,
        Some(&user(&w.store, "root", Role::Admin, None).await),
    );
    let pack = admin.get("/api/packs/zh").await.json();
    let (rules, card) = (
        pack["rules"].as_str().unwrap().to_owned(),
        pack["scorecard"].as_str().unwrap().to_owned(),
    );
    let phrase = "很高兴为您服务";
    let edited = with_phrase(&rules, "buck_passing", phrase);
    // Who says it and has no buck-passing flag yet, from the stored
    // (redacted) results themselves.
    let want: Vec<String> = {
        let mut v: Vec<String> = stored
            .iter()
            .filter(|r| r.language.as_str() == "zh")
            .filter(|r| r.flags.iter().all(|f| f.rule != "buck_passing"))
            .filter(|r| {
                r.turns
                    .iter()
                    .any(|t| t.speaker == callqa::domain::Speaker::Agent && t.text.contains(phrase))
            })
            .map(|r| r.job_id.clone())
            .collect();
        v.sort();
        v
    };
    assert!(!want.is_empty(), "a sample chat's agent says {phrase}");

    let r = admin
        .send(
            "POST",
            "/api/packs/zh/backtest",
            &json!({"rules": edited, "scorecard": card, "period": "2026-11"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let b = r.json();
    assert_eq!(b["contacts"], stored.len());
    assert_eq!(b["skipped"], 0);
    let buck = b["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "buck_passing")
        .unwrap();
    assert_eq!(buck["gained"], json!(want));
    assert_eq!(buck["lost"], json!([]));
    assert_eq!(
        buck["after"].as_u64().unwrap(),
        buck["before"].as_u64().unwrap() + want.len() as u64
    );
    for r in b["rules"].as_array().unwrap() {
        if r["rule"] != "buck_passing" {
            assert_eq!((&r["gained"], &r["lost"]), (&json!([]), &json!([])), "{r}");
        }
    }
    assert!(
        b["after"]["avg_score"].as_f64().unwrap() < b["before"]["avg_score"].as_f64().unwrap(),
        "{b}"
    );
    // The same answer as the command's: the library over a copy of the
    // rules directory with the edited file.
    let copy = w.dir.path().join("rules-edited");
    copy_dir(&w.rules, &copy);
    std::fs::write(copy.join("zh/rules.toml"), &edited).unwrap();
    let stored_now = callqa::backtest::contacts_of(
        &w.store,
        &callqa::report::Period::parse(
            "2026-11",
            callqa::report::Scheme::load(&w.rules.join("evaluation.toml"))
                .unwrap()
                .utc_offset,
        )
        .unwrap(),
    )
    .await
    .unwrap();
    let lib = callqa::backtest::run(
        &stored_now,
        &callqa::rules::PackSet::load(&w.rules).unwrap(),
        &callqa::rules::PackSet::load(&copy).unwrap(),
    );
    assert_eq!(b, serde_json::to_value(&lib).unwrap());

    // Nothing was saved or left behind.
    assert_eq!(
        admin.get("/api/packs/zh").await.json()["rules"],
        rules.as_str()
    );
    assert_eq!(
        std::fs::read_to_string(w.rules.join("zh/rules.toml")).unwrap(),
        rules
    );
    assert!(!w.rules.join("zh/rules.toml.bak").exists());
    let left: Vec<String> = std::fs::read_dir(&w.rules)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // Broken packs: 400 with the file and line.
    let anchor = "id = \"buck_passing\"\nkind = \"forbidden_phrase\"";
    let at = rules
        .find(anchor)
        .expect("buck_passing's kind follows its id");
    let line = rules[..at].matches('\n').count() + 2;
    let broken = rules.replacen(anchor, "id = \"buck_passing\"\nkind = \"telepathy\"", 1);
    let r = admin
        .send(
            "POST",
            "/api/packs/zh/backtest",
            &json!({"rules": broken, "scorecard": card, "period": "2026-11"}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let msg = r.json()["error"].as_str().unwrap().to_owned();
    assert!(
        msg.starts_with(&format!(
            "rules.toml:{line}: unknown rule kind \"telepathy\""
        )),
        "{msg}"
    );
    let r = admin
        .send(
            "POST",
            "/api/packs/zh/backtest",
            &json!({"rules": rules, "scorecard": format!("{card}\n[[oops\n"), "period": "2026-11"}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    let msg = r.json()["error"].as_str().unwrap().to_owned();
    let card_line = card.matches('\n').count() + 2;
    assert!(
        msg.starts_with(&format!("scorecard.toml:{card_line}:")),
        "{msg}"
    );
    // An English pack is not a Chinese one; a period is required and checked.
    let en = admin.get("/api/packs/en").await.json();
    let r = admin
        .send(
            "POST",
            "/api/packs/zh/backtest",
            &json!({"rules": en["rules"], "scorecard": en["scorecard"], "period": "2026-11"}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("not zh"), "{}", r.text());
    for body in [
        json!({"rules": edited, "scorecard": card}),
        json!({"rules": edited, "scorecard": card, "period": "2026-13"}),
    ] {
        let r = admin.send("POST", "/api/packs/zh/backtest", &body).await;
        assert_eq!(r.status, 400, "{}", r.text());
    }
    assert!(!w.rules.join("zh/rules.toml.bak").exists());
    w.stop().await;
}

/// The review queue is paged: `offset` walks past the first page, pages
/// neither overlap nor skip, and `X-Total-Count` counts every page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_is_paged() {
    let w = world().await;
    seed(&w.store, &w.recording).await;
    // Three more curt chats (no greeting): five flagged conversations.
    let p = pipeline(&w.store);
    for (i, day) in [(3, 8), (4, 9), (5, 10)] {
        let id = format!("c-a2-{i}");
        run_chat(&p, chat_job(&id, "A2", "T1", day, false, "k4", None)).await;
    }
    let rev = Client::new(
        &w.addr,
        Some(&user(&w.store, "qa", Role::Reviewer, None).await),
    );
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|i| i["job_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = rev.get("/api/flags?status=all&limit=1000").await;
    let all_ids = ids(&all.json());
    assert_eq!(all_ids.len(), 5, "{all_ids:?}");
    assert_eq!(
        all.header("x-total-count"),
        Some(all_ids.len().to_string().as_str())
    );
    let mut walked = Vec::new();
    let mut offset = 0;
    while offset < all_ids.len() + 2 {
        let r = rev
            .get(&format!("/api/flags?status=all&limit=2&offset={offset}"))
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(
            r.header("x-total-count"),
            Some(all_ids.len().to_string().as_str())
        );
        let page = ids(&r.json());
        assert_eq!(
            page.len(),
            all_ids.len().saturating_sub(offset).min(2),
            "offset {offset}"
        );
        walked.extend(page);
        offset += 2;
    }
    assert_eq!(
        walked, all_ids,
        "the pages put together are the whole queue"
    );
    // A status filter counts only what it keeps.
    let disputed = rev.get("/api/flags?status=disputed&offset=0").await;
    assert_eq!(disputed.header("x-total-count"), Some("0"));
    assert_eq!(disputed.json(), json!([]));
    for bad in ["offset=-1", "offset=2000000", "offset=x"] {
        assert_eq!(
            rev.get(&format!("/api/flags?{bad}")).await.status,
            400,
            "{bad}"
        );
    }
    w.stop().await;
}
