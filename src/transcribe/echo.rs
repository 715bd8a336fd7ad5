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
