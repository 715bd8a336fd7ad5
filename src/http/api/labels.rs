//! Names for people, in Chinese and English, that the page shows instead
//! of flag ids: the report's wording, so page and report agree; flags the
//! loaded packs declare come with their packs' labels.

use std::collections::BTreeMap;

use axum::Json;
use serde::Serialize;

use super::*;
use crate::domain::FlagId;
use crate::report::labels::flag_label;

#[derive(Serialize)]
pub(super) struct LabelsDto {
    /// language → flag id → name.
    pub(super) flags: BTreeMap<&'static str, BTreeMap<&'static str, &'static str>>,
}

pub(super) async fn labels(_user: User) -> Json<LabelsDto> {
    let flags = Language::ALL
        .into_iter()
        .map(|l| {
            (
                l.as_str(),
                FlagId::ALL
                    .into_iter()
                    .chain(FlagId::declared().into_iter().map(|(f, _)| f))
                    .map(|f| (f.as_str(), flag_label(f, l)))
                    .collect(),
            )
        })
        .collect();
    Json(LabelsDto { flags })
}
