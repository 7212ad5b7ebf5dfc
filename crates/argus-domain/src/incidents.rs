//! Incidents: their states, their severities, and the rule that a closed
//! incident is final.

use crate::text_enum::text_enum;

text_enum! {
    /// An incident is reported `open` and `closed` once, for good.
    pub enum IncidentStatus("incident status") {
        Open = "open",
        Closed = "closed",
    }
}

text_enum! {
    pub enum Severity("severity") {
        Low = "low",
        Medium = "medium",
        High = "high",
        Critical = "critical",
    }
}

impl Default for IncidentStatus {
    /// What an incident is reported as (and an imported one without a status).
    fn default() -> Self {
        Self::Open
    }
}

impl IncidentStatus {
    /// Whether the incident's fields may still change: a closed incident
    /// cannot.
    pub fn accepts_changes(self) -> bool {
        self == Self::Open
    }

    /// The state closing leads to, or `None` when closing changes nothing
    /// (the incident is closed already, and nothing is announced again).
    pub fn close(self) -> Option<Self> {
        match self {
            Self::Open => Some(Self::Closed),
            Self::Closed => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_incident_cannot_change_or_close_again() {
        assert!(IncidentStatus::Open.accepts_changes());
        assert!(!IncidentStatus::Closed.accepts_changes());
        assert_eq!(IncidentStatus::Open.close(), Some(IncidentStatus::Closed));
        assert_eq!(IncidentStatus::Closed.close(), None);
    }

    #[test]
    fn text_round_trips_and_unknown_values_are_named() {
        for s in Severity::ALL {
            assert_eq!(s.as_str().parse::<Severity>(), Ok(*s));
        }
        let e = "urgent".parse::<Severity>().unwrap_err();
        assert_eq!(e.to_string(), "severity must be one of low, medium, high, critical, not `urgent`");
        assert_eq!(serde_json::to_value(IncidentStatus::Closed).unwrap(), "closed");
        assert!(serde_json::from_value::<IncidentStatus>("gone".into()).is_err());
    }
}
