//! Redis stopping mid-run: commands go on, snapshots resume once it is back.

use super::*;

/// A TCP proxy in front of Redis that the test can cut and restore.
struct Proxy {
    port: u16,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Proxy {
    async fn start(port: u16) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        let upstream = redis_url()
            .trim_start_matches("redis://")
            .trim_end_matches('/')
            .to_owned();
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                let upstream = upstream.clone();
                conns.spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Self {
            port,
            task: Some(task),
        }
    }

    /// Stops listening and drops every proxied connection.
    fn cut(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopping_mid_run_costs_nothing_and_snapshots_resume() {
    let (_, prefix) = store().await;
    let mut proxy = Proxy::start(0).await;
    let config = RedisSnapshotConfig {
        prefix: prefix.clone(),
        timeout: Duration::from_millis(200),
        reconnect_backoff: Duration::from_millis(100),
        ..Default::default()
    };
    let url = format!("redis://127.0.0.1:{}", proxy.port);
    let snapshots = Arc::new(RedisSnapshotStore::new(&url, config).unwrap());
    let events: Arc<dyn EventStore> = Arc::new(MemoryEventStore::new());
    let repo = Arc::new(Repository::new(events.clone(), snapshots.clone(), 1));
    let commands = service(events, repo.clone());
    open_and_deposit(&commands, "acc", 3).await;
    assert_eq!(snapshots.load("acc").await.unwrap().unwrap().version, 4);

    proxy.cut();
    let deposit = || AccountAction::Deposit {
        amount: Decimal::parse("1").unwrap(),
        description: None,
    };
    for _ in 0..5 {
        commands
            .act(AccountId::parse("acc").unwrap(), deposit(), &ctx())
            .await
            .expect("Redis down: the command still succeeds");
    }
    assert!(snapshots.load("acc").await.is_err(), "Redis is down");

    let port = proxy.port;
    let _proxy = Proxy::start(port).await;
    let mut resumed = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        commands
            .act(AccountId::parse("acc").unwrap(), deposit(), &ctx())
            .await
            .expect("deposit");
        if let Ok(Some(s)) = snapshots.load("acc").await {
            if s.version > 4 {
                resumed = true;
                break;
            }
        }
    }
    assert!(resumed, "snapshots resume once Redis is back");
    let mut conn = raw_connection().await;
    let _: () = redis::cmd("DEL")
        .arg(format!("{prefix}snapshot:acc"))
        .query_async(&mut conn)
        .await
        .unwrap();
}
