/// Everything that can go wrong on the bus.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The broker connection or channel failed (or could not be opened).
    #[error("broker: {0}")]
    Amqp(#[from] lapin::Error),
    /// No connection right now, and the reconnect back-off has not elapsed.
    #[error("broker unavailable: {0}")]
    Unavailable(String),
    /// The broker refused the message (basic.nack).
    #[error("broker refused message {message_id}")]
    Nacked { message_id: String },
    /// No queue is bound for this exchange and routing key: the broker
    /// returned the message rather than drop it.
    #[error("no route for message {message_id} to `{exchange}` with key `{routing_key}`")]
    Unroutable { message_id: String, exchange: String, routing_key: String },
    /// The broker did not confirm in time; the message may or may not have
    /// been taken, so the publisher treats it as not sent.
    #[error("timed out waiting for the broker after {0:?}")]
    Timeout(std::time::Duration),
    /// The broker settings are unusable (found at start-up).
    #[error("broker settings: {0}")]
    Config(String),
    /// A name or value too long for AMQP (short strings are at most 255 bytes).
    #[error("invalid message: {0}")]
    Invalid(String),
    /// A message body that does not decode as the expected protobuf type.
    #[error("cannot decode message body: {0}")]
    Decode(#[from] prost::DecodeError),
    #[error(transparent)]
    Store(#[from] argus_store::StoreError),
}
