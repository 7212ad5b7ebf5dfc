//! Apps, scopes, governance, minted credentials and OAuth through the SDK.

use argus_client::{
    AuthorizeRequest, ClientAuth, ClientType, Credentials, Error, GovernancePatch, GrantType, NewApp, Pkce,
};
use argus_http::testing::hidden_field;
use futures_util::TryStreamExt;

use crate::stack::Stack;

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const PASSWORD: &str = "correct horse battery staple";

#[tokio::test]
async fn apps_are_registered_listed_governed_and_mint_credentials() {
    let stack = Stack::start().await;
    let tenant = stack.store.create_tenant("t").await.unwrap().id;
    let admin = crate::admin_client(&stack, &tenant).await;

    let scopes = admin.scopes().await.unwrap();
    assert!(scopes.iter().any(|s| s.name == "webhooks:write" && !s.description.is_empty()));

    let new = NewApp {
        name: "Case sync connector".into(),
        grant_types: vec![GrantType::ClientCredentials],
        redirect_uris: vec![],
        requested_scopes: vec!["webhooks:read".into(), "webhooks:write".into()],
        client_type: None,
    };
    let created = admin.create_app(&new).await.unwrap();
    let secret = created.client_secret.clone().expect("a confidential app's secret");
    assert_eq!(created.app.client_type, ClientType::Confidential);
    assert_eq!(created.app.tenant_id, tenant.as_str());
    let second = admin.create_app(&NewApp { name: "Second".into(), ..new.clone() }).await.unwrap();
    let listed: Vec<_> = admin.list_apps().try_collect().await.unwrap();
    let ids: Vec<_> = listed.iter().map(|a| a.client_id.as_str()).collect();
    assert!(ids.contains(&created.app.client_id.as_str()) && ids.contains(&second.app.client_id.as_str()));
    let fetched = admin.app(&created.app.client_id).await.unwrap();
    assert_eq!(fetched.approved_scopes, ["webhooks:read", "webhooks:write"]);

    // Client credentials: one token, minted once and cached.
    let app = admin.with_credentials(Credentials::ClientCredentials {
        client_id: created.app.client_id.clone(),
        client_secret: secret.clone(),
        scope: Some("webhooks:read".into()),
    });
    let token = app.access_token().await.unwrap().unwrap();
    assert_eq!(app.access_token().await.unwrap().unwrap(), token, "cached");
    assert!(app.list_webhooks().try_collect::<Vec<_>>().await.unwrap().is_empty());
    let error = app.create_webhook(&Default::default()).await.unwrap_err();
    assert_eq!(error.status(), Some(403), "webhooks:read only: {error}");

    // Service tokens need governance's approval, then stay within it.
    let error = admin.mint_service_token(&created.app.client_id, &["webhooks:read"], None).await.unwrap_err();
    assert_eq!(error.status(), Some(403), "{error}");
    let patch = GovernancePatch {
        allow_service_tokens: Some(true),
        max_token_lifetime_seconds: Some(600),
        ..Default::default()
    };
    let governed = admin.update_governance(&created.app.client_id, &patch).await.unwrap();
    assert!(governed.governance.allow_service_tokens);
    assert_eq!(governed.governance.max_token_lifetime_seconds, 600);
    let minted = admin.mint_service_token(&created.app.client_id, &["webhooks:read"], Some(300)).await.unwrap();
    assert_eq!((minted.scope.as_str(), minted.audience.as_str()), ("webhooks:read", "api.knogin.com"));
    let lifetime = minted.expires_at - chrono::Utc::now();
    assert!(lifetime <= chrono::Duration::seconds(300) && lifetime > chrono::Duration::seconds(250));
    let bad = GovernancePatch { max_token_lifetime_seconds: Some(5), ..Default::default() };
    let error = admin.update_governance(&created.app.client_id, &bad).await.unwrap_err();
    assert_eq!(error.status(), Some(400), "{error}");
    assert_eq!(admin.app(&created.app.client_id).await.unwrap().governance.max_token_lifetime_seconds, 600);

    // A rotation without grace: the old secret stops, the new one works.
    let rotated = admin.rotate_secret(&created.app.client_id, Some(0)).await.unwrap();
    assert_ne!(rotated.client_secret, secret);
    let error = admin.client_credentials_token(&created.app.client_id, &secret, None).await.unwrap_err();
    assert!(matches!(&error, Error::OAuth { status: 401, error } if error.error == "invalid_client"), "{error}");
    let fresh = admin.client_credentials_token(&created.app.client_id, &rotated.client_secret, None).await.unwrap();
    assert_eq!(fresh.token_type, "Bearer");

    // Revoked tokens introspect as inactive.
    let auth = ClientAuth::Secret { client_id: &created.app.client_id, client_secret: &rotated.client_secret };
    assert!(admin.introspect_token(auth, &fresh.access_token).await.unwrap().active);
    admin.revoke_token(auth, &fresh.access_token).await.unwrap();
    assert!(!admin.introspect_token(auth, &fresh.access_token).await.unwrap().active);

    // Not an admin: refused with a problem.
    let error = app.create_app(&new).await.unwrap_err();
    assert_eq!(error.status(), Some(403), "{error}");
    assert!(error.problem().is_some());
}

