//! Coaching: for each rule that raised a flag, the pack's concrete
//! suggestion in the conversation's language, most severe first and once
//! per rule however often it fired.

use std::collections::HashSet;

use crate::domain::{Coaching, Flag};
use crate::rules::RulePack;

pub fn suggest(pack: &RulePack, flags: &[Flag]) -> Vec<Coaching> {
    let mut order: Vec<&Flag> = flags.iter().collect();
    // Stable: equal severities keep conversation order.
    order.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let mut seen = HashSet::new();
    order
        .into_iter()
        .filter(|f| seen.insert(f.rule.clone()))
        .filter_map(|f| {
            let rule = pack.rule(&f.rule)?;
            (!rule.meta.coaching.trim().is_empty()).then(|| Coaching {
                flag: f.id,
                rule: f.rule.clone(),
                text: rule.meta.coaching.clone(),
            })
        })
        .collect()
}
