//! The clause that carries a speaker's stance. In "X, but Y" the speaker
//! stands behind Y: "I'm not angry, but please cancel my subscription" is a
//! calm request, "it was fine at first, but now I'm furious" is anger. A
//! sentence encoder blurs such turns (and barely registers negation), so
//! the embed stage also scores the clause after the last contrastive
//! conjunction, and anger is judged on that.
//!
//! `clauses` cuts a turn at sentence and clause punctuation (and, in
//! English, before "and"/"or"/"so" opening a clause with its own subject,
//! where recognised speech often has no comma), so that a
//! short formulaic act inside a long turn ("I'm so sorry about the wait,
//! …it will arrive on Friday") is matched on its own by semantic rules and
//! intents instead of being diluted by the rest of the turn.

use std::sync::OnceLock;

use regex::Regex;

use crate::domain::Language;

fn markers(language: Language) -> &'static Regex {
    static ZH: OnceLock<Regex> = OnceLock::new();
    static EN: OnceLock<Regex> = OnceLock::new();
    match language {
        // Longest first so 但是 wins over 但.
        Language::Zh => {
            ZH.get_or_init(|| Regex::new("但是|可是|不过|然而|只是|但").expect("static regex"))
        }
        Language::En => EN.get_or_init(|| {
            Regex::new(r"(?i)\b(?:but|however|though|although|yet)\b").expect("static regex")
        }),
    }
}

/// The part of `text` after its last contrastive conjunction, when there is
/// one and something meaningful follows it.
pub fn stance_clause(text: &str, language: Language) -> Option<&str> {
    let m = markers(language).find_iter(text).last()?;
    let rest = text[m.end()..].trim_matches(|c: char| {
        c.is_whitespace() || c.is_ascii_punctuation() || "，。！？、；：…,".contains(c)
    });
    let enough = match language {
        Language::Zh => rest.chars().filter(|c| c.is_alphanumeric()).count() >= 2,
        Language::En => rest.split_whitespace().count() >= 2,
    };
    enough.then_some(rest)
}

/// Most clauses of one turn embedded separately (a pasted document should
/// not multiply the batch).
pub const MAX_CLAUSES: usize = 8;

fn meaningful(s: &str, language: Language) -> bool {
    match language {
        Language::Zh => s.chars().filter(|c| c.is_alphanumeric()).count() >= 2,
        Language::En => s.split_whitespace().count() >= 2,
    }
}

/// An English clause joined to the one before by "and", "or" or "so" and
/// opening with its own subject ("… for ages and I want …", "… or I will
/// file a complaint"): group 1 is where the new clause starts. Speech
/// recognition often leaves out the comma there, which would otherwise
/// keep the two clauses one.
fn coordinated(language: Language) -> Option<&'static Regex> {
    static EN: OnceLock<Regex> = OnceLock::new();
    (language == Language::En).then(|| {
        EN.get_or_init(|| {
            Regex::new(r"(?i)\s+(?:and|or|so)\s+((?:i|i'm|i've|i'll|we|you|he|she|they|it)\b)")
                .expect("static regex")
        })
    })
}

/// Adds the meaningful parts of `part`, cut before coordinated clauses.
fn push_clause<'a>(out: &mut Vec<&'a str>, part: &'a str, language: Language) {
    let mut rest = part.trim();
    if let Some(re) = coordinated(language) {
        while let Some((whole, subject)) =
            re.captures(rest).and_then(|c| Some((c.get(0)?, c.get(1)?)))
        {
            let head = rest[..whole.start()].trim();
            if meaningful(head, language) {
                out.push(head);
            }
            rest = &rest[subject.start()..];
        }
    }
    if meaningful(rest, language) {
        out.push(rest);
    }
}

/// The clauses of a turn (split at 。！？；，,;!?, at a full stop before a
/// space, and in English before a coordinated clause with its own
/// subject), when it has more than one meaningful clause; empty otherwise.
pub fn clauses(text: &str, language: Language) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut it = text.char_indices().peekable();
    while let Some((i, c)) = it.next() {
        let cut = match c {
            '。' | '！' | '？' | '；' | '，' | '、' | '!' | '?' | ';' | ',' | '\n' => true,
            '.' => it.peek().is_none_or(|&(_, n)| n.is_whitespace()),
            _ => false,
        };
        if cut {
            push_clause(&mut out, &text[start..i], language);
            start = i + c.len_utf8();
        }
    }
    push_clause(&mut out, &text[start..], language);
    if out.len() < 2 {
        return Vec::new();
    }
    out.truncate(MAX_CLAUSES);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stance_is_the_clause_after_the_last_contrast() {
        let cases: &[(Language, &str, Option<&str>)] = &[
            (
                Language::En,
                "I'm not angry, but please cancel my subscription.",
                Some("please cancel my subscription"),
            ),
            (
                Language::En,
                "It was fine at first. However, now I'm furious!",
                Some("now I'm furious"),
            ),
            (Language::En, "Please cancel my subscription.", None),
            (Language::En, "Nothing but trouble", None),
            (Language::En, "Butter is on the table, thanks", None),
            (
                Language::Zh,
                "我没有生气，但是请帮我取消订阅。",
                Some("请帮我取消订阅"),
            ),
            (Language::Zh, "东西还行，不过物流太慢了", Some("物流太慢了")),
            (Language::Zh, "请帮我注销账户", None),
        ];
        for (lang, text, want) in cases {
            assert_eq!(stance_clause(text, *lang), *want, "{text}");
        }
    }

    #[test]
    fn clauses_split_long_turns_only() {
        assert_eq!(
            clauses("I'm so sorry about the wait, that shouldn't have happened. It will arrive on Friday.", Language::En),
            ["I'm so sorry about the wait", "that shouldn't have happened", "It will arrive on Friday"]
        );
        assert_eq!(
            clauses("非常抱歉让您久等了，明天一定送到。", Language::Zh),
            ["非常抱歉让您久等了", "明天一定送到"]
        );
        assert!(clauses("Sorry about that.", Language::En).is_empty());
        assert!(clauses("It costs 3.5 dollars", Language::En).is_empty());
        assert!(clauses("OK, thanks", Language::En).is_empty());
        // Recognised speech without its commas: clauses with their own
        // subject after "and" / "or" are cut; a list of things is not.
        assert_eq!(
            clauses("Hello? Is anyone there? I have been waiting for ages and I want this sorted out today or I will file a complaint.", Language::En),
            ["Is anyone there", "I have been waiting for ages", "I want this sorted out today", "I will file a complaint"]
        );
        assert!(clauses("I would like the kettle and the toaster", Language::En).is_empty());
        assert!(clauses("Salt and iodine are fine", Language::En).is_empty());
    }
}
