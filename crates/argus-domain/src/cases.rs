//! Cases: their states, and the rules between them.

use crate::text_enum::text_enum;

text_enum! {
    /// A case is opened `open`, may move between `open` and `in_progress`,
    /// and is `closed` once, for good, by its own mutation.
    pub enum CaseStatus("case status") {
        Open = "open",
        InProgress = "in_progress",
        Closed = "closed",
    }
}

impl CaseStatus {
    /// Whether the case's fields may still change: a closed case cannot.
    pub fn accepts_changes(self) -> bool {
        self != Self::Closed
    }

    /// Whether an update may set this status: closing is its own mutation.
    pub fn is_settable(self) -> bool {
        self != Self::Closed
    }

    /// The state closing leads to, or `None` when closing changes nothing.
    pub fn close(self) -> Option<Self> {
        match self {
            Self::Open | Self::InProgress => Some(Self::Closed),
            Self::Closed => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_case_is_final() {
        assert!(CaseStatus::Open.accepts_changes());
        assert!(CaseStatus::InProgress.accepts_changes());
        assert!(!CaseStatus::Closed.accepts_changes());
        assert!(!CaseStatus::Closed.is_settable());
        assert_eq!(CaseStatus::InProgress.close(), Some(CaseStatus::Closed));
        assert_eq!(CaseStatus::Closed.close(), None);
        assert_eq!("in_progress".parse::<CaseStatus>(), Ok(CaseStatus::InProgress));
    }
}
