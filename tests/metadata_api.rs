//! `POST /api/metadata` over real HTTP: late CRM figures for stored chats
//! (by job id and by ticket id… here by job id), for supervisors only,
//! checked row by row before anything is written; the report's CSAT and
//! the audit log follow.

mod support;

use callqa::domain::Role;
use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn supervisors_send_late_metadata_and_the_report_follows() {
    let w = world().await;
    let p = pipeline(&w.store);
    run_chat(&p, chat_job("m-1", "A1", "T1", 3, true, "k1", None)).await;
    run_chat(&p, chat_job("m-2", "A1", "T1", 4, true, "k2", Some(2.0))).await;
    let rev = Client::new(
        &w.addr,
        Some(&user(&w.store, "qa", Role::Reviewer, None).await),
    );
    let sup = Client::new(
        &w.addr,
        Some(&user(&w.store, "boss", Role::Supervisor, None).await),
    );

    let body = json!({"rows": [
        {"job_id": "m-1", "csat": 5, "first_contact_resolved": true},
        {"job_id": "m-2", "csat": "4", "tier": "gold"},
        {"job_id": "m-404", "csat": 3}
    ]});
    assert_eq!(rev.send("POST", "/api/metadata", &body).await.status, 403);
    // One bad row: nothing is applied.
    let bad = json!({"rows": [{"job_id": "m-1", "csat": 1}, {"job_id": "m-2", "csat": 9}]});
    let r = sup.send("POST", "/api/metadata", &bad).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("rows[1]"), "{}", r.text());
    assert!(w.store.metadata_log(None).await.unwrap().is_empty());

    let r = sup.send("POST", "/api/metadata", &body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let s = r.json();
    assert_eq!(
        (s["rows"].as_u64(), s["updated"].as_u64()),
        (Some(3), Some(2))
    );
    assert_eq!(s["not_found"], json!([[3, {"job": "m-404"}]]));

    let rep = rev.get("/api/reports?period=2026-11").await.json();
    let a1 = &rep["agents"][0];
    assert_eq!(a1["kpis"]["csat"].as_f64(), Some(4.5), "(5 + 4) / 2");
    let stored = w.store.get_result("m-2").await.unwrap().unwrap();
    assert_eq!(stored.metadata.custom["tier"], "gold");
    let log = w.store.metadata_log(Some("m-1")).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].actor.as_str(), log[0].source.as_str()),
        ("boss", "api:row:1")
    );
    w.stop().await;
}
