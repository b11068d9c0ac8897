//! A NATS server that needs a login: the relay logs in with the credentials its URL
//! carries, a user and password or a token, percent-encoded as in any URL (black-box
//! testing found the client sending none of them: every login refused, nothing ever
//! relayed, and the relay's error a timeout).

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_needs_a_login_gets_the_urls_credentials() {
    let logins: [(&[&str], &str); 2] = [
        (
            &["--user", "relay", "--pass", "p@ss word"],
            "relay:p%40ss%20word",
        ),
        (&["--auth", "s3cret-token"], "s3cret-token"),
    ];
    for (args, userinfo) in logins {
        let server = PrivateNats::start_with(args).await;
        let nats = relay_to(&format!("nats://{userinfo}@127.0.0.1:{}", server.port));
        let app = relaying_app(&nats).await;
        let client = reqwest::Client::new();
        write(&client, &app.base, "s.1", 2, 10).await;
        let feed = feed_of(&client, &app.base, ADMIN, 1 + 20).await;
        let last = feed.last().expect("events").0;
        wait_relayed(&client, &app.base, ADMIN, last, &[]).await;
        let row = relay_row(&client, &app.base, ADMIN)
            .await
            .expect("the relay's row");
        assert_eq!(row["last_error"], Value::Null, "{args:?}: {row}");
    }
}
