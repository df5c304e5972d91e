//! The engine over both mock servers over HTTP, with an in-memory store: what the
//! engine tests drive.

use govsync::engine::{CycleKind, CycleMemory, CycleOptions, Engine};
use govsync::governance::Governance;
use govsync::governance::OpenPagesClient;
use govsync::mock::Admin;
use govsync::mock::governance::MockGovernance;
use govsync::mock::sagemaker::MockSageMaker;
use govsync::plan::Policy;
use govsync::sagemaker::{Registry, SageMakerRegistry};
use govsync::store::Store;

/// Both mocks, the engine over them (the adapters, or a test's decorators of
/// them), its store, and what the daemon's loop keeps between cycles.
pub struct World<G = OpenPagesClient, R = SageMakerRegistry> {
    pub sm: MockSageMaker,
    pub gov: MockGovernance,
    pub mocks: super::remote::Mocks,
    pub engine: Engine<G, R>,
    pub store: Store,
    pub memory: CycleMemory,
}

/// A world with the groups `fraud` and `churn` and the built-in table.
pub async fn world(policy: Policy) -> World {
    let mocks = super::remote::Mocks::start(&["fraud", "churn"]).await;
    let engine = Engine::new(
        mocks.governance(500),
        mocks.registries(),
        govsync::engine::EngineSettings {
            policy,
            concurrency: 8,
            ..govsync::engine::EngineSettings::default()
        },
    );
    World::new(mocks, engine)
}

impl<G: Governance, R: Registry> World<G, R> {
    /// `engine` over `mocks`, with an empty in-memory store and nothing known yet.
    pub fn new(mocks: super::remote::Mocks, engine: Engine<G, R>) -> World<G, R> {
        World {
            sm: mocks.sm.clone(),
            gov: mocks.gov.clone(),
            engine,
            mocks,
            store: Store::open_sqlite(":memory:").expect("store"),
            memory: CycleMemory::new(std::time::Duration::from_secs(60)),
        }
    }

    /// A package (with an optional lifecycle) and a governance model linked to it.
    pub fn pair(
        &self,
        name: &str,
        status: Option<&str>,
        lifecycle: Option<(&str, &str)>,
    ) -> (String, String) {
        let group = if name.len().is_multiple_of(2) {
            "fraud"
        } else {
            "churn"
        };
        self.mocks.pair(group, name, status, lifecycle)
    }

    pub fn lifecycle(&self, arn: &str) -> Option<(String, String)> {
        self.mocks.lifecycle(arn)
    }

    pub fn writes(&self) -> (u64, u64) {
        (
            self.sm.counters().get("UpdateModelPackage"),
            self.gov.counters().get("contents.put"),
        )
    }

    pub async fn cycle(&mut self) -> govsync::engine::CycleReport {
        self.engine
            .cycle(Some(&mut self.store), &CycleOptions::default())
            .await
            .expect("cycle")
    }

    /// A cycle of `kind` as the daemon's loop runs it, keeping `memory`.
    pub async fn run(&mut self, kind: CycleKind) -> govsync::engine::CycleReport {
        self.engine
            .run_cycle(
                Some(&mut self.store),
                &CycleOptions::default(),
                &mut self.memory,
                kind,
            )
            .await
            .expect("cycle")
    }
}

/// A lifecycle as the mock describes it.
pub fn owned(l: (&str, &str)) -> Option<(String, String)> {
    Some((l.0.to_string(), l.1.to_string()))
}
