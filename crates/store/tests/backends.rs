//! Every store behaviour the API server relies on, checked on both backends:
//! the embedded store (sled) and a real three-member etcd cluster.
//!
//! etcd's revision is global to the cluster, and these tests may share one
//! (tests/run.sh starts one and names it in `KUBELAB_ETCD`), so they compare
//! revisions with each other rather than with fixed numbers, and each works
//! under a key prefix of its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kubelab_store::{
    Error, EventType, LocalEtcd, RangeRequest, RevisionedStore, SledEngine, Store, Watch,
    prefix_end,
};

/// Makes fresh, empty stores of one backend.
trait Backend {
    fn fresh(&self) -> Arc<dyn Store>;
    /// The same data, opened again (a restarted API server).
    fn reopen(&self, store: Arc<dyn Store>) -> Arc<dyn Store>;
}

struct Sled(tempfile::TempDir, AtomicUsize);

impl Backend for Sled {
    fn fresh(&self) -> Arc<dyn Store> {
        let n = self.1.fetch_add(1, Ordering::SeqCst);
        let dir = self.0.path().join(n.to_string());
        Arc::new(RevisionedStore::open(SledEngine::open(&dir).unwrap()).unwrap())
    }
    fn reopen(&self, store: Arc<dyn Store>) -> Arc<dyn Store> {
        let n = self.1.load(Ordering::SeqCst) - 1;
        drop(store); // sled allows one opener at a time
        let dir = self.0.path().join(n.to_string());
        Arc::new(RevisionedStore::open(SledEngine::open(&dir).unwrap()).unwrap())
    }
}

struct Etcd {
    url: String,
    run: String,
    n: AtomicUsize,
}

impl Etcd {
    fn url(&self) -> String {
        format!(
            "{}/kubelab-test-{}-{}",
            self.url,
            self.run,
            self.n.load(Ordering::SeqCst)
        )
    }
}

impl Backend for Etcd {
    fn fresh(&self) -> Arc<dyn Store> {
        self.n.fetch_add(1, Ordering::SeqCst);
        kubelab_store::open_etcd(&self.url()).unwrap()
    }
    fn reopen(&self, store: Arc<dyn Store>) -> Arc<dyn Store> {
        drop(store);
        kubelab_store::open_etcd(&self.url()).unwrap()
    }
}

/// The cluster tests/run.sh started, or one of our own.
fn etcd() -> (Etcd, Option<LocalEtcd>) {
    let run = format!("{}-{}", std::process::id(), nanos());
    if let Ok(url) = std::env::var("KUBELAB_ETCD") {
        let n = AtomicUsize::new(0);
        return (Etcd { url, run, n }, None);
    }
    let dir = std::env::temp_dir().join(format!("kubelab-etcd-test-{run}"));
    let cluster = LocalEtcd::start(&dir, 3).expect("a local etcd cluster");
    let url = cluster.url("");
    let n = AtomicUsize::new(0);
    (Etcd { url, run, n }, Some(cluster))
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The next event, or a failure after 10 s.
fn next(rt: &tokio::runtime::Runtime, w: &mut Watch) -> kubelab_store::Event {
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), w.next()).await })
        .expect("an event within 10 s")
        .expect("the watch is open")
}

fn every_behaviour(b: &dyn Backend) {
    revisions_are_global_and_per_key_counts_are_kept(b);
    create_and_compare_and_swap_refuse_what_they_must(b);
    ranges_page_and_read_the_past(b);
    watches_replay_then_go_live(b);
    compaction_expires_old_reads_and_watches(b);
    concurrent_compare_and_swap_loses_no_update(b);
    data_survives_a_reopen(b);
}

fn revisions_are_global_and_per_key_counts_are_kept(b: &dyn Backend) {
    let s = b.fresh();
    let a = s.create(b"a", b"1".to_vec()).unwrap();
    let other = s.create(b"b", b"1".to_vec()).unwrap();
    let a2 = s.update(b"a", b"2".to_vec(), None).unwrap();
    assert!(a.mod_revision < other.mod_revision && other.mod_revision < a2.mod_revision);
    assert_eq!((a.create_revision, a.version), (a.mod_revision, 1));
    assert_eq!((a2.create_revision, a2.version), (a.mod_revision, 2));
    assert!(s.current_revision() >= a2.mod_revision);
    let gone = s.delete(b"b", None).unwrap();
    assert_eq!(
        (gone.value, gone.mod_revision),
        (b"1".to_vec(), other.mod_revision)
    );
    assert_eq!(s.get(b"b").unwrap(), None);
    assert_eq!(s.get(b"a").unwrap().unwrap(), a2);
}

