//! Headless Chromium for the console tests: a private `chromedriver` on a free port
//! (Debian's `chromium` and `chromium-driver`; `scripts/test.sh` installs them), and a
//! WebDriver session on it through fantoccini. Missing browser: the test fails loudly.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::process::free_port;

/// A chromedriver process and one browser session on it; both end when dropped
/// (call [`Browser::close`] first for a clean end).
pub struct Browser {
    /// The WebDriver session.
    pub client: Client,
    driver: Child,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium window of 1280×800.
    pub async fn start() -> Self {
        let port = free_port();
        // Its own process group, so that ending it ends the browsers it started too.
        let driver = Command::new("chromedriver")
            .process_group(0)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "chromedriver runs (Debian package chromium-driver; scripts/test.sh installs it)",
            );
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({"args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                             "--disable-dev-shm-usage", "--window-size=1280,800"]}),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            let attempt = ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&format!("http://127.0.0.1:{port}"))
                .await;
            match attempt {
                Ok(client) => return Self { client, driver },
                Err(e) if Instant::now() > deadline => {
                    panic!("no WebDriver session from chromedriver (is chromium installed?): {e}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }

    /// The first element `css` names, waiting up to 10 s for it.
    pub async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    /// How many elements `css` names now.
    pub async fn count(&self, css: &str) -> usize {
        self.client
            .find_all(Locator::Css(css))
            .await
            .map_or(0, |all| all.len())
    }

    /// Runs a script in the page and returns its value.
    pub async fn run(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .expect("the script runs")
    }

    /// Waits up to `within` for `script` (an expression) to be true in the page.
    pub async fn until(&self, within: Duration, script: &str) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if self.run(&format!("return Boolean({script});")).await == json!(true) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Saves a PNG of the page under `target/console/` and returns its path.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.expect("a screenshot");
        let dir = std::env::var_os("CARGO_TARGET_DIR")
            .map_or_else(
                || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
                PathBuf::from,
            )
            .join("console");
        std::fs::create_dir_all(&dir).expect("the screenshot directory");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("the screenshot is written");
        path
    }

    /// Ends the session, then the driver and what it started.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole group: chromedriver and any Chromium left by a failing test.
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill").args(["-9", "--", &group]).status();
        let _ = self.driver.wait();
    }
}

/// The console's first load: the page and every file it has, gzip-compressed as
/// served, in bytes. Refused when one is not served (200) or not compressed.
pub async fn console_first_load(http: &reqwest::Client, base: &str) -> Result<usize, String> {
    let mut total = 0;
    let names = ledger_http::console::asset_names();
    for path in std::iter::once("/console".to_owned()).chain(names.map(|n| format!("/console/{n}")))
    {
        let r = http
            .get(format!("{base}{path}"))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .map_err(|e| format!("{path}: {e}"))?;
        if r.status() != 200 {
            return Err(format!("{path}: {}", r.status()));
        }
        if r.headers()
            .get("content-encoding")
            .is_none_or(|v| v != "gzip")
        {
            return Err(format!("{path} is not served compressed"));
        }
        total += r.bytes().await.map_err(|e| format!("{path}: {e}"))?.len();
    }
    Ok(total)
}
