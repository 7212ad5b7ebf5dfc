//! Opaque, typed, prefixed identifiers (`app_…`, `ten_…`), as the contract's
//! examples show them. The body is a ULID in lowercase Crockford base32, so
//! ids sort by creation time and cursor pagination can order by id.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("expected an id starting with `{0}`")]
    WrongPrefix(&'static str),
    #[error("malformed id")]
    Malformed,
}

const BODY_LEN: usize = 26;

/// An id whose body is a ULID: made fresh, or derived from a time and
/// random bits, by code that makes ids of several kinds alike (a write
/// stamped for a sandbox scenario).
pub trait TimeOrderedId: Sized {
    fn generate() -> Self;
    fn derived(timestamp_ms: u64, random: u128) -> Self;
}

fn valid_body(body: &str) -> bool {
    body.len() == BODY_LEN
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || (b.is_ascii_lowercase() && !matches!(b, b'i' | b'l' | b'o' | b'u')))
}

macro_rules! prefixed_id {
    ($(#[$meta:meta])* $name:ident, $prefix:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A fresh, time-ordered id.
            pub fn generate() -> Self {
                Self(format!("{}{}", $prefix, ulid::Ulid::generate().to_string().to_ascii_lowercase()))
            }

            /// The id of `timestamp_ms` and the low 80 bits of `random`:
            /// the same every time for the same two (the sandbox's
            /// scenarios derive both from names and the scenario's clock).
            pub fn derived(timestamp_ms: u64, random: u128) -> Self {
                let ulid = ulid::Ulid::from_parts(timestamp_ms, random);
                Self(format!("{}{}", $prefix, ulid.to_string().to_ascii_lowercase()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TimeOrderedId for $name {
            fn generate() -> Self {
                $name::generate()
            }

            fn derived(timestamp_ms: u64, random: u128) -> Self {
                $name::derived(timestamp_ms, random)
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let body = s.strip_prefix($prefix).ok_or(IdError::WrongPrefix($prefix))?;
                if valid_body(body) { Ok(Self(s.to_owned())) } else { Err(IdError::Malformed) }
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .pattern(Some(concat!("^", $prefix, "[0-9a-hjkmnp-tv-z]{26}$")))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

prefixed_id!(
    /// A tenant: the unit of isolation. Every tenant-owned row carries one.
    TenantId,
    "ten_"
);
prefixed_id!(
    /// A user who can sign in at the authorization endpoint.
    UserId,
    "usr_"
);
prefixed_id!(
    /// An integration app; also its OAuth `client_id`.
    ClientId,
    "app_"
);
prefixed_id!(
    /// One client secret of an app (an app holds two during rotation).
    SecretId,
    "sec_"
);
prefixed_id!(
    /// A token-signing key, as the `kid` of the JWTs it signs.
    KeyId,
    "key_"
);
prefixed_id!(
    /// A grant family: every code, refresh token and access token issued
    /// from one authorization.
    GrantId,
    "grt_"
);
prefixed_id!(
    /// A webhook subscription.
    WebhookId,
    "wh_"
);
prefixed_id!(
    /// One delivery of one event to one webhook.
    DeliveryId,
    "dlv_"
);
prefixed_id!(
    /// An event; also the `webhook-id` of every delivery of it.
    EventId,
    "evt_"
);
prefixed_id!(
    /// One request the sandbox's mock connectors took instead of the
    /// network (`GET /v1/sandbox/outbox`).
    OutboxRequestId,
    "sbx_"
);
prefixed_id!(
    /// An incident.
    IncidentId,
    "inc_"
);
prefixed_id!(
    /// A case: incidents under investigation, with assignees.
    CaseId,
    "case_"
);
prefixed_id!(
    /// An entity: a person, organisation, vehicle or location.
    EntityId,
    "ent_"
);
prefixed_id!(
    /// A directed relationship between two entities.
    RelationshipId,
    "rel_"
);
prefixed_id!(
    /// An async job (`POST /v1/jobs`).
    JobId,
    "job_"
);
prefixed_id!(
    /// An ePCR encounter: one patient's ambulance care record.
    EncounterId,
    "enc_"
);
prefixed_id!(
    /// A medical device enrolled in a tenant.
    DeviceId,
    "dev_"
);
prefixed_id!(
    /// One Personal Health Device observation a device submitted.
    ObservationId,
    "obs_"
);
prefixed_id!(
    /// An evidence item: the digest and custody transcript of content the
    /// integrator keeps.
    EvidenceId,
    "evd_"
);
prefixed_id!(
    /// A tenant's key that signs evidence transcripts' tree heads.
    ProvenanceKeyId,
    "pvk_"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_round_trip_and_sort_by_time() {
        let a = ClientId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = ClientId::generate();
        assert!(a < b);
        assert_eq!(a.as_str().parse::<ClientId>().unwrap(), a);
        assert!(a.as_str().starts_with("app_"));
    }

    #[test]
    fn wrong_prefix_and_bodies_are_refused() {
        let t = TenantId::generate();
        assert_eq!(t.as_str().parse::<ClientId>(), Err(IdError::WrongPrefix("app_")));
        assert_eq!("app_123".parse::<ClientId>(), Err(IdError::Malformed));
        assert_eq!("app_01JDXAAAAAAAAAAAAAAAAAAAAA".parse::<ClientId>(), Err(IdError::Malformed));
        assert_eq!("app_01jdxaaaaaaaaaaaaaaaaaaaa!".parse::<ClientId>(), Err(IdError::Malformed));
        // 26 bytes of multi-byte text is not a body either.
        assert_eq!("app_ééééééééééééé".parse::<ClientId>(), Err(IdError::Malformed));
    }

    proptest::proptest! {
        #[test]
        fn id_parsing_never_panics(raw in proptest::prop_oneof![
            proptest::prelude::any::<String>(),
            "(app_|ten_|case_)?[0-9a-zé🦀!I]{0,30}",
        ]) {
            if let Ok(id) = raw.parse::<ClientId>() {
                // Whatever parses prints back as itself and goes through serde.
                proptest::prop_assert_eq!(id.to_string(), raw.clone());
                let json = serde_json::to_string(&id).unwrap();
                proptest::prop_assert_eq!(serde_json::from_str::<ClientId>(&json).unwrap(), id);
            }
            let _ = serde_json::from_value::<CaseId>(serde_json::Value::String(raw));
        }

        #[test]
        fn generated_ids_always_parse(_seed in 0u8..) {
            let id = IncidentId::generate();
            proptest::prop_assert_eq!(id.as_str().parse::<IncidentId>(), Ok(id.clone()));
        }
    }
}
