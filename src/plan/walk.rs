//! The walk over the graph: every step once all it waits on has finished, independent
//! steps in parallel.

use std::future::Future;

use tokio::task::JoinSet;

use super::{Cancel, Graph};

/// How one node of a walk ended.
#[derive(Debug)]
pub enum NodeResult<T> {
    Done(T),
    Failed(anyhow::Error),
    /// Not run because `root` (a step id) failed before it.
    Skipped {
        root: String,
    },
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Direction<'a> {
    /// Dependencies first (`up`).
    Forward,
    /// Dependents first (`down`), except where a step put back (`restoring`: an adopted
    /// resource) waits for a dependency put back before it ([`Graph::teardown_waits`]).
    Reverse { restoring: &'a [bool] },
}

/// The root a step is skipped with when the walk was interrupted (Ctrl-C) before it started.
pub const INTERRUPTED: &str = "interrupted";

/// Runs `run(i)` for every step, each once all it waits on is done. Once `cancel` is set,
/// no further step starts: those left are `Skipped` with the root [`INTERRUPTED`].
pub async fn walk<T, F, Fut>(
    graph: &Graph,
    direction: Direction<'_>,
    cancel: &Cancel,
    run: F,
) -> Vec<NodeResult<T>>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: Future<Output = anyhow::Result<T>> + Send + 'static,
{
    let n = graph.steps().len();
    let waits_on: Vec<Vec<usize>> = match direction {
        Direction::Forward => (0..n).map(|i| graph.deps(i).to_vec()).collect(),
        Direction::Reverse { restoring } => graph.teardown_waits(restoring),
    };
    let mut results: Vec<Option<NodeResult<T>>> = (0..n).map(|_| None).collect();
    let mut started = vec![false; n];
    let mut running = JoinSet::new();

    loop {
        // Start (or skip) everything that is ready; skipping can make more ready.
        let mut progressed = true;
        while progressed {
            progressed = false;
            for i in 0..n {
                if started[i] || !waits_on[i].iter().all(|&j| results[j].is_some()) {
                    continue;
                }
                started[i] = true;
                progressed = true;
                let blocked = waits_on[i].iter().find_map(|&j| match &results[j] {
                    Some(NodeResult::Failed(_)) => Some(graph.steps()[j].id().to_string()),
                    Some(NodeResult::Skipped { root }) => Some(root.clone()),
                    _ => None,
                });
                let blocked =
                    blocked.or_else(|| cancel.is_cancelled().then(|| INTERRUPTED.to_string()));
                match blocked {
                    Some(root) => results[i] = Some(NodeResult::Skipped { root }),
                    None => {
                        let task = run(i);
                        running.spawn(async move { (i, task.await) });
                    }
                }
            }
        }
        match running.join_next().await {
            Some(Ok((i, result))) => {
                results[i] = Some(match result {
                    Ok(value) => NodeResult::Done(value),
                    Err(err) => NodeResult::Failed(err),
                });
            }
            Some(Err(join_error)) => std::panic::resume_unwind(join_error.into_panic()),
            None => break,
        }
    }
    results
        .into_iter()
        .map(|r| r.expect("every node ends"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::test_steps::graph;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    #[tokio::test]
    async fn independent_steps_run_in_parallel_and_order_is_kept() {
        let graph = graph();
        let log = Arc::new(Mutex::new(Vec::new()));
        let ids: Vec<&'static str> = graph.steps().iter().map(|s| s.id()).collect();
        let results = walk(&graph, Direction::Forward, &Cancel::default(), |i| {
            let (log, id) = (log.clone(), ids[i]);
            async move {
                log.lock().unwrap().push(format!("start {id}"));
                tokio::time::sleep(Duration::from_millis(20)).await;
                log.lock().unwrap().push(format!("end {id}"));
                Ok(id)
            }
        })
        .await;
        assert!(results.iter().all(|r| matches!(r, NodeResult::Done(_))));
        let log = log.lock().unwrap().clone();
        let pos = |s: &str| log.iter().position(|l| l == s).unwrap();
        // a and b start before either ends: parallel.
        assert!(pos("start b") < pos("end a"));
        assert!(pos("end a") < pos("start c"));
        assert!(pos("end c") < pos("start d") && pos("end b") < pos("start d"));
    }

    #[tokio::test]
    async fn failure_skips_dependents_with_root_cause() {
        let graph = graph();
        let ids: Vec<&'static str> = graph.steps().iter().map(|s| s.id()).collect();
        let results = walk(&graph, Direction::Forward, &Cancel::default(), |i| {
            let id = ids[i];
            async move {
                if id == "a" {
                    anyhow::bail!("boom")
                }
                Ok(id)
            }
        })
        .await;
        assert!(matches!(&results[0], NodeResult::Failed(e) if e.to_string() == "boom"));
        assert!(matches!(&results[1], NodeResult::Done("b")));
        assert!(matches!(&results[2], NodeResult::Skipped { root } if root == "a"));
        assert!(matches!(&results[3], NodeResult::Skipped { root } if root == "a"));
        assert!(matches!(&results[4], NodeResult::Done("e")));
    }

    #[tokio::test]
    async fn reverse_walk_runs_dependents_first() {
        let graph = graph();
        let order = Arc::new(Mutex::new(Vec::new()));
        let ids: Vec<&'static str> = graph.steps().iter().map(|s| s.id()).collect();
        walk(
            &graph,
            Direction::Reverse {
                restoring: &[false; 5],
            },
            &Cancel::default(),
            |i| {
                let (order, id) = (order.clone(), ids[i]);
                async move {
                    order.lock().unwrap().push(id);
                    Ok(())
                }
            },
        )
        .await;
        let order = order.lock().unwrap().clone();
        let pos = |s: &str| order.iter().position(|l| *l == s).unwrap();
        assert!(pos("d") < pos("c") && pos("c") < pos("a"));
        assert!(pos("d") < pos("b") && pos("e") < pos("b"));
    }

    #[tokio::test]
    async fn reverse_failure_keeps_what_the_failed_step_needs() {
        let graph = graph();
        let ids: Vec<&'static str> = graph.steps().iter().map(|s| s.id()).collect();
        let results = walk(
            &graph,
            Direction::Reverse {
                restoring: &[false; 5],
            },
            &Cancel::default(),
            |i| {
                let id = ids[i];
                async move {
                    if id == "d" {
                        anyhow::bail!("in use")
                    }
                    Ok(id)
                }
            },
        )
        .await;
        // d still needs c, b and (through c) a: none of them may be deleted.
        for i in [0, 1, 2] {
            assert!(
                matches!(&results[i], NodeResult::Skipped { root } if root == "d"),
                "{i}"
            );
        }
        assert!(matches!(&results[4], NodeResult::Done("e")));
    }

    #[tokio::test]
    async fn cancel_lets_running_steps_finish_and_skips_the_rest() {
        let graph = graph();
        let ids: Vec<&'static str> = graph.steps().iter().map(|s| s.id()).collect();
        let cancel = Cancel::default();
        let results = walk(&graph, Direction::Forward, &cancel, |i| {
            let (id, cancel) = (ids[i], cancel.clone());
            async move {
                if id == "a" {
                    // Ctrl-C arrives while a (and b) are in flight.
                    cancel.cancel();
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Ok(id)
            }
        })
        .await;
        assert!(matches!(&results[0], NodeResult::Done("a")));
        assert!(matches!(&results[1], NodeResult::Done("b")));
        for i in [2, 3, 4] {
            assert!(
                matches!(&results[i], NodeResult::Skipped { root } if root == INTERRUPTED),
                "{i}"
            );
        }
    }
}
