//! Bad input gets a clear error naming the field, never a panic: a table of
//! malformed jobs, each with the words its error must contain. Plus
//! recording paths that try to leave the recording roots.

use std::path::PathBuf;

use callqa::intake::{parse_job, resolve_recording, IntakeOptions};

fn chat(messages: &str) -> String {
    format!(
        r#"{{"id":"j1","kind":"chat","language":"zh","agent":{{"id":"A1"}},"messages":{messages}}}"#
    )
}

#[test]
fn malformed_jobs_are_rejected_with_the_field_named() {
    let ok_msg = r#"{"speaker":"agent","at":"2026-11-02T10:00:00+08:00","text":"您好"}"#;
    let cases: Vec<(&str, String, &[&str])> = vec![
        ("not json", "{not json".into(), &["key must be a string", "line 1"]),
        ("empty file", "".into(), &["EOF"]),
        ("missing agent", r#"{"id":"j","kind":"chat","messages":[]}"#.into(), &["missing field `agent`"]),
        ("unknown top-level field", r#"{"id":"j","kind":"chat","agent":{"id":"A"},"messages":[],"priority":1}"#.into(), &["unknown field `priority`"]),
        ("unknown kind", r#"{"id":"j","kind":"email","agent":{"id":"A"}}"#.into(), &["kind", "unknown variant `email`"]),
        ("unknown speaker", chat(r#"[{"speaker":"bot","at":"2026-11-02T10:00:00+08:00","text":"hi"}]"#), &["messages[0].speaker", "unknown variant `bot`"]),
        ("unknown message field", chat(r#"[{"speaker":"agent","at":"2026-11-02T10:00:00+08:00","text":"hi","x":1}]"#), &["messages[0]", "unknown field `x`"]),
        ("bad time", chat(r#"[{"speaker":"agent","at":"yesterday","text":"hi"}]"#), &["messages[0].at", "RFC 3339"]),
        ("time without offset", chat(r#"[{"speaker":"agent","at":"2026-11-02T10:00:00","text":"hi"}]"#), &["messages[0].at"]),
        ("out of order", chat(&format!(r#"[{ok_msg},{{"speaker":"customer","at":"2026-11-02T09:59:00+08:00","text":"hi"}}]"#)), &["messages[1].at", "time order"]),
        ("empty conversation", chat("[]"), &["messages", "empty conversation"]),
        ("empty text", chat(r#"[{"speaker":"agent","at":"2026-11-02T10:00:00+08:00","text":"  "}]"#), &["messages[0].text", "empty"]),
        ("empty id", r#"{"id":" ","kind":"chat","agent":{"id":"A"},"messages":[]}"#.into(), &["id", "empty"]),
        ("empty agent id", r#"{"id":"j","kind":"chat","agent":{"id":""},"messages":[]}"#.into(), &["agent.id", "empty"]),
        ("bad language", r#"{"id":"j","kind":"chat","language":"fr","agent":{"id":"A"},"messages":[]}"#.into(), &["language", "unknown variant `fr`"]),
        ("chat without messages", r#"{"id":"j","kind":"chat","agent":{"id":"A"}}"#.into(), &["messages", "missing"]),
        ("call without recording", r#"{"id":"j","kind":"call","agent":{"id":"A"}}"#.into(), &["recording", "missing"]),
        ("csat out of scale", format!(r#"{{"id":"j","kind":"chat","agent":{{"id":"A"}},"messages":[{ok_msg}],"metadata":{{"csat":8}}}}"#), &["metadata.csat", "csat_scale"]),
        ("negative queue wait", format!(r#"{{"id":"j","kind":"chat","agent":{{"id":"A"}},"messages":[{ok_msg}],"metadata":{{"queue_wait_s":-3}}}}"#), &["metadata.queue_wait_s"]),
        ("same channel twice", r#"{"id":"j","kind":"call","agent":{"id":"A"},"recording":{"path":"x.wav","channels":{"agent":0,"customer":0}}}"#.into(), &["recording"]),
    ];
    let opts = IntakeOptions {
        recording_roots: vec![PathBuf::from(env!("CARGO_MANIFEST_DIR"))],
    };
    let mut failures = Vec::new();
    for (name, json, words) in &cases {
        match parse_job(json.as_bytes(), &opts) {
            Ok(_) => failures.push(format!("{name}: accepted")),
            Err((_, e)) => {
                let msg = e.to_string();
                for w in *words {
                    if !msg.contains(w) {
                        failures.push(format!("{name}: error {msg:?} lacks {w:?}"));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn a_failed_job_still_reports_its_id_when_readable() {
    let (id, _) = parse_job(chat("[]").as_bytes(), &IntakeOptions::default()).unwrap_err();
    assert_eq!(id.as_deref(), Some("j1"));
    let (id, _) = parse_job(
        br#"{"id":"j9","kind":"chat","agent":{"id":"A"},"messages":[],"oops":1}"#,
        &IntakeOptions::default(),
    )
    .unwrap_err();
    assert_eq!(id.as_deref(), Some("j9"));
    let (id, _) = parse_job(b"{broken", &IntakeOptions::default()).unwrap_err();
    assert_eq!(id, None);
}

#[test]
fn a_valid_chat_parses_with_metadata() {
    let json = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/samples/chats/en-01-clean-refund.json"
    ))
    .unwrap();
    let job = parse_job(&json, &IntakeOptions::default()).unwrap();
    let callqa::domain::Job::Chat(c) = job else {
        panic!("not a chat")
    };
    assert_eq!(c.header.id.as_str(), "chat-en-01");
    assert_eq!(c.messages.len(), 8);
    let csat = c.header.metadata.csat.unwrap();
    assert_eq!((csat.score, csat.scale), (9.0, 10.0));
    assert_eq!(c.header.metadata.customer_id.as_deref(), Some("U-7781"));
}

#[test]
fn recording_paths_stay_inside_the_roots() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("recordings");
    std::fs::create_dir_all(root.join("2026/11")).unwrap();
    std::fs::write(root.join("2026/11/call.wav"), b"RIFF").unwrap();
    std::fs::write(dir.path().join("secret.wav"), b"RIFF").unwrap();
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.path().join("secret.wav"), root.join("link.wav")).unwrap();
    let roots = vec![root.clone()];

    let ok = resolve_recording("2026/11/call.wav", &roots).unwrap();
    assert_eq!(ok, root.join("2026/11/call.wav").canonicalize().unwrap());
    let abs = root.join("2026/11/call.wav");
    assert!(resolve_recording(abs.to_str().unwrap(), &roots).is_ok());

    let refused = [
        ("../secret.wav", "'..'"),
        ("2026/../../secret.wav", "'..'"),
        (
            dir.path()
                .join("secret.wav")
                .to_str()
                .unwrap()
                .to_owned()
                .leak() as &str,
            "outside the recording roots",
        ),
        ("link.wav", "symbolic link"),
        ("missing.wav", "not found"),
        ("", "empty"),
    ];
    for (path, why) in refused {
        let err = resolve_recording(path, &roots).unwrap_err().to_string();
        assert!(
            err.contains(why) && err.contains("recording.path"),
            "{path:?}: {err}"
        );
    }
    let err = resolve_recording("x.wav", &[]).unwrap_err().to_string();
    assert!(err.contains("CALLQA_RECORDING_ROOTS"), "{err}");
}
