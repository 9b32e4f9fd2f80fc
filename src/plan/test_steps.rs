//! Steps that only have an id and dependencies, for testing the graph and the walk.

use std::sync::Arc;

use cattube_stages::step::{
    Applied, ApplyContext, DestroyContext, Destroyed, Observation, ObserveContext, Spec, Step,
    StepResult,
};
use cattube_stages::{Registry, ResourceId};

use super::Graph;

/// A step with only a registry entry, for testing the graph and the walk.
pub struct NodeStep(&'static Spec);

#[allow(non_snake_case)]
pub fn Node(id: &'static str, depends_on: &'static [&'static str]) -> NodeStep {
    let depends_on: Vec<ResourceId> = depends_on.iter().map(|d| ResourceId::new(d)).collect();
    NodeStep(Box::leak(Box::new(Spec {
        id: ResourceId::new(id),
        stage: "0",
        depends_on: depends_on.leak(),
        ..Spec::DEFAULT
    })))
}

#[async_trait::async_trait]
impl Step for NodeStep {
    fn spec(&self) -> &'static Spec {
        self.0
    }
    async fn observe(&self, _: &ObserveContext<'_>) -> StepResult<Observation> {
        unreachable!()
    }
    async fn apply(&self, _: &ApplyContext<'_>) -> StepResult<Applied> {
        unreachable!()
    }
    async fn destroy(&self, _: &DestroyContext<'_>) -> StepResult<Destroyed> {
        unreachable!()
    }
}

pub fn graph() -> Graph {
    Graph::new(&nodes(vec![
        Node("a", &[]),
        Node("b", &[]),
        Node("c", &["a"]),
        Node("d", &["c", "b"]),
        Node("e", &["b"]),
    ]))
    .unwrap()
}

pub fn nodes(steps: Vec<NodeStep>) -> Registry {
    Registry::of(steps.into_iter().map(|s| Arc::new(s) as Arc<dyn Step>))
}

pub fn ids(graph: &Graph) -> Vec<&'static str> {
    graph.steps().iter().map(|s| s.id()).collect()
}
