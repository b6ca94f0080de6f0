//! [`SnapStartHook`]: tells lambda-perf the moment a SnapStart snapshot is restored.

use lambda_runtime::{BoxFuture, Error, SnapStartResource};

use crate::invocation::readiness;

/// Marks the restore of a SnapStart snapshot for lambda-perf: register it with
/// `lambda_runtime`'s [`Runtime`](lambda_runtime::Runtime) first, before resources that take
/// time to restore, so that their time counts as the restore's.
///
/// After a restore, ids are drawn under a fresh key from the operating system (clones of one
/// snapshot would otherwise emit the same subsegment ids and X-Ray would merge their
/// subsegments), and the environment's age and init run from the restore. Without the hook
/// lambda-perf does both on the first invocation of a `snap-start` process, which then
/// reports no restore time of its own; and it cannot tell a client created before the
/// snapshot from one created after the restore but before that invocation (by an
/// `after_restore` hook of yours that re-creates a connection, say): both are filed as
/// created before the snapshot (phase `snapshot`, no `ClientInitDuration`), the second's
/// time unreported. With the hook registered first, the second is the restore's own, with its
/// `ClientInitDuration`.
///
/// ```no_run
/// use std::sync::Arc;
/// use lambda_perf_core::{PerfLayer, SnapStartHook};
/// use lambda_runtime::{Error, LambdaEvent, Runtime};
/// use serde_json::Value;
/// use tower::ServiceBuilder;
///
/// async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
///     Ok(event.payload)
/// }
///
/// #[tokio::main]
/// async fn main() -> Result<(), Error> {
///     let service = ServiceBuilder::new().layer(PerfLayer::from_env()).service_fn(handler);
///     Runtime::new(service)
///         .register_snapstart_resource(Arc::new(SnapStartHook))
///         .run()
///         .await
/// }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct SnapStartHook;

impl SnapStartResource for SnapStartHook {
    fn after_restore(&self) -> BoxFuture<'_, Result<(), Error>> {
        readiness::mark_restored();
        Box::pin(async { Ok(()) })
    }
}
