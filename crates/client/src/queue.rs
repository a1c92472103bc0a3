//! The work queue: keys of objects that need a reconcile.
//!
//! Like client-go's workqueue, a key is in the queue at most once, and is
//! never handed to two workers at the same time: if it changes while a
//! worker reconciles it, it is queued again for when the worker is done.
//! Failures come back after a per-key exponential back-off.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

#[derive(Default)]
struct State {
    queue: VecDeque<String>,
    queued: HashSet<String>,
    processing: HashSet<String>,
    /// Changed while being processed: queue again when done.
    dirty: HashSet<String>,
    failures: HashMap<String, u32>,
    /// The earliest pending `add_after` of each key.
    waiting: HashMap<String, Instant>,
    shut_down: bool,
}

#[derive(Clone, Default)]
pub struct WorkQueue {
    state: Arc<Mutex<State>>,
    notify: Arc<Notify>,
}

impl WorkQueue {
    pub fn new() -> WorkQueue {
        WorkQueue::default()
    }

    /// Asks for `key` to be reconciled (soon, once).
    pub fn add(&self, key: &str) {
        let mut s = self.state.lock().unwrap();
        if s.processing.contains(key) {
            s.dirty.insert(key.to_string());
            return;
        }
        if s.queued.insert(key.to_string()) {
            s.queue.push_back(key.to_string());
            drop(s);
            self.notify.notify_one();
        }
    }

    /// Adds `key` after `delay`. As client-go's delaying queue, a key
    /// waits at most once: if it is already due sooner, nothing changes
    /// (a controller that asks to look again on every reconcile would
    /// otherwise start a new chain of wake-ups with every event).
    pub fn add_after(&self, key: &str, delay: Duration) {
        let at = Instant::now() + delay;
        {
            let mut s = self.state.lock().unwrap();
            match s.waiting.get(key) {
                Some(due) if *due <= at => return,
                _ => {
                    s.waiting.insert(key.to_string(), at);
                }
            }
        }
        let (q, key) = (self.clone(), key.to_string());
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            {
                let mut s = q.state.lock().unwrap();
                // A sooner wake-up replaced this one: it has fired already.
                if s.waiting.get(&key) != Some(&at) {
                    return;
                }
                s.waiting.remove(&key);
            }
            q.add(&key);
        });
    }

    /// Adds `key` again after its failure back-off: 5 ms doubling to 60 s.
    pub fn add_rate_limited(&self, key: &str) {
        let n = {
            let mut s = self.state.lock().unwrap();
            let n = s.failures.entry(key.to_string()).or_insert(0);
            *n += 1;
            *n
        };
        let delay =
            Duration::from_millis(5u64.saturating_mul(1 << n.min(14))).min(Duration::from_secs(60));
        self.add_after(key, delay);
    }

    /// The key succeeded: reset its back-off.
    pub fn forget(&self, key: &str) {
        self.state.lock().unwrap().failures.remove(key);
    }

    /// Waits for the next key; `None` once shut down.
    pub async fn get(&self) -> Option<String> {
        loop {
            let notified = self.notify.notified();
            {
                let mut s = self.state.lock().unwrap();
                if s.shut_down {
                    return None;
                }
                if let Some(k) = s.queue.pop_front() {
                    s.queued.remove(&k);
                    s.processing.insert(k.clone());
                    if !s.queue.is_empty() {
                        self.notify.notify_one();
                    }
                    return Some(k);
                }
            }
            notified.await;
        }
    }

    /// The worker is finished with `key`.
    pub fn done(&self, key: &str) {
        let mut s = self.state.lock().unwrap();
        s.processing.remove(key);
        if s.dirty.remove(key) && s.queued.insert(key.to_string()) {
            s.queue.push_back(key.to_string());
            drop(s);
            self.notify.notify_one();
        }
    }

    pub fn len(&self) -> usize {
        self.state.lock().unwrap().queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn shut_down(&self) {
        self.state.lock().unwrap().shut_down = true;
        self.notify.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_key_is_queued_once_and_requeued_if_changed_while_processing() {
        let q = WorkQueue::new();
        q.add("a");
        q.add("a");
        q.add("b");
        assert_eq!(q.len(), 2);
        let k = q.get().await.unwrap();
        assert_eq!(k, "a");
        q.add("a"); // changed while a worker has it
        assert_eq!(q.len(), 1, "not queued twice while processing");
        q.done("a");
        assert_eq!(q.get().await.unwrap(), "b");
        assert_eq!(q.get().await.unwrap(), "a");
    }

    #[tokio::test]
    async fn a_key_waits_once_for_its_soonest_wake_up() {
        let q = WorkQueue::new();
        for _ in 0..3 {
            q.add_after("a", Duration::from_millis(60));
        }
        q.add_after("a", Duration::from_millis(10)); // sooner: replaces them
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(q.len(), 1);
        assert_eq!(q.get().await.unwrap(), "a");
        q.done("a");
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(q.len(), 0, "the later wake-ups were dropped, not queued");
    }
}
