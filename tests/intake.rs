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
        ("NUL in team", r#"{"id":"j","kind":"chat","agent":{"id":"A","team":"t\u0000"},"messages":[]}"#.into(), &["agent.team", "control characters"]),
        ("team too long", format!(r#"{{"id":"j","kind":"chat","agent":{{"id":"A","team":"{}"}},"messages":[]}}"#, "t".repeat(201)), &["agent.team", "longer than 200"]),
        ("NUL in customer id", format!(r#"{{"id":"j","kind":"chat","agent":{{"id":"A"}},"messages":[{ok_msg}],"metadata":{{"customer_id":"c\u0000"}}}}"#), &["metadata.customer_id", "control characters"]),
        ("NUL in a tag", format!(r#"{{"id":"j","kind":"chat","agent":{{"id":"A"}},"messages":[{ok_msg}],"metadata":{{"tags":["ok","b\u0000d"]}}}}"#), &["metadata.tags[1]", "control characters"]),
        ("NUL in text", chat(r#"[{"speaker":"agent","at":"2026-11-02T10:00:00+08:00","text":"hi\u0000"}]"#), &["messages[0].text", "NUL"]),
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
    // An id that could never be valid does not key the failure record (a
    // 300 KB key would exceed an index row and an AMQP header).
    for bad in ["x".repeat(300_000), "nul\u{0}".to_owned()] {
        let json =
            serde_json::json!({"id": bad, "kind": "chat", "agent": {"id": "A"}, "messages": []});
        let (id, e) =
            parse_job(json.to_string().as_bytes(), &IntakeOptions::default()).unwrap_err();
        assert_eq!(id, None, "{e}");
        let (id, _) =
            parse_job(format!("{},", json).as_bytes(), &IntakeOptions::default()).unwrap_err();
        assert_eq!(id, None);
    }
}

/// Runs `f` on a thread and fails the test if it takes a second or more:
/// opening a named pipe blocks until a writer comes, which is forever.
fn within_a_second<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(1))
        .unwrap_or_else(|_| panic!("{what} did not finish within a second"))
}

#[cfg(unix)]
#[test]
fn special_and_multiply_linked_files_in_the_roots_are_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("recordings");
    std::fs::create_dir_all(&root).unwrap();
    let fifo = root.join("pipe.wav");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(made.success());
    // A hard link inside the roots to a file outside them.
    std::fs::write(dir.path().join("secret.wav"), b"RIFF....WAVE").unwrap();
    std::fs::hard_link(dir.path().join("secret.wav"), root.join("linked.wav")).unwrap();
    let roots = vec![root.clone()];

    for (path, why) in [
        ("pipe.wav", "not a regular file"),
        ("linked.wav", "hard links"),
    ] {
        let roots = roots.clone();
        let err = within_a_second(path, move || resolve_recording(path, &roots))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(why) && err.contains("recording.path"),
            "{path}: {err}"
        );
    }
    // The same FIFO named in a whole call job.
    let job = serde_json::json!({
        "id": "fifo-1", "kind": "call", "agent": {"id": "A"},
        "recording": {"path": fifo.to_str().unwrap()},
    })
    .to_string();
    let opts = IntakeOptions {
        recording_roots: roots.clone(),
    };
    let (id, err) =
        within_a_second("parse_job", move || parse_job(job.as_bytes(), &opts)).unwrap_err();
    assert_eq!(id.as_deref(), Some("fifo-1"));
    assert!(err.to_string().contains("not a regular file"), "{err}");
    // And the decoder, given the pipe directly, refuses it too.
    let err = within_a_second("decode_file", move || {
        callqa::decode::decode_file(&fifo, &callqa::decode::DecodeOptions::default())
    })
    .unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
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
        ("link.wav", "not found"),
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

    // No oracle for files outside the roots: an existing and a missing
    // outside path get the same answer, and so do links to them.
    let outside = |name: &str| {
        let p = dir.path().join(name);
        let p = p.to_str().unwrap().to_owned();
        resolve_recording(&p, &roots)
            .unwrap_err()
            .to_string()
            .replace(&p, "PATH")
    };
    assert_eq!(outside("secret.wav"), outside("no-such.wav"));
    #[cfg(unix)]
    std::os::unix::fs::symlink(dir.path().join("no-such.wav"), root.join("dangling.wav")).unwrap();
    let via_link = |name: &str| {
        resolve_recording(name, &roots)
            .unwrap_err()
            .to_string()
            .replace(name, "PATH")
    };
    assert_eq!(via_link("link.wav"), via_link("dangling.wav"));
    assert_eq!(via_link("link.wav"), via_link("missing.wav"));
}

#[test]
fn a_job_over_the_size_limit_is_refused_before_parsing() {
    use callqa::intake::MAX_JOB_BYTES;
    // A valid chat whose one message makes the JSON 9 MiB.
    let text = "你好".repeat((9 << 20) / 6);
    let json = serde_json::json!({
        "id": "big", "kind": "chat", "agent": {"id": "A"},
        "messages": [{"from": "customer", "at": "2026-11-01T10:00:00+08:00", "text": text}],
    })
    .to_string();
    assert!(json.len() > MAX_JOB_BYTES);
    let (id, e) = parse_job(json.as_bytes(), &IntakeOptions::default()).unwrap_err();
    assert_eq!(id, None);
    let msg = e.to_string();
    assert!(msg.starts_with("job: the job is 9.0 MiB"), "{msg}");
    assert!(msg.contains("over the 8 MiB limit"), "{msg}");
}

/// Issue 14, defect 1: a bare recording's job id comes from its content,
/// not its file name alone: `day1/0001.wav` and `day2/0001.wav` are two
/// jobs; the same bytes under another name are the same job.
#[test]
fn bare_recordings_are_keyed_by_content_not_file_name() {
    use callqa::intake::{bare_recording, BareRecording};
    let dir = tempfile::tempdir().unwrap();
    let write = |rel: &str, bytes: &[u8]| {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let day1 = write("day1/0001.wav", b"RIFF one");
    let day2 = write("day2/0001.wav", b"RIFF two");
    let copy = write("copy/0001.wav", b"RIFF one");
    let id = |p: &std::path::Path| {
        bare_recording(p, &BareRecording::default())
            .unwrap()
            .id()
            .to_string()
    };
    let (a, b, c) = (id(&day1), id(&day2), id(&copy));
    assert_ne!(a, b);
    assert_eq!(a, c);
    // The stem, then 16 hex digits of the content's SHA-256
    // (`printf 'RIFF one' | sha256sum`).
    assert_eq!(a, "0001-92afe841073926b0");
    // A directory or a pipe is refused, not hashed.
    let err = bare_recording(dir.path(), &BareRecording::default()).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

/// Issue 14, defect 8: Opus cannot be decoded, so it is refused at intake
/// with the fix, whether named on the command line or by a call job.
#[test]
fn opus_recordings_are_refused_at_intake_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let opus = dir.path().join("call.opus");
    std::fs::write(&opus, b"OggS").unwrap();
    let err = callqa::intake::collect_inputs(std::slice::from_ref(&opus)).unwrap_err();
    assert!(
        err.to_string().contains("cannot be decoded") && err.to_string().contains("ffmpeg"),
        "{err}"
    );
    let job = serde_json::json!({
        "id": "opus-1", "kind": "call", "agent": {"id": "A"},
        "recording": {"path": opus.to_str().unwrap()},
    })
    .to_string();
    let opts = IntakeOptions {
        recording_roots: vec![dir.path().to_path_buf()],
    };
    let (id, err) = parse_job(job.as_bytes(), &opts).unwrap_err();
    assert_eq!(id.as_deref(), Some("opus-1"));
    let msg = err.to_string();
    assert!(
        msg.starts_with("recording.path: ") && msg.contains("cannot be decoded"),
        "{msg}"
    );
}
