//! The graph: which step waits for which, sorted so that dependencies come first.

use std::collections::HashMap;
use std::sync::Arc;

use cattube_stages::{Registry, ResourceId, Step};

pub struct Graph {
    steps: Vec<Arc<dyn Step>>,
    /// For each step, the indices of the steps it depends on.
    deps: Vec<Vec<usize>>,
}

/// A registry that cannot be walked: the error names the step and the dependency.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum GraphError {
    #[error("resource {step} depends on unknown resource {dependency}")]
    UnknownDependency {
        step: &'static str,
        dependency: &'static str,
    },
    #[error("resource id {0} is registered twice")]
    Duplicate(&'static str),
    #[error("the resources {} depend on each other in a cycle", .0.join(" → "))]
    Cycle(Vec<&'static str>),
}

impl Graph {
    /// Builds and validates the graph of what each step waits for with these settings
    /// ([`Step::waits_for`]): every dependency must be a registered id, ids are unique, and
    /// there is no cycle. Steps may come in any order; they are sorted topologically,
    /// keeping the given order wherever the dependencies allow (Kahn's algorithm taking the
    /// earliest ready step first), so a registry already in dependency order keeps its order.
    pub fn for_settings(
        registry: &Registry,
        settings: &cattube_stages::Settings,
    ) -> Result<Graph, GraphError> {
        Graph::waiting(registry, |step| step.waits_for(settings))
    }

    /// The graph of every declared dependency (`depends_on`), whatever the settings.
    #[cfg(test)]
    pub fn new(registry: &Registry) -> Result<Graph, GraphError> {
        Graph::waiting(registry, |step| step.depends_on().to_vec())
    }

    fn waiting(
        registry: &Registry,
        waits_for: impl Fn(&dyn Step) -> Vec<ResourceId>,
    ) -> Result<Graph, GraphError> {
        let steps = registry.steps();
        let mut index: HashMap<&'static str, usize> = HashMap::new();
        for (i, step) in steps.iter().enumerate() {
            if index.insert(step.id(), i).is_some() {
                return Err(GraphError::Duplicate(step.id()));
            }
        }
        let mut given_deps: Vec<Vec<usize>> = Vec::with_capacity(steps.len());
        for step in steps {
            let mut deps = Vec::new();
            for dependency in waits_for(step.as_ref()).into_iter().map(ResourceId::as_str) {
                let j = *index.get(dependency).ok_or(GraphError::UnknownDependency {
                    step: step.id(),
                    dependency,
                })?;
                deps.push(j);
            }
            given_deps.push(deps);
            // Only named, not waited for: still a registered id (a typo is caught here).
            for dependency in step.names().iter().map(|id| id.as_str()) {
                if !index.contains_key(dependency) {
                    return Err(GraphError::UnknownDependency {
                        step: step.id(),
                        dependency,
                    });
                }
            }
        }
        let n = steps.len();
        let order = topological_order(&given_deps)
            .map_err(|placed| GraphError::Cycle(cycle(steps, &given_deps, &placed)))?;
        let mut position = vec![0; n];
        for (at, &i) in order.iter().enumerate() {
            position[i] = at;
        }
        let deps = order
            .iter()
            .map(|&i| given_deps[i].iter().map(|&j| position[j]).collect())
            .collect();
        let steps = order.iter().map(|&i| steps[i].clone()).collect();
        Ok(Graph { steps, deps })
    }

    pub fn steps(&self) -> &[Arc<dyn Step>] {
        &self.steps
    }

    pub fn deps(&self, i: usize) -> &[usize] {
        &self.deps[i]
    }

    /// The order rows are shown in: by stage (`4` before `4a` before `5`), then, within a
    /// stage, dependencies first (the graph's own order is one).
    pub fn display_order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.steps.len()).collect();
        order.sort_by_key(|&i| (stage_order(self.steps[i].stage()), i));
        order
    }

    pub(super) fn dependents(&self, i: usize) -> Vec<usize> {
        (0..self.steps.len())
            .filter(|&j| self.deps[j].contains(&i))
            .collect()
    }

    /// What each step waits for in `down`'s walk, given which steps it puts back
    /// (`restoring`, adopted resources) rather than deletes: its dependents first, except
    /// that a step put back after a dependency it names in `restore_after`
    /// ([`cattube_stages::Spec::restore_after`]), also put back, waits for that dependency
    /// instead. Should that make a cycle, the plain reverse order stands.
    pub fn teardown_waits(&self, restoring: &[bool]) -> Vec<Vec<usize>> {
        let n = self.steps.len();
        let reverse: Vec<Vec<usize>> = (0..n).map(|i| self.dependents(i)).collect();
        let mut waits = reverse.clone();
        for i in (0..n).filter(|&i| restoring[i]) {
            for after in self.steps[i].spec().restore_after {
                let found = self.deps[i]
                    .iter()
                    .copied()
                    .find(|&j| self.steps[j].id() == after.as_str() && restoring[j]);
                if let Some(j) = found {
                    waits[j].retain(|&k| k != i);
                    waits[i].push(j);
                }
            }
        }
        if topological_order(&waits).is_ok() {
            waits
        } else {
            reverse
        }
    }
}

