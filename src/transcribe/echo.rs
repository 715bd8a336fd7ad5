//! Prompt echo: Whisper sometimes repeats its own initial prompt (the
//! simplified-Chinese instruction, the pack's vocabulary list) instead of
//! transcribing, most often on noise, hold music or speech it cannot make
//! out ("我只能使用简体中文。"). The prompt must never reach a transcript:
//! clauses that copy a stretch of the instruction, or that are little more
//! than a run of vocabulary terms, are removed. A single vocabulary term in
//! a real sentence ("我要退款") is exactly what the vocabulary is for and
//! stays.

/// What the recognizer was prompted with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prompt {
    /// The instruction sentence(s), e.g. "以下是普通话的客服电话录音，使用简体中文。".
    pub instruction: String,
    /// Vocabulary terms (product names, key phrases) from the rule pack.
    pub terms: Vec<String>,
}

impl Prompt {
    /// The text handed to the recognizer: the instruction, then the terms.
    pub fn text(&self, cjk: bool) -> String {
        let mut s = self.instruction.clone();
        if !self.terms.is_empty() {
            if cjk {
                s.push_str(&self.terms.join("、"));
                s.push('。');
            } else {
                if !s.is_empty() {
                    s.push(' ');
                }
                s.push_str(&self.terms.join(", "));
                s.push('.');
            }
        }
        s
    }

    pub fn is_empty(&self) -> bool {
        self.instruction.trim().is_empty() && self.terms.is_empty()
    }
}

/// Matching units (`clean`'s: CJK characters one by one, other words
/// whole), reduced to lower-cased letters and digits.
fn units(s: &str) -> Vec<String> {
    super::clean::units(s)
        .iter()
        .map(|u| super::clean::key(u))
        .filter(|k| !k.is_empty())
        .collect()
}

/// How many units of a stretch copied from the instruction make an echo:
/// four Chinese characters ("简体中文") or three words.
fn min_copy(units: &[String]) -> usize {
    if units
        .first()
        .is_some_and(|u| u.chars().count() == 1 && u.chars().all(crate::text::is_cjk))
    {
        4
    } else {
        3
    }
}

/// Whether `clause` shares a run of at least `n` consecutive units with `src`.
fn shares_run(clause: &[String], src: &[String], n: usize) -> bool {
    if clause.len() < n || src.len() < n {
        return false;
    }
    src.windows(n).any(|w| clause.windows(n).any(|c| c == w))
}

/// Whether a clause is mostly vocabulary terms: two or more of them
/// covering at least 80 % of its letters.
fn mostly_terms(clause: &str, terms: &[String]) -> bool {
    let letters = |s: &str| s.chars().filter(|c| c.is_alphanumeric()).count();
    let total = letters(clause);
    if total == 0 {
        return false;
    }
    let lower = clause.to_lowercase();
    let mut rest = lower.clone();
    let mut hits = 0;
    for t in terms {
        let t = t.to_lowercase();
        if !t.trim().is_empty() && rest.contains(&t) {
            hits += 1;
            rest = rest.replace(&t, " ");
        }
    }
    hits >= 2 && (total - letters(&rest)) * 10 >= total * 8
}

/// Whether a clause is one vocabulary term and (almost) nothing else.
fn only_term(clause: &str, terms: &[String]) -> bool {
    let letters = |s: &str| s.chars().filter(|c| c.is_alphanumeric()).count();
    let total = letters(clause);
    let lower = clause.to_lowercase();
    total > 0
        && terms.iter().any(|t| {
            let t = t.to_lowercase();
            !t.trim().is_empty() && lower.contains(&t) && letters(&t) * 10 >= total * 9
        })
}

/// Splits text into clauses, keeping each clause's closing punctuation.
fn clauses(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        if matches!(
            c,
            '。' | '！' | '？' | '，' | '；' | '.' | '!' | '?' | ',' | ';'
        ) {
            let end = i + c.len_utf8();
            out.push(&text[start..end]);
            start = end;
        }
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    out
}

/// Removes prompt echo from recognised text. Returns the text left and
/// whether anything was removed.
pub fn strip(text: &str, prompt: &Prompt) -> (String, bool) {
    if prompt.is_empty() {
        return (text.to_owned(), false);
    }
    if mostly_terms(text, &prompt.terms) {
        return (String::new(), true);
    }
    let src = units(&prompt.instruction);
    let parts = clauses(text);
    let echo: Vec<bool> = parts
        .iter()
        .map(|clause| {
            let u = units(clause);
            !u.is_empty()
                && (shares_run(&u, &src, min_copy(&u)) || mostly_terms(clause, &prompt.terms))
        })
        .collect();
    // A clause that is nothing but one term is an echo when the next or
    // previous clause is one too ("Refund, order number, …").
    let term_only: Vec<bool> = parts.iter().map(|c| only_term(c, &prompt.terms)).collect();
    let mut kept = String::with_capacity(text.len());
    let mut removed = false;
    for (i, clause) in parts.iter().enumerate() {
        let in_run = term_only[i]
            && (i > 0 && term_only[i - 1] || term_only.get(i + 1).copied().unwrap_or(false));
        if echo[i] || in_run {
            removed = true;
        } else {
            kept.push_str(clause);
        }
    }
    if !removed {
        return (text.to_owned(), false);
    }
    (kept.trim().to_owned(), true)
}

