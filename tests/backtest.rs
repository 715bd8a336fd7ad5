//! Back-testing a rule change: the sample chats (Chinese and English) are
//! scored through the real pipeline into a temp SQLite database; a copy of
//! the default packs gets one new buck-passing phrase per language; the
//! back-test must report exactly the stored contacts whose agent says that
//! phrase as gaining the flag, and nothing else changing — through the
//! library and through `callqa backtest --json`.

mod support;

use std::collections::BTreeSet;

use callqa::domain::Speaker;
use callqa::rules::PackSet;
use callqa::store::ResultFilter;
use support::*;

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Adds `phrase` to the `buck_passing` rule of `lang`'s pack and bumps the
/// pack version.
fn add_phrase(rules: &std::path::Path, lang: &str, phrase: &str) {
    let file = rules.join(lang).join("rules.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let anchor = "id = \"buck_passing\"";
    let at = text.find(anchor).expect("a buck_passing rule");
    let list = at + text[at..].find("phrases = [").unwrap() + "phrases = [".len();
    let mut edited = format!("{}\"{phrase}\", {}", &text[..list], &text[list..]);
    // The pack's own version, marked as a trial (whatever the shipped one is).
    let v = edited.find("\nversion = \"").expect("a pack version") + "\nversion = \"".len();
    let end = v + edited[v..].find('"').unwrap();
    edited.insert_str(end, "-trial");
    std::fs::write(&file, edited).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_phrase_flags_exactly_the_contacts_that_say_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("callqa.db");
    let store = callqa::store::Store::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    let p = pipeline(&store);
    let mut chats: Vec<_> = std::fs::read_dir(repo().join("samples/chats"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    chats.sort();
    for f in &chats {
        run_chat(&p, std::fs::read_to_string(f).unwrap()).await;
    }
    let stored = store
        .results_between(&ResultFilter {
            since: Some("2026-11-01T00:00:00.000Z".into()),
            until: Some("2026-12-01T00:00:00.000Z".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        stored.len() >= 8,
        "{} sample chats in November",
        stored.len()
    );

    let edited = dir.path().join("rules-edited");
    copy_dir(&repo().join("rules"), &edited);
    let phrases = [
        ("en", "is there anything else i can help you with"),
        ("zh", "很高兴为您服务"),
    ];
    for (lang, phrase) in phrases {
        add_phrase(&edited, lang, phrase);
    }
    // Who says it and is not flagged for buck-passing already, from the
    // stored (redacted) results themselves.
    let mut want = BTreeSet::new();
    for r in stored
        .iter()
        .filter(|r| r.flags.iter().all(|f| f.rule != "buck_passing"))
    {
        for (lang, phrase) in phrases {
            let says = r.language.as_str() == lang
                && r.turns
                    .iter()
                    .any(|t| t.speaker == Speaker::Agent && t.text.to_lowercase().contains(phrase));
            if says {
                want.insert(r.job_id.clone());
            }
        }
    }
    assert!(
        want.len() >= 2,
        "both languages have a contact saying it: {want:?}"
    );

    let current = PackSet::load(&repo().join("rules")).unwrap();
    let trial = PackSet::load(&edited).unwrap();
    let b = callqa::backtest::run(&stored, &current, &trial);
    assert_eq!(b.contacts, stored.len());
    assert_eq!(b.skipped, 0);
    let buck = b.rules.iter().find(|r| r.rule == "buck_passing").unwrap();
    let gained: BTreeSet<String> = buck.gained.iter().cloned().collect();
    assert_eq!(gained, want);
    assert!(buck.lost.is_empty());
    assert_eq!(buck.after, buck.before + want.len());
    for r in &b.rules {
        if r.rule != "buck_passing" {
            assert!(r.gained.is_empty() && r.lost.is_empty(), "{r:?}");
        }
    }
    // A forbidden phrase costs points: the mean QA score drops.
    assert!(
        b.after.avg_score.unwrap() < b.before.avg_score.unwrap(),
        "{b:?}"
    );
    assert!(
        b.packs.iter().any(|p| p.contains("-trial")),
        "{:?}",
        b.packs
    );

    // The command says the same.
    store.close().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_callqa"))
        .args(["backtest", "--period", "2026-11", "--json", "--rules"])
        .arg(&edited)
        .env("CALLQA_DATABASE", format!("sqlite://{}", db.display()))
        .env("CALLQA_RULES", repo().join("rules"))
        .env("CALLQA_EVALUATION", repo().join("rules/evaluation.toml"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rule = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["rule"] == "buck_passing")
        .unwrap();
    let cli: BTreeSet<String> = rule["gained"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(cli, want, "{v}");
    assert_eq!(v["rules"][0]["rule"], "buck_passing", "changed rules first");
}