/// Every step after all it waits on, the earliest ready step first (Kahn's algorithm), so
/// that a list already in that order keeps it; on a cycle, which steps could be placed.
fn topological_order(waits: &[Vec<usize>]) -> Result<Vec<usize>, Vec<bool>> {
    let n = waits.len();
    let mut placed = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        match (0..n).find(|&i| !placed[i] && waits[i].iter().all(|&j| placed[j])) {
            Some(i) => {
                placed[i] = true;
                order.push(i);
            }
            None => return Err(placed),
        }
    }
    Ok(order)
}

/// One cycle among the steps not placed: follow unplaced dependencies until one repeats.
fn cycle(steps: &[Arc<dyn Step>], deps: &[Vec<usize>], placed: &[bool]) -> Vec<&'static str> {
    let start = (0..steps.len())
        .find(|&i| !placed[i])
        .expect("an unplaced step");
    let mut path = vec![start];
    loop {
        let at = *path.last().expect("non-empty path");
        let next = deps[at]
            .iter()
            .copied()
            .find(|&j| !placed[j])
            .expect("an unplaced step waits on an unplaced step");
        if let Some(from) = path.iter().position(|&i| i == next) {
            let mut ids: Vec<&'static str> = path[from..].iter().map(|&i| steps[i].id()).collect();
            ids.push(steps[next].id());
            return ids;
        }
        path.push(next);
    }
}

