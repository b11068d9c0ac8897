//! Who may call the API: the configured tokens and the stored API keys.

use std::sync::Arc;

use ledger_application::api_keys::ApiKeys;
use ledger_application::ports::system::{Spawner, SystemClock, UuidV7Ids};
use ledger_http::{Access, Secret};

use crate::settings::Auth;
use crate::stores::Stores;

/// The admin token and API tokens of the settings.
pub(crate) fn tokens(auth: &Auth) -> Access {
    Access {
        admin_token: auth.admin_token.clone().filter(|t| !t.expose().is_empty()),
        // `LEDGER__AUTH__API_TOKENS="t1, t2,,t3 "` is t1, t2 and t3: entries are
        // trimmed and empty ones ignored.
        api_tokens: auth
            .api_tokens
            .iter()
            .map(|t| t.expose().trim())
            .filter(|t| !t.is_empty())
            .map(Secret::new)
            .collect(),
    }
}

/// Says in the log when the API is open: no API token configured and no API key made.
pub(crate) async fn say_if_open(access: &Access, keys: &ApiKeys) {
    if !access.api_tokens.is_empty() {
        return;
    }
    match keys.any().await {
        Ok(true) => tracing::info!("API keys exist: every request but the open paths needs one"),
        _ => tracing::warn!(
            "auth.api_tokens is empty and no API key exists: until one is made (POST /admin/api-keys), the API is open to anyone who can reach it (fine for local use)"
        ),
    }
}

/// The API keys of the event store's database.
pub(crate) fn api_keys(stores: &Stores, spawner: Arc<dyn Spawner>) -> Arc<ApiKeys> {
    Arc::new(ApiKeys::new(
        stores.keys.clone(),
        Arc::new(SystemClock),
        Arc::new(UuidV7Ids),
        spawner,
    ))
}
