//! Tamper evidence wiring: the signing key (`integrity.signing_key`), the sealer loop
//! (one instance at a time: the `sealer` lease, and the `$seals` stream's version
//! guard), `ledger keys generate` and `ledger verify`.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use ledger_application::ports::readmodel::{Lease, ProjectionStore};
use ledger_application::ports::system::{SystemClock, UuidV7Ids};
use ledger_application::seal::{SealError, Sealer};
use ledger_application::verify::{KeptSeal, Report, Verifier};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::settings::Integrity;
use crate::stores::Stores;

/// The signing key the settings name, if any: PEM text, or a file holding it.
pub fn signing_key(settings: &Integrity) -> anyhow::Result<Option<SigningKey>> {
    let Some(value) = settings
        .signing_key
        .as_ref()
        .map(|s| s.expose().trim().to_owned())
    else {
        return Ok(None);
    };
    if value.is_empty() {
        return Ok(None);
    }
    let pem = if value.starts_with("-----BEGIN") {
        value
    } else {
        // Not echoed: a value meant as PEM text but mangled is the private key itself.
        std::fs::read_to_string(&value).context(
            "integrity.signing_key is neither PEM text (`-----BEGIN PRIVATE KEY-----` ...) \
             nor the path of a readable file",
        )?
    };
    SigningKey::from_pkcs8_pem(&pem).map(Some).map_err(|e| {
        // The decoder names the algorithm it expected (Ed25519's OID), which reads as if
        // that were the one it refused.
        let why = match e {
            ed25519_dalek::pkcs8::Error::KeyMalformed => "a malformed key".to_owned(),
            e if e.to_string().contains("algorithm") => {
                "a key of another algorithm (EC, RSA, X25519, ...)".to_owned()
            }
            e => e.to_string(),
        };
        anyhow::anyhow!(
            "integrity.signing_key is not an Ed25519 private key in PKCS#8 PEM \
             (`ledger keys generate --out FILE` makes one): {why}"
        )
    })
}

/// The public key as PEM (SubjectPublicKeyInfo).
pub fn public_key_pem(key: &VerifyingKey) -> anyhow::Result<String> {
    key.to_public_key_pem(LineEnding::LF)
        .map_err(|e| anyhow::anyhow!("encoding the public key: {e}"))
}

/// `ledger keys generate --out FILE`: a new private key (PKCS#8 PEM, mode 0600); the
/// public key's PEM is returned for printing.
pub fn generate(out: &Path) -> anyhow::Result<String> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let key = SigningKey::from_bytes(&seed);
    // PKCS#8 version 1 (RFC 8410's form, without the public key), which OpenSSL and
    // other tools read; the version 2 form with the public key was refused by some.
    let pem = ed25519_dalek::pkcs8::KeypairBytes {
        secret_key: key.to_bytes(),
        public_key: None,
    }
    .to_pkcs8_pem(LineEnding::LF)
    .map_err(|e| anyhow::anyhow!("encoding the key: {e}"))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(out).map_err(|e| {
        let never_overwritten = match e.kind() {
            std::io::ErrorKind::AlreadyExists => " (a key file is never overwritten)",
            _ => "",
        };
        anyhow::anyhow!("cannot create {}{never_overwritten}: {e}", out.display())
    })?;
    let written =
        std::io::Write::write_all(&mut file, pem.as_bytes()).and_then(|()| file.sync_all());
    if let Err(e) = written {
        // Not left half-written (a retry would then find it taken).
        drop(file);
        let _ = std::fs::remove_file(out);
        anyhow::bail!("cannot write {}: {e}", out.display());
    }
    public_key_pem(&key.verifying_key())
}

/// Reads a public key from a PEM file (SubjectPublicKeyInfo, as `/integrity/public-key`
/// serves it), or derives it from a private key file.
pub fn read_public_key(path: &Path) -> anyhow::Result<VerifyingKey> {
    let pem =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    if let Ok(key) = VerifyingKey::from_public_key_pem(&pem) {
        return Ok(key);
    }
    SigningKey::from_pkcs8_pem(&pem)
        .map(|k| k.verifying_key())
        .map_err(|_| anyhow::anyhow!("{} holds no Ed25519 public key in PEM", path.display()))
}

/// The sealer writing seals signed with `key`.
pub fn sealer(key: SigningKey, stores: &Stores) -> Arc<Sealer> {
    Arc::new(Sealer::new(
        stores.events.clone(),
        key,
        Arc::new(SystemClock),
        Arc::new(UuidV7Ids),
    ))
}

/// Seals every `interval` while this instance holds the sealer lease, until `stop`.
pub fn spawn(
    sealer: Arc<Sealer>,
    leases: Arc<dyn ProjectionStore>,
    interval: Duration,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        while !*stop.borrow() {
            match leases.try_lead(Lease::Sealer).await {
                Ok(true) => match sealer.step().await {
                    Ok(Some(seal)) => {
                        tracing::info!(cursor = %seal.cursor, events = seal.events, "ledger sealed")
                    }
                    Ok(None) => {}
                    Err(SealError::Overtaken) => {
                        tracing::info!("another instance sealed meanwhile")
                    }
                    Err(e) => tracing::warn!(error = %e, "sealing failed; trying again later"),
                },
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "cannot take the sealer lease"),
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = stop.changed() => {}
            }
        }
    })
}

/// `ledger verify`: the report, with a progress bar on a terminal.
pub async fn verify(
    stores: &Stores,
    public_keys: Vec<VerifyingKey>,
    kept_seal: Option<KeptSeal>,
    stream: Option<&str>,
) -> anyhow::Result<Report> {
    let verifier = Verifier {
        store: stores.events.clone(),
        models: stores.read.clone(),
        checkpoints: stores.projections.clone(),
        public_keys,
        kept_seal,
        spawner: Some(Arc::new(|task| {
            tokio::spawn(task);
        })),
    };
    let total = match stream {
        Some(_) => 0,
        None => stores.events.count_after(Default::default()).await?,
    };
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "verifying [{bar:40}] {pos}/{len} events ({per_sec})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let progress = |done: u64| bar.set_position(done);
    let report = verifier.run(stream, &progress).await?;
    bar.finish_and_clear();
    Ok(report)
}
