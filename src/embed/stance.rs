//! The clause that carries a speaker's stance. In "X, but Y" the speaker
//! stands behind Y: "I'm not angry, but please cancel my subscription" is a
//! calm request, "it was fine at first, but now I'm furious" is anger. A
//! sentence encoder blurs such turns (and barely registers negation), so
//! the embed stage also scores the clause after the last contrastive
//! conjunction, and anger is judged on that.

use std::sync::OnceLock;

use regex::Regex;

use crate::domain::Language;

fn markers(language: Language) -> &'static Regex {
    static ZH: OnceLock<Regex> = OnceLock::new();
    static EN: OnceLock<Regex> = OnceLock::new();
    match language {
        // Longest first so 但是 wins over 但.
        Language::Zh => ZH.get_or_init(|| {
            Regex::new("但是|可是|不过|然而|只是|但").expect("static regex")
        }),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stance_is_the_clause_after_the_last_contrast() {
        let cases: &[(Language, &str, Option<&str>)] = &[
            (Language::En, "I'm not angry, but please cancel my subscription.", Some("please cancel my subscription")),
            (Language::En, "It was fine at first. However, now I'm furious!", Some("now I'm furious")),
            (Language::En, "Please cancel my subscription.", None),
            (Language::En, "Nothing but trouble", None),
            (Language::En, "Butter is on the table, thanks", None),
            (Language::Zh, "我没有生气，但是请帮我取消订阅。", Some("请帮我取消订阅")),
            (Language::Zh, "东西还行，不过物流太慢了", Some("物流太慢了")),
            (Language::Zh, "请帮我注销账户", None),
        ];
        for (lang, text, want) in cases {
            assert_eq!(stance_clause(text, *lang), *want, "{text}");
        }
    }
}
