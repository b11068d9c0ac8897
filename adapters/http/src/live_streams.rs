//! The bounds on live streams (`/events/stream`, `/accounts/{id}/events/stream`): at most
//! `server.max_live_streams` served by the instance at once, and at most
//! `server.max_live_streams_per_key` of them opened by one API key or token, so that one
//! caller cannot take every place. Callers of an open API (no keys at all: local use)
//! count against the instance's bound only, as they do for the rate limit.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use ledger_application::access::Principal;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::metrics::Metrics;
use crate::problem::ApiError;

/// The live streams served now, on the instance and by caller.
pub struct LiveStreams {
    instance: Arc<Semaphore>,
    per_key: usize,
    by_key: Arc<Mutex<HashMap<String, usize>>>,
}

impl LiveStreams {
    /// At most `max` streams at once, `per_key` of them by one caller (each at least
    /// one; past the semaphore's own bound, that bound).
    /// Its refusals are counted in `metrics`, whose two series (`bound="key"` and
    /// `"instance"`) show 0 from the start: an alert on them works before the first.
    pub fn new(max: u64, per_key: u64, metrics: &Metrics) -> Arc<Self> {
        for bound in ["key", "instance"] {
            count_refused(metrics, bound, 0);
        }
        let max = usize::try_from(max).unwrap_or(usize::MAX);
        Arc::new(Self {
            instance: Arc::new(Semaphore::new(max.clamp(1, Semaphore::MAX_PERMITS))),
            per_key: usize::try_from(per_key).unwrap_or(usize::MAX).max(1),
            by_key: Arc::default(),
        })
    }

    /// A place for one more stream of `who`, held for as long as the stream is served:
    /// 429 `rate_limited` when its caller already has its most open, 503 when the
    /// instance serves its most (each counted in `ledger_sse_refused_total`).
    pub(crate) fn permit(
        &self,
        who: &Principal,
        metrics: &Metrics,
    ) -> Result<LiveStreamPermit, ApiError> {
        let refused = |why: &str| count_refused(metrics, why, 1);
        let share = match who.actor == Principal::anonymous().actor {
            true => None,
            false => {
                let mut open = self.by_key.lock().unwrap_or_else(PoisonError::into_inner);
                let count = open.entry(who.actor.clone()).or_default();
                if *count >= self.per_key {
                    refused("key");
                    return Err(ApiError::live_streams_of_key_full(self.per_key));
                }
                *count += 1;
                Some(KeyShare {
                    by_key: self.by_key.clone(),
                    actor: who.actor.clone(),
                })
            }
        };
        // A refusal here drops the share just taken.
        let instance = self.instance.clone().try_acquire_owned().map_err(|_| {
            refused("instance");
            ApiError::live_streams_full()
        })?;
        Ok(LiveStreamPermit {
            _instance: instance,
            _share: share,
        })
    }
}

/// One live stream's place: let go (on the instance and for its caller) when dropped.
pub(crate) struct LiveStreamPermit {
    _instance: OwnedSemaphorePermit,
    _share: Option<KeyShare>,
}

/// One stream counted for its caller.
struct KeyShare {
    by_key: Arc<Mutex<HashMap<String, usize>>>,
    actor: String,
}

impl Drop for KeyShare {
    fn drop(&mut self) {
        let mut open = self.by_key.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.actor) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.actor);
            }
        }
    }
}

/// Adds `by` to the live streams refused at `bound` (`key` or `instance`).
fn count_refused(metrics: &Metrics, bound: &str, by: u64) {
    let help = "Live streams refused: the instance's or the caller's bound was reached";
    metrics.count("ledger_sse_refused_total", help, &[("bound", bound)], by);
}

#[cfg(test)]
mod tests {
    use ledger_application::access::Role;

    use super::*;

    #[test]
    fn a_caller_past_its_share_is_refused_and_others_are_not() {
        let metrics = Metrics::default();
        let streams = LiveStreams::new(4, 2, &metrics);
        let zero = "ledger_sse_refused_total{bound=\"key\"} 0";
        assert!(metrics.render().contains(zero), "{}", metrics.render());
        let (ada, bob) = (
            Principal::new("key:ada", Role::Reader),
            Principal::new("key:bob", Role::Reader),
        );
        let first = streams.permit(&ada, &metrics).unwrap();
        let _second = streams.permit(&ada, &metrics).unwrap();
        let third = streams.permit(&ada, &metrics).err().unwrap();
        assert_eq!(third.status, axum::http::StatusCode::TOO_MANY_REQUESTS);
        let bobs = streams.permit(&bob, &metrics).unwrap();
        drop(first);
        let _again = streams.permit(&ada, &metrics).unwrap();
        // The instance's bound (4) holds for everyone, the open API's callers included.
        let anonymous = Principal::anonymous();
        let _last = streams.permit(&anonymous, &metrics).unwrap();
        let full = streams.permit(&anonymous, &metrics).err().unwrap();
        assert_eq!(full.status, axum::http::StatusCode::SERVICE_UNAVAILABLE);
        // A refusal by the instance gives back the caller's share it had taken.
        drop(bobs);
        let _bob_again = streams.permit(&bob, &metrics).unwrap();
        assert!(streams.permit(&bob, &metrics).is_err());
        assert_eq!(streams.by_key.lock().unwrap()["key:bob"], 1);
    }
}
