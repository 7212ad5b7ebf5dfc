//! Webhook deliveries and job callbacks: their states.

use crate::text_enum::text_enum;

text_enum! {
    /// A webhook delivery: `queued`, then `retrying` after a failed attempt
    /// that will be retried, until `succeeded` or `failed` (terminal).
    pub enum DeliveryStatus("delivery status") {
        Queued = "queued",
        Succeeded = "succeeded",
        Retrying = "retrying",
        Failed = "failed",
    }
}

impl DeliveryStatus {
    /// Whether the delivery is settled: no further attempt is made.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }
}

text_enum! {
    /// A job's callback: `pending` until it `succeeded` or `failed`.
    pub enum CallbackStatus("callback status") {
        Pending = "pending",
        Succeeded = "succeeded",
        Failed = "failed",
    }
}

impl CallbackStatus {
    /// A callback's state after an attempt that left the delivery in
    /// `delivery`: a delivery still retrying keeps the callback pending.
    pub fn after_attempt(delivery: DeliveryStatus) -> Self {
        match delivery {
            DeliveryStatus::Succeeded => Self::Succeeded,
            DeliveryStatus::Failed => Self::Failed,
            DeliveryStatus::Queued | DeliveryStatus::Retrying => Self::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_deliveries_settle_their_callback() {
        assert!(DeliveryStatus::Failed.is_terminal());
        assert!(!DeliveryStatus::Retrying.is_terminal());
        assert_eq!(CallbackStatus::after_attempt(DeliveryStatus::Retrying), CallbackStatus::Pending);
        assert_eq!(CallbackStatus::after_attempt(DeliveryStatus::Succeeded), CallbackStatus::Succeeded);
    }
}
