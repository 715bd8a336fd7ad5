//! Each rule kind's own settings: one struct per kind, each refusing
//! fields it does not read (`deny_unknown_fields`), in one file per
//! analyser (`phrase`, `pii`, `timing`, `acoustics`, `semantic`,
//! `sentiment`, as in `crate::analyse`), and a tagged enum over them.
//!
//! The enum is chosen by the rule's `kind` by hand rather than by serde's
//! `#[serde(tag = "kind")]`: serde buffers a tagged enum's fields, which
//! loses the file positions TOML gives them, and a QA lead's mistake must
//! be reported with its line. A field the kind does not read is an error
//! naming the field, its line and the kinds that do read it.

mod acoustics;
mod phrase;
mod pii;
mod semantic;
mod sentiment;
mod timing;

use std::ops::Range;

use serde::de::{DeserializeOwned, IntoDeserializer};
use toml::de::DeTable;
use toml::Spanned;

use super::matcher::MatchOptions;
use super::{PackError, RuleKind, SourceFile, Window};

/// Declares the kinds once: their names, their structs, and how a rule's
/// fields become one.
macro_rules! kinds {
    ($($name:literal => $variant:ident($file:ty),)*) => {
        /// One rule's kind-specific settings, as written in `rules.toml`.
        #[derive(Debug)]
        pub(super) enum KindFile {
            $($variant($file),)*
        }

        /// Every rule kind.
        pub const KINDS: &[&str] = &[$($name),*];

        /// The fields a kind reads besides the common ones; `None` for an
        /// unknown kind.
        fn fields(kind: &str) -> Option<&'static [&'static str]> {
            match kind {
                $($name => Some(fields_of::<$file>()),)*
                _ => None,
            }
        }

        impl KindFile {
            fn deserialize(kind: &str, t: Spanned<DeTable<'_>>) -> Result<Self, toml::de::Error> {
                Ok(match kind {
                    $($name => Self::$variant(de(t)?),)*
                    other => unreachable!("kind {other:?} was checked"),
                })
            }

            /// The kind's name, as written in `rules.toml`.
            pub(super) fn name(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => $name,)*
                }
            }
        }
    };
}

kinds! {
    "required_phrase" => RequiredPhrase(phrase::RequiredPhraseFile),
    "forbidden_phrase" => ForbiddenPhrase(phrase::PhraseFile),
    "customer_trigger" => CustomerTrigger(phrase::PhraseFile),
    "pii" => Pii(pii::PiiFile),
    "first_response" => FirstResponse(timing::LimitsFile),
    "response_time" => ResponseTime(timing::LimitsFile),
    "long_silence" => LongSilence(acoustics::MinSecondsFile),
    "interruption" => Interruption(acoustics::MinSecondsFile),
    "no_speech" => NoSpeech(acoustics::NoSpeechFile),
    "semantic" => Semantic(semantic::SemanticFile),
    "customer_anger" => CustomerAnger(sentiment::AngerFile),
}

fn de<T: DeserializeOwned>(t: Spanned<DeTable<'_>>) -> Result<T, toml::de::Error> {
    T::deserialize(t.into_deserializer())
}

impl KindFile {
    /// A rule's kind-specific fields (the common ones already taken out)
    /// → the kind's settings. `kind` is the rule's `kind` with its place.
    pub(super) fn parse(
        src: &SourceFile,
        rid: &str,
        kind: &Spanned<String>,
        t: Spanned<DeTable<'_>>,
    ) -> Result<Self, PackError> {
        let name = kind.get_ref().as_str();
        let Some(reads) = fields(name) else {
            return Err(src.err_at(
                kind.span(),
                format!("unknown rule kind {name:?} ({})", KINDS.join(", ")),
            ));
        };
        for key in t.get_ref().keys() {
            let field = key.get_ref().as_ref();
            if reads.contains(&field) {
                continue;
            }
            let readers: Vec<&str> = KINDS
                .iter()
                .copied()
                .filter(|k| fields(k).is_some_and(|f| f.contains(&field)))
                .collect();
            let message = if readers.is_empty() {
                format!(
                    "rule {rid:?}: unknown field `{field}` (a {name} rule reads {})",
                    reads.join(", ")
                )
            } else {
                format!(
                    "rule {rid:?}: `{field}` does not apply to a {name} rule (it is read by {})",
                    readers.join(", ")
                )
            };
            return Err(src.err_at(key.span(), message));
        }
        Self::deserialize(name, t).map_err(|e| src.de_err(&e))
    }

