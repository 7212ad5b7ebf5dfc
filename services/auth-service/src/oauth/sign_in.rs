//! Signing a user in: the per-account lockout, the bounded password check
//! (timing-equalised for unknown accounts), and the session.

use std::sync::OnceLock;

use argus_store::oauth::SignInAttempt;
use argus_types::TenantId;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::ApiError;
use crate::state::AppState;

/// 32 random bytes, base64url: session ids and CSRF tokens.
pub fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(argus_crypto::secrets::random_bytes::<32>())
}

fn dummy_password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| argus_crypto::hash_password("argus-timing-equaliser").unwrap_or_default())
}

/// How a sign-in attempt ended, when nothing failed on our side.
pub enum SignInOutcome {
    /// A new session, whose raw id goes in the cookie.
    SignedIn {
        session: String,
    },
    WrongCredentials,
    Locked {
        wait_seconds: u64,
    },
    /// No password check could start in time.
    Busy,
}

/// Checks a password for `email` in `tenant`, within the lockout and the
/// bounded password checks; a session when it is right.
pub async fn attempt_sign_in(
    state: &AppState,
    tenant: &TenantId,
    email: &str,
    password: String,
) -> Result<SignInOutcome, ApiError> {
    let email = email.trim().to_ascii_lowercase();
    // Counted before the check, so concurrent guesses cannot all get one.
    if let SignInAttempt::Locked { until } = state.store.claim_sign_in_attempt(tenant, &email, &state.lockout).await? {
        let wait = (until - chrono::Utc::now()).num_seconds().max(1);
        return Ok(SignInOutcome::Locked { wait_seconds: u64::try_from(wait).unwrap_or(1) });
    }
    let user = state.store.find_user_by_email(tenant, &email).await?;
    let stored = user.as_ref().map_or_else(|| dummy_password_hash().to_owned(), |u| u.password_hash.clone());
    let Ok(verified) = state.passwords.verify(password, stored).await else {
        return Ok(SignInOutcome::Busy);
    };
    match user {
        // A disabled user is told what a wrong password is told.
        Some(user) if verified && user.disabled_at.is_none() => {
            state.store.clear_sign_in_failures(tenant, &email).await?;
            let raw = random_token();
            state.store.create_session(state.secrets.hash(&raw), tenant, &user.id, state.session_ttl).await?;
            tracing::info!(user_id = %user.id, "signed in");
            Ok(SignInOutcome::SignedIn { session: raw })
        }
        _ => {
            tracing::info!("sign-in failed");
            Ok(SignInOutcome::WrongCredentials)
        }
    }
}