/// A stage as a sort key: its number, then its letter (`"4"` < `"4a"` < `"5"` < `"10"`).
pub fn stage_order(stage: &str) -> (u32, &str) {
    let digits = stage
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(stage.len());
    (
        stage[..digits].parse().unwrap_or(u32::MAX),
        &stage[digits..],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::test_steps::{graph, ids, nodes, Node};

    #[test]
    fn rows_are_shown_by_stage_then_dependency() {
        let graph = Graph::new(&Registry::standard()).unwrap();
        let order = graph.display_order();
        let position = |i: usize| order.iter().position(|&x| x == i).unwrap();
        for pair in order.windows(2) {
            let (a, b) = (
                graph.steps()[pair[0]].stage(),
                graph.steps()[pair[1]].stage(),
            );
            assert!(stage_order(a) <= stage_order(b), "{a} shown before {b}");
        }
        for i in 0..graph.steps().len() {
            for &dep in graph.deps(i) {
                if graph.steps()[dep].stage() == graph.steps()[i].stage() {
                    assert!(
                        position(dep) < position(i),
                        "a dependency shown after its dependent"
                    );
                }
            }
        }
        assert!(stage_order("4") < stage_order("4a"));
        assert!(stage_order("4a") < stage_order("5"));
        assert!(stage_order("9") < stage_order("10"));
    }

    #[test]
    fn an_adopted_functions_destination_is_put_back_after_the_function() {
        use cattube_stages::{converter_function, failure_destination};
        let graph = Graph::new(&Registry::standard()).unwrap();
        let at = |id: ResourceId| graph.steps().iter().position(|s| s.id() == id.as_str());
        let (function, destination) = (
            at(converter_function::ID).unwrap(),
            at(failure_destination::ID).unwrap(),
        );
        let n = graph.steps().len();
        let mut restoring = vec![false; n];
        (restoring[function], restoring[destination]) = (true, true);
        let waits = graph.teardown_waits(&restoring);
        assert!(waits[destination].contains(&function), "{waits:?}");
        assert!(!waits[function].contains(&destination), "{waits:?}");
        // Only both put back: a deleted function still goes after what uses it.
        restoring[function] = false;
        let waits = graph.teardown_waits(&restoring);
        assert!(waits[function].contains(&destination), "{waits:?}");
        // Whatever is put back, the order can be walked.
        assert!(topological_order(&graph.teardown_waits(&vec![true; n])).is_ok());
    }

    #[test]
    fn any_registry_order_is_sorted_by_dependencies() {
        let graph = Graph::new(&nodes(vec![
            Node("d", &["c", "b"]),
            Node("c", &["a"]),
            Node("e", &["b"]),
            Node("b", &[]),
            Node("a", &[]),
        ]))
        .unwrap();
        // The earliest ready step first: b (index 3) before a (index 4), e as soon as b is.
        assert_eq!(ids(&graph), ["b", "e", "a", "c", "d"]);
        let at = |id: &str| ids(&graph).iter().position(|x| *x == id).unwrap();
        for i in 0..graph.steps().len() {
            for &dep in graph.deps(i) {
                assert!(dep < i, "{} placed before its dependency", ids(&graph)[i]);
            }
        }
        assert_eq!(graph.deps(at("d")), [at("c"), at("b")]);
    }

    #[test]
    fn a_registry_in_dependency_order_keeps_its_order() {
        assert_eq!(ids(&graph()), ["a", "b", "c", "d", "e"]);
        let registry: Vec<&str> = Registry::standard()
            .steps()
            .iter()
            .map(|s| s.id())
            .collect();
        // As `up` walks it by default (with `[notify]` the function waits for the
        // distribution, registered after it, and is placed after it).
        let settings = cattube_stages::Settings::default();
        assert_eq!(
            ids(&Graph::for_settings(&Registry::standard(), &settings).unwrap()),
            registry
        );
    }

    #[test]
    fn a_step_added_to_the_registry_is_placed_by_its_dependencies() {
        // Registered first, it still comes after what it depends on; the rest keeps its order.
        let dummy: Arc<dyn Step> = Arc::new(Node("dummy", &["distribution", "source-bucket"]));
        let standard = Registry::standard();
        let steps = std::iter::once(dummy).chain(standard.steps().iter().cloned());
        let graph = Graph::for_settings(&Registry::of(steps), &cattube_stages::Settings::default())
            .unwrap();
        let ids = ids(&graph);
        let dummy = ids.iter().position(|&id| id == "dummy").unwrap();
        let mut deps: Vec<&str> = graph.deps(dummy).iter().map(|&d| ids[d]).collect();
        deps.sort();
        assert_eq!(deps, ["distribution", "source-bucket"]);
        assert!(graph.deps(dummy).iter().all(|&d| d < dummy), "{ids:?}");
        let registry: Vec<&str> = Registry::standard()
            .steps()
            .iter()
            .map(|s| s.id())
            .collect();
        let others: Vec<&str> = ids.into_iter().filter(|&id| id != "dummy").collect();
        assert_eq!(others, registry);
    }

    /// What AWS checks when a resource is written must exist by then, whatever else became
    /// a name-only dependency (issue 17): a race would not show it, the graph does.
    #[test]
    fn what_aws_checks_on_a_write_exists_before_it() {
        let pairs = [
            // Lambda looks the role up and assumes it on CreateFunction.
            ("converter-function", "converter-role"),
            // A resource policy needs its function.
            ("invoke-permission", "converter-function"),
            // S3 test-invokes the function (the permission) on the bucket's configuration.
            ("source-notification", "invoke-permission"),
            ("source-notification", "source-bucket"),
            // AWS:SourceArn holds the distribution's id, known once it is created; the
            // policy is the bucket's.
            ("destination-bucket-policy", "distribution"),
            ("destination-bucket-policy", "destination-bucket"),
            // The distribution names the OAC by its id.
            ("distribution", "origin-access-control"),
            ("job-template", "queue"),
        ];
        let settings = cattube_stages::Settings::default();
        let graph = Graph::for_settings(&Registry::standard(), &settings).unwrap();
        let at = |id: &str| {
            graph
                .steps()
                .iter()
                .position(|s| s.id() == id)
                .unwrap_or_else(|| panic!("{id} is not registered"))
        };
        for (step, needed) in pairs {
            let (from, to) = (at(step), at(needed));
            let mut seen = vec![false; graph.steps().len()];
            let mut stack = vec![from];
            while let Some(i) = stack.pop() {
                for &d in graph.deps(i) {
                    if !seen[d] {
                        seen[d] = true;
                        stack.push(d);
                    }
                }
            }
            assert!(seen[to], "{step} must wait for {needed} to exist");
        }
    }

    /// The function's env carries the distribution's domain only for `[notify]`, so only
    /// then does it wait for the distribution (a round on a fresh `up` otherwise).
    #[test]
    fn the_function_waits_for_the_distribution_only_with_notify() {
        let waits = |settings: &cattube_stages::Settings| {
            let graph = Graph::for_settings(&Registry::standard(), settings).unwrap();
            let at = |id: &str| graph.steps().iter().position(|s| s.id() == id).unwrap();
            graph
                .deps(at("converter-function"))
                .contains(&at("distribution"))
        };
        let mut settings = cattube_stages::Settings::default();
        assert!(!waits(&settings));
        settings.notify_emails = vec!["cat@example.com".into()];
        assert!(waits(&settings));
    }

    #[test]
    fn an_unknown_dependency_is_named() {
        let err = Graph::new(&nodes(vec![Node("a", &["nope"])]))
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "resource a depends on unknown resource nope"
        );
    }

    #[test]
    fn a_cycle_is_named() {
        let err = Graph::new(&nodes(vec![
            Node("a", &[]),
            Node("b", &["d"]),
            Node("c", &["b", "a"]),
            Node("d", &["c"]),
        ]))
        .err()
        .unwrap();
        assert_eq!(
            err.to_string(),
            "the resources b → d → c → b depend on each other in a cycle"
        );
    }

    #[test]
    fn a_duplicate_id_is_refused() {
        let err = Graph::new(&nodes(vec![Node("a", &[]), Node("a", &[])]))
            .err()
            .unwrap();
        assert_eq!(err, GraphError::Duplicate("a"));
    }
}