    /// The compiled kind, each checked by the file that reads it.
    pub(super) fn compile(self, cx: &Cx) -> Result<RuleKind, PackError> {
        match self {
            Self::RequiredPhrase(f) => f.compile(cx),
            Self::ForbiddenPhrase(f) => f.compile(cx, phrase::Side::Forbidden),
            Self::CustomerTrigger(f) => f.compile(cx, phrase::Side::Customer),
            Self::Pii(f) => f.compile(cx),
            Self::FirstResponse(f) => Ok(RuleKind::FirstResponse {
                limits: f.compile(cx)?,
            }),
            Self::ResponseTime(f) => Ok(RuleKind::ResponseTime {
                limits: f.compile(cx)?,
            }),
            Self::LongSilence(f) => Ok(RuleKind::LongSilence {
                min_seconds: f.compile(cx)?,
            }),
            Self::Interruption(f) => Ok(RuleKind::Interruption {
                min_seconds: f.compile(cx)?,
            }),
            Self::NoSpeech(_) => Ok(RuleKind::NoSpeech),
            Self::Semantic(f) => f.compile(cx),
            Self::CustomerAnger(f) => f.compile(cx),
        }
    }
}

/// The field names serde's derive gives a struct, read by asking it to
/// deserialize from a deserializer that only records them.
pub(super) fn fields_of<T: DeserializeOwned>() -> &'static [&'static str] {
    use serde::de::{self, Visitor};
    use serde::forward_to_deserialize_any;

    struct Probe<'a>(&'a mut &'static [&'static str]);

    impl<'de> de::Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;

        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }

        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("fields read"))
        }

        forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
            bytes byte_buf option unit unit_struct newtype_struct seq tuple
            tuple_struct map enum identifier ignored_any
        }
    }

    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

/// What compiling one rule's kind needs.
pub(super) struct Cx<'a> {
    pub src: &'a SourceFile,
    pub rid: &'a str,
    pub kind: &'static str,
    pub id_span: Range<usize>,
    pub matching: &'a MatchOptions,
    pub approximate_default: bool,
}

impl Cx<'_> {
    fn err(&self, message: String) -> PackError {
        self.src.err_at(self.id_span.clone(), message)
    }

    fn need(&self, cond: bool, what: &str) -> Result<(), PackError> {
        if cond {
            return Ok(());
        }
        Err(self.err(format!("rule {:?} ({}) needs {what}", self.rid, self.kind)))
    }

    fn positive(&self, v: Option<f64>, what: &str) -> Result<f64, PackError> {
        match v {
            Some(x) if x.is_finite() && x > 0.0 => Ok(x),
            _ => Err(self.err(format!("rule {:?} needs a positive {what}", self.rid))),
        }
    }

    fn unit(&self, v: Option<f32>, default: f32) -> Result<f32, PackError> {
        let v = v.unwrap_or(default);
        self.need((0.0..=1.0).contains(&v), "a threshold between 0 and 1")?;
        Ok(v)
    }
}

/// The window fields of `required_phrase` and `semantic` rules.
fn window(
    first_turns: Option<usize>,
    first_seconds: Option<f64>,
    last_turns: Option<usize>,
    last_seconds: Option<f64>,
) -> Window {
    Window {
        first_turns,
        first_seconds,
        last_turns,
        last_seconds,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_lists_the_fields_its_struct_reads() {
        for k in KINDS {
            assert!(fields(k).is_some(), "{k}");
        }
        assert_eq!(
            fields("forbidden_phrase").unwrap(),
            &[
                "speaker",
                "phrases",
                "patterns",
                "exclude",
                "negation",
                "approximate"
            ]
        );
        assert_eq!(fields("no_speech").unwrap(), &[] as &[&str]);
        assert!(fields("sentiment").is_none());
    }
}