fn create_and_compare_and_swap_refuse_what_they_must(b: &dyn Backend) {
    let s = b.fresh();
    let kv = s.create(b"k", b"v".to_vec()).unwrap();
    assert_eq!(s.create(b"k", b"x".to_vec()), Err(Error::AlreadyExists));
    let kv2 = s
        .update(b"k", b"v2".to_vec(), Some(kv.mod_revision))
        .unwrap();
    // The second writer still holds the old revision: it must lose.
    assert_eq!(
        s.update(b"k", b"v3".to_vec(), Some(kv.mod_revision)),
        Err(Error::Conflict {
            current: kv2.mod_revision
        })
    );
    assert_eq!(
        s.delete(b"k", Some(kv.mod_revision)),
        Err(Error::Conflict {
            current: kv2.mod_revision
        })
    );
    assert_eq!(s.get(b"k").unwrap().unwrap().value, b"v2");
    assert_eq!(s.update(b"nope", vec![], None), Err(Error::NotFound));
    assert_eq!(s.update(b"nope", vec![], Some(3)), Err(Error::NotFound));
    assert_eq!(s.delete(b"nope", None), Err(Error::NotFound));
}

fn ranges_page_and_read_the_past(b: &dyn Backend) {
    let s = b.fresh();
    let mut first = Vec::new();
    for k in ["p/a", "p/b", "p/c", "q/x"] {
        first.push(s.create(k.as_bytes(), b"0".to_vec()).unwrap().mod_revision);
    }
    let at = s.current_revision();
    s.update(b"p/a", b"1".to_vec(), None).unwrap();
    s.delete(b"p/b", None).unwrap();
    s.create(b"p/d", b"1".to_vec()).unwrap();

    let mut req = RangeRequest::prefix(b"p/");
    req.limit = Some(2);
    let now = s.range(&req).unwrap();
    let keys: Vec<_> = now.kvs.iter().map(|kv| kv.key.clone()).collect();
    assert_eq!(keys, vec![b"p/a".to_vec(), b"p/c".to_vec()]);
    assert_eq!(now.remaining, 1);
    assert!(now.revision >= at + 3);

    req.limit = None;
    req.revision = Some(at);
    let past = s.range(&req).unwrap();
    let view: Vec<_> = past
        .kvs
        .iter()
        .map(|kv| (kv.key.clone(), kv.value.clone(), kv.mod_revision))
        .collect();
    assert_eq!(
        view,
        vec![
            (b"p/a".to_vec(), b"0".to_vec(), first[0]),
            (b"p/b".to_vec(), b"0".to_vec(), first[1]),
            (b"p/c".to_vec(), b"0".to_vec(), first[2]),
        ]
    );
    let future = RangeRequest {
        revision: Some(s.current_revision() + 1000),
        ..req.clone()
    };
    assert!(matches!(
        s.range(&future),
        Err(Error::FutureRevision { .. })
    ));
}

fn watches_replay_then_go_live(b: &dyn Backend) {
    let rt = rt();
    let s = b.fresh();
    let c = s.create(b"w/1", b"a".to_vec()).unwrap();
    s.create(b"other", b"a".to_vec()).unwrap(); // outside the range
    let u = s.update(b"w/1", b"b".to_vec(), None).unwrap();
    let mut w = s.watch(b"w/", &prefix_end(b"w/"), c.mod_revision).unwrap();
    let d = s.delete(b"w/1", None).unwrap(); // live
    let e1 = next(&rt, &mut w);
    assert_eq!(
        (e1.revision, e1.kind.clone()),
        (u.mod_revision, EventType::Put)
    );
    assert_eq!(e1.key, b"w/1");
    assert_eq!(e1.prev.unwrap().value, b"a");
    assert_eq!(e1.kv.unwrap().value, b"b");
    let e2 = next(&rt, &mut w);
    assert_eq!(e2.kind, EventType::Delete);
    assert!(e2.revision > u.mod_revision && e2.kv.is_none());
    assert_eq!(e2.prev.unwrap().value, d.value);
    // Nothing else: the write outside the range was not sent.
    let more =
        rt.block_on(async { tokio::time::timeout(Duration::from_millis(300), w.next()).await });
    assert!(more.is_err(), "an unexpected event: {more:?}");
}

fn compaction_expires_old_reads_and_watches(b: &dyn Backend) {
    let rt = rt();
    let s = b.fresh();
    let mut revs = Vec::new();
    for i in 0..5u8 {
        revs.push(s.create(&[b'k', i], vec![i]).unwrap().mod_revision);
    }
    s.compact(revs[2]).unwrap();
    assert!(s.compacted_revision() >= revs[2]);
    match s.watch(b"k", b"l", revs[1]) {
        Err(Error::Compacted { requested, .. }) => assert_eq!(requested, revs[1]),
        other => panic!("a watch from a compacted revision: {:?}", other.err()),
    }
    let mut w = s.watch(b"k", b"l", revs[2]).unwrap();
    assert_eq!(next(&rt, &mut w).revision, revs[3]);
    let past = RangeRequest {
        revision: Some(revs[0]),
        ..RangeRequest::prefix(b"k")
    };
    assert!(matches!(s.range(&past), Err(Error::Compacted { .. })));
    // The compacted revision itself can still be read.
    let at = RangeRequest {
        revision: Some(revs[2]),
        ..RangeRequest::prefix(b"k")
    };
    assert_eq!(s.range(&at).unwrap().kvs.len(), 3);
}

