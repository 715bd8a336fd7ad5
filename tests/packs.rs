//! A bad rule pack or scorecard fails at load time with the file and line,
//! never in the middle of a batch. Each case copies the shipped English
//! pack, breaks one thing, and checks the error names file, line and cause.

use std::fs;
use std::path::{Path, PathBuf};

use callqa::rules::{PackSet, RulePack};

fn shipped(lang: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("rules")
        .join(lang)
}

/// Copies the English pack into a temp dir with `edit` applied to one file.
fn broken(file: &str, edit: impl Fn(String) -> String) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("en");
    fs::create_dir_all(&pack).unwrap();
    for f in ["rules.toml", "scorecard.toml"] {
        let text = fs::read_to_string(shipped("en").join(f)).unwrap();
        fs::write(pack.join(f), if f == file { edit(text) } else { text }).unwrap();
    }
    (dir, pack)
}

fn line_of(text: &str, needle: &str) -> usize {
    text[..text.find(needle).expect("needle in file")]
        .matches('\n')
        .count()
        + 1
}

#[test]
fn shipped_packs_load() {
    let set = PackSet::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules")).unwrap();
    for lang in [callqa::domain::Language::Zh, callqa::domain::Language::En] {
        let p = set.get(lang).expect("pack for each language");
        assert!(p.rules.len() >= 12, "{lang}: {} rules", p.rules.len());
        assert_eq!(
            p.scorecard.sections.iter().map(|s| s.weight).sum::<f64>(),
            100.0
        );
    }
}