/// Whether `part` is a stretch of `src` (consecutive units).
fn inside(part: &[String], src: &[String]) -> bool {
    !part.is_empty() && part.len() <= src.len() && src.windows(part.len()).any(|w| w == part)
}

/// An echo split across consecutive recognised texts of one speaker
/// ("…电话" then "录音，…"): for each pair, the last clause of the first and
/// the first clause of the second are joined; when each half is itself a
/// piece of the instruction and together they copy a stretch of it long
/// enough to be an echo, both halves are removed. Real speech that only
/// happens to share words with the instruction ("我是客服" | "电话号码…")
/// stays, since a half with other words is not a piece of it. Returns how
/// many such joins were removed.
pub fn strip_joins(texts: &mut [String], prompt: &Prompt) -> usize {
    let src = units(&prompt.instruction);
    if src.is_empty() {
        return 0;
    }
    let mut removed = 0;
    for k in 1..texts.len() {
        let (tail, head) = match (clauses(&texts[k - 1]).last(), clauses(&texts[k]).first()) {
            (Some(t), Some(h)) => (t.to_string(), h.to_string()),
            _ => continue,
        };
        let (tu, hu) = (units(&tail), units(&head));
        let joined: Vec<String> = tu.iter().chain(&hu).cloned().collect();
        // A join that is a stretch of the instruction makes each half one.
        if !tu.is_empty()
            && !hu.is_empty()
            && joined.len() >= min_copy(&joined)
            && inside(&joined, &src)
        {
            let a = &texts[k - 1];
            texts[k - 1] = a[..a.len() - tail.len()].trim_end().to_owned();
            texts[k] = texts[k][head.len()..].trim_start().to_owned();
            removed += 1;
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zh() -> Prompt {
        Prompt {
            instruction: "以下是普通话的客服电话录音，使用简体中文。".into(),
            terms: vec![
                "不归我管".into(),
                "订单号".into(),
                "退款".into(),
                "七天无理由".into(),
            ],
        }
    }

    fn en() -> Prompt {
        Prompt {
            instruction: "A customer service phone call.".into(),
            terms: vec!["refund".into(), "order number".into(), "blue kettle".into()],
        }
    }

    #[test]
    fn echo_table() {
        let cases: Vec<(Prompt, &str, &str, bool)> = vec![
            // The echo seen on a Mandarin mono call.
            (
                zh(),
                "我只能使用简体中文。这次的证明是有些人的证明。",
                "这次的证明是有些人的证明。",
                true,
            ),
            (zh(), "以下是普通话的客服电话录音", "", true),
            (
                zh(),
                "您好，请问有什么可以帮您？",
                "您好，请问有什么可以帮您？",
                false,
            ),
            // One vocabulary term in a real sentence is what biasing is for.
            (
                zh(),
                "我要退款，订单号是一二三。",
                "我要退款，订单号是一二三。",
                false,
            ),
            // A run of terms is the prompt read back.
            (zh(), "不归我管、订单号、退款、七天无理由。", "", true),
            (zh(), "好的。退款、订单号。", "好的。", true),
            // Two characters in common are not an echo.
            (zh(), "我用中文说吧", "我用中文说吧", false),
            (
                en(),
                "A customer service phone call. Hello?",
                "Hello?",
                true,
            ),
            (
                en(),
                "I want a refund for my order.",
                "I want a refund for my order.",
                false,
            ),
            (en(), "Refund, order number, blue kettle.", "", true),
            (
                en(),
                "Our customer service team will call you.",
                "Our customer service team will call you.",
                false,
            ),
            (Prompt::default(), "使用简体中文", "使用简体中文", false),
        ];
        for (p, input, want, removed) in cases {
            assert_eq!(strip(input, &p), (want.to_owned(), removed), "{input:?}");
        }
    }

    #[test]
    fn echo_split_across_two_texts() {
        let split = |a: &str, b: &str| {
            let mut t = vec![a.to_owned(), b.to_owned()];
            let n = strip_joins(&mut t, &zh());
            (t, n)
        };
        // The CI case: a prompt run cut in two.
        assert_eq!(
            split("电话", "录音，不归"),
            (vec![String::new(), "不归".to_owned()], 1)
        );
        assert_eq!(
            split("好的，客服电", "话录音。"),
            (vec!["好的，".to_owned(), String::new()], 1)
        );
        // Real speech sharing words with the instruction stays.
        let real = (
            vec!["我是客服，".to_owned(), "电话号码是多少".to_owned()],
            0,
        );
        assert_eq!(split("我是客服，", "电话号码是多少"), real);
        // Too short to be an echo.
        let short = (vec!["中文".to_owned(), "好的".to_owned()], 0);
        assert_eq!(split("中文", "好的"), short);
    }

    #[test]
    fn prompt_text() {
        assert_eq!(
            zh().text(true),
            "以下是普通话的客服电话录音，使用简体中文。不归我管、订单号、退款、七天无理由。"
        );
        assert_eq!(
            en().text(false),
            "A customer service phone call. refund, order number, blue kettle."
        );
    }
}
