//! Human review of what the machine flagged: who may do what (roles), a
//! reviewer's decision on a flag, and an agent's dispute (申诉) of a flag
//! that a supervisor decides. Reports leave dismissed flags out.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// What a user of the review page may do. Roles are ordered: each one can
/// do what the roles below it can, except that only agents dispute and only
/// agents are limited to their own conversations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Sees only their own results; can dispute their own flags.
    Agent,
    /// Sees everything; confirms or dismisses flags.
    Reviewer,
    /// A reviewer who also decides disputes and enters supervisor scores.
    Supervisor,
    /// A supervisor who also manages users and rule packs.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Agent, Role::Reviewer, Role::Supervisor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Reviewer => "reviewer",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
        }
    }

    /// Whether this role includes `other`'s permissions.
    pub fn includes(self, other: Role) -> bool {
        self >= other
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!("unknown role {s:?} (expected agent, reviewer, supervisor or admin)")
            })
    }
}

/// A reviewer's verdict on one flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// The flag is right: it stays in the agent's KPIs.
    Confirmed,
    /// A false positive: the flag drops out of KPIs and scores.
    Dismissed,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Confirmed => "confirmed",
            Decision::Dismissed => "dismissed",
        }
    }
}

impl FromStr for Decision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "confirmed" => Ok(Decision::Confirmed),
            "dismissed" => Ok(Decision::Dismissed),
            other => Err(format!(
                "unknown decision {other:?} (expected confirmed or dismissed)"
            )),
        }
    }
}

/// Where an agent's dispute of a flag stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeStatus {
    Open,
    /// The agent was right: the flag is dismissed.
    Upheld,
    /// The flag stands: it is confirmed.
    Rejected,
}

impl DisputeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DisputeStatus::Open => "open",
            DisputeStatus::Upheld => "upheld",
            DisputeStatus::Rejected => "rejected",
        }
    }

    /// The flag decision a closed dispute implies.
    pub fn decision(self) -> Option<Decision> {
        match self {
            DisputeStatus::Open => None,
            DisputeStatus::Upheld => Some(Decision::Dismissed),
            DisputeStatus::Rejected => Some(Decision::Confirmed),
        }
    }
}

impl FromStr for DisputeStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "open" => Ok(DisputeStatus::Open),
            "upheld" => Ok(DisputeStatus::Upheld),
            "rejected" => Ok(DisputeStatus::Rejected),
            other => Err(format!(
                "unknown dispute status {other:?} (expected open, upheld or rejected)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered_and_round_trip() {
        assert!(Role::Admin.includes(Role::Supervisor));
        assert!(Role::Supervisor.includes(Role::Reviewer));
        assert!(!Role::Reviewer.includes(Role::Supervisor));
        assert!(!Role::Agent.includes(Role::Reviewer));
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), r);
        }
        assert!("root".parse::<Role>().is_err());
    }

    #[test]
    fn closed_disputes_imply_a_decision() {
        assert_eq!(DisputeStatus::Upheld.decision(), Some(Decision::Dismissed));
        assert_eq!(
            DisputeStatus::Rejected.decision(),
            Some(Decision::Confirmed)
        );
        assert_eq!(DisputeStatus::Open.decision(), None);
    }
}