#[test]
fn bad_packs_fail_at_load_with_file_and_line() {
    let rules_text = fs::read_to_string(shipped("en").join("rules.toml")).unwrap();
    let card_text = fs::read_to_string(shipped("en").join("scorecard.toml")).unwrap();
    type Edit = Box<dyn Fn(String) -> String>;
    let cases: Vec<(&str, &str, Edit, usize, &str)> = vec![
        (
            "invalid regex",
            "rules.toml",
            Box::new(|t: String| {
                t.replacen(
                    "id = \"buck_passing\"",
                    "id = \"buck_passing\"\npatterns = ['(unclosed']",
                    1,
                )
            }),
            line_of(&rules_text, "id = \"buck_passing\"") + 1,
            "invalid pattern in rule \"buck_passing\"",
        ),
        (
            "unknown rule kind",
            "rules.toml",
            Box::new(|t: String| {
                t.replacen(
                    "kind = \"forbidden_phrase\"",
                    "kind = \"forbiden_phrase\"",
                    1,
                )
            }),
            line_of(&rules_text, "kind = \"forbidden_phrase\""),
            "unknown rule kind \"forbiden_phrase\"",
        ),
        (
            "unknown flag",
            "rules.toml",
            Box::new(|t: String| {
                t.replacen("flag = \"greeting_missing\"", "flag = \"no_greeting\"", 1)
            }),
            line_of(&rules_text, "flag = \"greeting_missing\""),
            "unknown flag id \"no_greeting\"",
        ),
        (
            "a declared flag that shadows a built-in one",
            "rules.toml",
            Box::new(|t: String| {
                t.replacen(
                    "id = \"marketing_compliance\"",
                    "id = \"closing_missing\"",
                    1,
                )
            }),
            line_of(&rules_text, "id = \"marketing_compliance\""),
            "flag \"closing_missing\" is built in",
        ),
        (
            "a rule raising a flag without a declared severity names none",
            "rules.toml",
            Box::new(|t: String| {
                t.replacen("severity = \"major\"\nspeaker = \"agent\"\nfirst_turns", "speaker = \"agent\"\nfirst_turns", 1)
            }),
            line_of(&rules_text, "id = \"greeting\""),
            "rule \"greeting\" has no severity",
        ),
        (
            "a declared flag without a Chinese label",
            "rules.toml",
            Box::new(|t: String| t.replacen("label_zh = \"营销合规\"", "label_zh = \" \"", 1)),
            line_of(&rules_text, "id = \"marketing_compliance\""),
            "needs both label_zh and label_en",
        ),
        (
            "unknown field",
            "rules.toml",
            Box::new(|t: String| {
                t.replacen(
                    "severity = \"major\"",
                    "severity = \"major\"\nweight = 3",
                    1,
                )
            }),
            line_of(&rules_text, "severity = \"major\"") + 1,
            "unknown field `weight`",
        ),
        (
            "toml syntax",
            "rules.toml",
            Box::new(|t: String| t.replacen("[[rules]]", "[[rules]", 1)),
            line_of(&rules_text, "[[rules]]"),
            "",
        ),
        (
            "weights do not add up",
            "scorecard.toml",
            Box::new(|t: String| t.replacen("weight = 20", "weight = 25", 1)),
            line_of(&card_text, "weight = 20"),
            "section weights add up to 105, not 100",
        ),
        (
            "scorecard names a missing rule",
            "scorecard.toml",
            Box::new(|t: String| {
                t.replacen("rules = [\"greeting\"]", "rules = [\"greetings\"]", 1)
            }),
            line_of(&card_text, "rules = [\"greeting\"]"),
            "names rule \"greetings\"",
        ),
        (
            "rule counted twice",
            "scorecard.toml",
            Box::new(|t: String| {
                t.replacen(
                    "rules = [\"closing\"]",
                    "rules = [\"closing\", \"greeting\"]",
                    1,
                )
            }),
            0,
            "rule \"greeting\" is counted by more than one item",
        ),
        (
            "approximate threshold out of range",
            "rules.toml",
            Box::new(|t: String| {
                t.replacen(
                    "approximate_threshold = 0.85",
                    "approximate_threshold = 1.5",
                    1,
                )
            }),
            line_of(&rules_text, "approximate_threshold = 0.85"),
            "approximate_threshold 1.5 must be above 0 and at most 1",
        ),
        (
            "approximate minimum length too small",
            "rules.toml",
            Box::new(|t: String| {
                t.replacen(
                    "approximate_min_length = 2",
                    "approximate_min_length = 1",
                    1,
                )
            }),
            line_of(&rules_text, "approximate_min_length = 2"),
            "approximate_min_length must be at least 2",
        ),
        (
            "approximate on a rule without phrases",
            "rules.toml",
            Box::new(|t: String| {
                t.replacen(
                    "id = \"slow_first_response\"",
                    "id = \"slow_first_response\"\napproximate = true",
                    1,
                )
            }),
            line_of(&rules_text, "id = \"slow_first_response\"") + 1,
            "rule \"slow_first_response\": `approximate` does not apply to a first_response rule (it is read by required_phrase, forbidden_phrase, customer_trigger)",
        ),
        // A kind's own field keeps its line through the per-kind struct.
        (
            "a kind's field of the wrong type",
            "rules.toml",
            Box::new(|t: String| t.replacen("min_seconds = 10", "min_seconds = \"ten\"", 1)),
            line_of(&rules_text, "min_seconds = 10"),
            "invalid type: string \"ten\", expected f64",
        ),
        // Issue 14, seam 4: a field the rule's kind does not read is an
        // error, not a setting silently ignored.
        (
            "a field the kind does not read",
            "rules.toml",
            Box::new(|t: String| {
                t.replacen(
                    "id = \"buck_passing\"",
                    "id = \"buck_passing\"\nthreshold = 0.5",
                    1,
                )
            }),
            line_of(&rules_text, "id = \"buck_passing\"") + 1,
            "rule \"buck_passing\": `threshold` does not apply to a forbidden_phrase rule (it is read by semantic, customer_anger)",
        ),
        (
            "a window on a rule that has none",
            "rules.toml",
            Box::new(|t: String| {
                t.replacen(
                    "id = \"buck_passing\"",
                    "id = \"buck_passing\"\nfirst_turns = 2",
                    1,
                )
            }),
            line_of(&rules_text, "id = \"buck_passing\"") + 1,
            "`first_turns` does not apply to a forbidden_phrase rule (it is read by required_phrase, semantic)",
        ),
        (
            "vocabulary entry too long",
            "rules.toml",
            Box::new(|t: String| {
                t.replacen(
                    "vocabulary = [\"Acme\", ",
                    "vocabulary = [\"Acme\", \"the Acme Deluxe Coffee Machine Pro Max\", ",
                    1,
                )
            }),
            line_of(&rules_text, "vocabulary = ["),
            "has 38 characters; at most 32",
        ),
        (
            "vocabulary entry listed twice",
            "rules.toml",
            Box::new(|t: String| {
                t.replacen(
                    "vocabulary = [\"Acme\", ",
                    "vocabulary = [\"Acme\", \"refund\", ",
                    1,
                )
            }),
            line_of(&rules_text, "vocabulary = ["),
            "vocabulary entry \"refund\" is listed twice",
        ),
        (
            "vocabulary entry empty",
            "rules.toml",
            Box::new(|t: String| {
                t.replacen(
                    "vocabulary = [\"Acme\", ",
                    "vocabulary = [\"Acme\", \" \", ",
                    1,
                )
            }),
            line_of(&rules_text, "vocabulary = ["),
            "vocabulary entry \"\" is empty",
        ),
    ];
    let mut failures = Vec::new();
    for (name, file, edit, line, words) in cases {
        let (_dir, pack) = broken(file, edit);
        match RulePack::load(&pack) {
            Ok(_) => failures.push(format!("{name}: loaded")),
            Err(e) => {
                let msg = e.to_string();
                if !e.file.ends_with(file) {
                    failures.push(format!("{name}: names {:?}, not {file}", e.file));
                }
                if line != 0 && e.line != Some(line) {
                    failures.push(format!("{name}: line {:?}, want {line}: {msg}", e.line));
                }
                if !msg.contains(words) {
                    failures.push(format!("{name}: {msg:?} lacks {words:?}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn a_missing_pack_directory_is_a_clear_error() {
    let err = PackSet::load(Path::new("/nonexistent/rules"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("/nonexistent/rules") && err.contains("cannot read"),
        "{err}"
    );
    let empty = tempfile::tempdir().unwrap();
    let err = PackSet::load(empty.path()).unwrap_err().to_string();
    assert!(err.contains("no rule packs"), "{err}");
}

/// Issue 14, defect 2: an edit staged by the review server (or left behind
/// when it died mid-edit) in `rules/.staging-*` is not a second pack; a
/// worker starting meanwhile loads the live packs.
#[test]
fn hidden_staging_folders_are_not_packs() {
    let dir = tempfile::tempdir().unwrap();
    for lang in ["zh", "en"] {
        let to = dir.path().join(lang);
        fs::create_dir_all(&to).unwrap();
        for f in ["rules.toml", "scorecard.toml"] {
            fs::copy(shipped(lang).join(f), to.join(f)).unwrap();
        }
    }
    // A staged copy of the English pack, and a half-written one.
    let staged = dir.path().join(".staging-3fa9c2");
    fs::create_dir_all(&staged).unwrap();
    for f in ["rules.toml", "scorecard.toml"] {
        fs::copy(shipped("en").join(f), staged.join(f)).unwrap();
    }
    let half = dir.path().join(".staging-77e0b1");
    fs::create_dir_all(&half).unwrap();
    fs::write(half.join("rules.toml"), "[pack]\nid = \"half").unwrap();

    let set = PackSet::load(dir.path()).expect("hidden folders are skipped");
    let live_en = RulePack::load(&shipped("en")).unwrap();
    assert_eq!(set.iter().count(), 2);
    assert_eq!(
        set.get(callqa::domain::Language::En).unwrap().label(),
        live_en.label()
    );
}

/// The English pack's two files with the greeting rule renamed, so either
/// file of this pair with the other file of the shipped pair does not load
/// (the scorecard would count a rule that is not there).
fn renamed_pair(tag: &str) -> (String, String) {
    let rules = fs::read_to_string(shipped("en").join("rules.toml"))
        .unwrap()
        .replacen("id = \"greeting\"", &format!("id = \"greeting_{tag}\""), 1);
    let rules = tag_version(&rules, tag);
    let card = fs::read_to_string(shipped("en").join("scorecard.toml"))
        .unwrap()
        .replacen(
            "rules = [\"greeting\"]",
            &format!("rules = [\"greeting_{tag}\"]"),
            1,
        );
    (rules, tag_version(&card, tag))
}

/// The shipped English pack's version (rules and scorecard share it).
fn shipped_version() -> String {
    let text = fs::read_to_string(shipped("en").join("rules.toml")).unwrap();
    let v = text.find("\nversion = \"").unwrap() + "\nversion = \"".len();
    text[v..v + text[v..].find('"').unwrap()].to_owned()
}

/// `text` with its first `version = "X"` made `X-tag`.
fn tag_version(text: &str, tag: &str) -> String {
    let v = text.find("\nversion = \"").expect("a version") + "\nversion = \"".len();
    let end = v + text[v..].find('"').unwrap();
    format!("{}-{tag}{}", &text[..end], &text[end..])
}

fn copy_shipped(to: &Path) {
    for lang in ["zh", "en"] {
        fs::create_dir_all(to.join(lang)).unwrap();
        for f in ["rules.toml", "scorecard.toml"] {
            fs::copy(shipped(lang).join(f), to.join(lang).join(f)).unwrap();
        }
    }
}

/// Issue 14, defect 2: an edit replaces both files in one atomic swap,
/// keeps backups, leaves no staging folder, cleans up one left by a crash,
/// and a bad edit changes nothing.
#[test]
fn pack_edits_swap_both_files_at_once_and_clean_up() {
    use callqa::rules::edit;
    let dir = tempfile::tempdir().unwrap();
    copy_shipped(dir.path());
    let en = dir.path().join("en");
    fs::write(en.join("NOTES.md"), "kept").unwrap();
    // A crash mid-edit long ago left this behind.
    let stale = dir.path().join(".staging-crashed");
    fs::create_dir(&stale).unwrap();
    fs::write(stale.join("rules.toml"), "half").unwrap();
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    fs::File::open(&stale).unwrap().set_modified(old).unwrap();

    let (rules, card) = renamed_pair("b");
    let pack = edit::replace(&en, &rules, &card, |_| Ok(())).unwrap();
    assert_eq!(
        pack.label(),
        format!("callqa-default-en@{}-b", shipped_version())
    );
    assert_eq!(pack.dir, en);
    assert_eq!(fs::read_to_string(en.join("rules.toml")).unwrap(), rules);
    assert_eq!(fs::read_to_string(en.join("scorecard.toml")).unwrap(), card);
    assert_eq!(
        fs::read_to_string(en.join("rules.toml.bak")).unwrap(),
        fs::read_to_string(shipped("en").join("rules.toml")).unwrap()
    );
    assert_eq!(fs::read_to_string(en.join("NOTES.md")).unwrap(), "kept");
    let hidden = || -> Vec<String> {
        fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect()
    };
    // The old pack is kept until the next edit; no staging folder is left.
    assert_eq!(hidden(), [".previous-en"]);
    assert_eq!(
        fs::read_to_string(dir.path().join(".previous-en/scorecard.toml")).unwrap(),
        fs::read_to_string(shipped("en").join("scorecard.toml")).unwrap()
    );

    // Refused by the caller, or not a pack: the live files stay.
    let (rules_c, card_c) = renamed_pair("c");
    let e = edit::replace(&en, &rules_c, &card_c, |_| Err("no".into())).unwrap_err();
    assert_eq!(e.to_string(), "no");
    let e = edit::replace(&en, &rules_c, "[scorecard]\nid = 1", |_| Ok(())).unwrap_err();
    assert!(e.to_string().contains("scorecard.toml"), "{e}");
    assert_eq!(fs::read_to_string(en.join("rules.toml")).unwrap(), rules);
    assert_eq!(hidden(), [".previous-en"]);
}

/// Issue 14, defect 2: packs loaded while edits swap them in and out are
/// always whole: never the rules of one edit with the scorecard of another.
#[test]
fn packs_loaded_during_edits_are_never_half_edited() {
    use callqa::rules::edit;
    let dir = tempfile::tempdir().unwrap();
    copy_shipped(dir.path());
    let en = dir.path().join("en");
    let pairs = [renamed_pair("b"), renamed_pair("c")];
    let done = std::sync::atomic::AtomicBool::new(false);
    let loads = std::thread::scope(|s| {
        let reader = s.spawn(|| {
            let mut loads = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let set = PackSet::load(dir.path()).unwrap_or_else(|e| panic!("load {loads}: {e}"));
                let p = set.get(callqa::domain::Language::En).unwrap();
                assert_eq!(p.label(), p.scorecard.label());
                loads += 1;
            }
            loads
        });
        for i in 0..80 {
            let (rules, card) = &pairs[i % 2];
            edit::replace(&en, rules, card, |_| Ok(())).unwrap();
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        reader.join().unwrap()
    });
    assert!(loads > 10, "only {loads} loads ran beside the edits");
}