/// The user's browser at `url`: signs in as the dispatcher, consents, and
/// returns the redirect's query parameters (`code`, `state`).
async fn sign_in_and_consent(stack: &Stack, url: reqwest::Url) -> std::collections::HashMap<String, String> {
    let browser =
        reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = browser.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    let form = [
        ("email", "dispatcher@example.com"),
        ("password", PASSWORD),
        ("csrf", &hidden_field(&html, "csrf")),
        ("request", &hidden_field(&html, "request")),
    ];
    let signed_in = browser.post(format!("{}/v1/oauth/sign-in", stack.auth)).form(&form).send().await.unwrap();
    assert_eq!(signed_in.status(), 303);
    let next = signed_in.headers()["location"].to_str().unwrap().to_owned();
    let html = browser.get(format!("{}{next}", stack.auth)).send().await.unwrap().text().await.unwrap();
    let form = [
        ("request", hidden_field(&html, "request")),
        ("decision", "approve".into()),
        ("csrf", hidden_field(&html, "csrf")),
    ];
    let done = browser.post(format!("{}/v1/oauth/consent", stack.auth)).form(&form).send().await.unwrap();
    assert_eq!(done.status(), 302);
    let callback = reqwest::Url::parse(done.headers()["location"].to_str().unwrap()).unwrap();
    callback.query_pairs().into_owned().collect()
}

#[tokio::test]
async fn the_authorization_code_flow_with_pkce_then_refresh() {
    let stack = Stack::start().await;
    let tenant = stack.store.create_tenant("t").await.unwrap().id;
    stack
        .store
        .create_user(&tenant, "dispatcher@example.com", &argus_crypto::hash_password(PASSWORD).unwrap())
        .await
        .unwrap();
    let admin = crate::admin_client(&stack, &tenant).await;
    let created = admin
        .create_app(&NewApp {
            name: "Dispatch console".into(),
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            redirect_uris: vec![REDIRECT.into()],
            requested_scopes: vec!["incidents:read".into()],
            client_type: None,
        })
        .await
        .unwrap();
    let (client_id, secret) = (created.app.client_id.as_str(), created.client_secret.unwrap());

    let pkce = Pkce::new();
    let url = admin
        .authorize_url(&AuthorizeRequest {
            client_id,
            redirect_uri: REDIRECT,
            scope: "incidents:read",
            state: "st-42",
            pkce: &pkce,
        })
        .unwrap();
    assert!(url.as_str().starts_with(&format!("{}/v1/oauth/authorize?response_type=code&", stack.auth)));

    let params = sign_in_and_consent(&stack, url).await;
    assert_eq!(params["state"], "st-42");

    let auth = ClientAuth::Secret { client_id, client_secret: &secret };
    // The wrong verifier is refused, and the code then spent.
    let wrong = admin.exchange_code(auth, &params["code"], REDIRECT, Pkce::new().verifier()).await.unwrap_err();
    assert!(matches!(&wrong, Error::OAuth { error, .. } if error.error == "invalid_grant"), "{wrong}");

    // Again, the code exchanged with its verifier.
    let pkce = Pkce::new();
    let request =
        AuthorizeRequest { client_id, redirect_uri: REDIRECT, scope: "incidents:read", state: "s2", pkce: &pkce };
    let code = sign_in_and_consent(&stack, admin.authorize_url(&request).unwrap()).await.remove("code").unwrap();
    let tokens = admin.exchange_code(auth, &code, REDIRECT, pkce.verifier()).await.unwrap();
    assert_eq!(tokens.scope, "incidents:read");
    let refresh = tokens.refresh_token.clone().expect("a refresh token");

    let renewed = admin.refresh_token(auth, &refresh, None).await.unwrap();
    assert_ne!(renewed.access_token, tokens.access_token);
    assert_ne!(renewed.refresh_token.as_deref(), Some(refresh.as_str()), "refresh tokens rotate");
    let replay = admin.refresh_token(auth, &refresh, None).await.unwrap_err();
    assert!(matches!(&replay, Error::OAuth { error, .. } if error.error == "invalid_grant"), "{replay}");
}