fn concurrent_compare_and_swap_loses_no_update(b: &dyn Backend) {
    let s = b.fresh();
    s.create(b"counter", b"0".to_vec()).unwrap();
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || {
                let mut done = 0;
                while done < 25 {
                    let cur = s.get(b"counter").unwrap().unwrap();
                    let n: u64 = std::str::from_utf8(&cur.value).unwrap().parse().unwrap();
                    let next = (n + 1).to_string().into_bytes();
                    match s.update(b"counter", next, Some(cur.mod_revision)) {
                        Ok(_) => done += 1,
                        Err(Error::Conflict { .. }) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let end = s.get(b"counter").unwrap().unwrap();
    assert_eq!((end.value, end.version), (b"200".to_vec(), 201));
}

fn data_survives_a_reopen(b: &dyn Backend) {
    let s = b.fresh();
    let kv = s
        .create(b"/registry/pods/default/web", b"{}".to_vec())
        .unwrap();
    let s = b.reopen(s);
    assert_eq!(s.get(b"/registry/pods/default/web").unwrap().unwrap(), kv);
    assert!(s.current_revision() >= kv.mod_revision);
}

#[test]
fn the_embedded_store_behaves_as_the_api_server_needs() {
    let sled = Sled(tempfile::tempdir().unwrap(), AtomicUsize::new(0));
    every_behaviour(&sled);
}

#[test]
fn etcd_behaves_as_the_api_server_needs() {
    let (etcd, _cluster) = etcd();
    every_behaviour(&etcd);
}

#[test]
fn prefixes_keep_clusters_apart_in_one_etcd() {
    let (etcd, _cluster) = etcd();
    let a = kubelab_store::open_etcd(&format!("{}/a-{}", etcd.url, etcd.run)).unwrap();
    let b = kubelab_store::open_etcd(&format!("{}/b-{}", etcd.url, etcd.run)).unwrap();
    a.create(b"/registry/x", b"a".to_vec()).unwrap();
    assert_eq!(b.get(b"/registry/x").unwrap(), None);
    b.create(b"/registry/x", b"b".to_vec()).unwrap();
    let all = a.range(&RangeRequest::prefix(b"")).unwrap();
    assert_eq!(all.kvs.len(), 1);
    assert_eq!(all.kvs[0].key, b"/registry/x");
}

#[test]
fn a_bad_store_url_or_an_absent_etcd_is_a_clear_error() {
    let e = kubelab_store::open_etcd("etcd://nohost").err().unwrap();
    assert!(e.to_string().contains("\"nohost\" is not host:port"), "{e}");
    let e = kubelab_store::open_etcd("http://x:1").err().unwrap();
    assert!(e.to_string().contains("expected etcd://"), "{e}");
}

/// kill -9 of one member of three: reads, writes and an open watch go on.
#[test]
fn etcd_keeps_serving_when_one_member_of_three_dies() {
    let rt = rt();
    let dir = std::env::temp_dir().join(format!("kubelab-etcd-kill-{}", std::process::id()));
    let mut cluster = LocalEtcd::start(&dir, 3).unwrap();
    let s = kubelab_store::open_etcd(&cluster.url("/kill")).unwrap();
    let first = s.create(b"w/0", b"0".to_vec()).unwrap();
    let mut w = s
        .watch(b"w/", &prefix_end(b"w/"), first.mod_revision)
        .unwrap();
    let mut written = Vec::new();
    for i in 1..=3u8 {
        written.push(s.create(&[b'w', b'/', i], vec![i]).unwrap().mod_revision);
    }
    // Kill every member in turn (restarting the one before), so the one the
    // client and the watch use is killed at some point, leader or not.
    for victim in 0..3 {
        cluster.kill(victim);
        for i in 0..3u8 {
            let key = [b'w', b'/', 10 * (victim as u8 + 1) + i];
            written.push(s.create(&key, vec![i]).unwrap().mod_revision);
        }
        assert_eq!(s.get(b"w/0").unwrap().unwrap(), first);
        cluster.restart(victim).unwrap();
    }
    let seen: Vec<u64> = (0..written.len())
        .map(|_| next(&rt, &mut w).revision)
        .collect();
    assert_eq!(seen, written, "the watch lost or repeated events");
    let all = s.range(&RangeRequest::prefix(b"w/")).unwrap();
    assert_eq!(all.kvs.len(), 13);
}
