//! A layer that mirrors each span of its registry into a second registry, which has an
//! X-Ray layer of its own, enters and exits the mirrors from inside the invocation's own
//! span's enter and exit. Span ids mean something only in the registry that gave them out:
//! the mirror of the invocation's span has the same number in the second registry (both
//! give out ids in step), and the second X-Ray layer must still take it for the span it is,
//! not for the invocation's own span, which its task enters and exits (what the first
//! registry's X-Ray layer, when there is one, is told without looking the span up): also
//! when both registries hold copies of one `XRayLayer`.

use lambda_perf_core::PerfLayer;
use lambda_perf_core::test_util::CollectedSubsegments;
use lambda_perf_core::xray::{self, XRayLayer};
use lambda_runtime::{Context, Error, LambdaEvent};
use serde_json::{Value, json};
use tower::{Layer as _, ServiceExt, service_fn};
use tracing::span::Id;
use tracing::{Dispatch, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// Mirrors every span of its registry into `other`: made, entered, exited and closed with it.
struct Mirror {
    other: Dispatch,
}

/// The mirror of a span, kept in its extensions (dropped, so closed, with it).
struct Mirrored(tracing::Span);

impl<S> Layer<S> for Mirror
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_enter(&self, id: &Id, ctx: LayerContext<'_, S>) {
        // Made at the span's first enter (not in `on_new_span`, which runs inside
        // `tracing`'s look-up of the default dispatcher, where another cannot be set).
        if mirror_id(id, &ctx).is_none() {
            let mirror =
                tracing::dispatcher::with_default(&self.other, || tracing::info_span!("mirror"));
            ctx.span(id)
                .unwrap()
                .extensions_mut()
                .insert(Mirrored(mirror));
        }
        if let Some(mirror) = mirror_id(id, &ctx) {
            self.other.enter(&mirror);
        }
    }

    fn on_exit(&self, id: &Id, ctx: LayerContext<'_, S>) {
        if let Some(mirror) = mirror_id(id, &ctx) {
            self.other.exit(&mirror);
        }
    }
}

fn mirror_id<S>(id: &Id, ctx: &LayerContext<'_, S>) -> Option<Id>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let span = ctx.span(id)?;
    let extensions = span.extensions();
    extensions.get::<Mirrored>()?.0.id()
}

fn event() -> LambdaEvent<Value> {
    let mut context = Context::default();
    context.request_id = "req-1".into();
    context.xray_trace_id =
        Some("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".into());
    LambdaEvent::new(json!({}), context)
}

/// The mirror of the invocation's span, entered around the handler, is current in the
/// second registry: the handler's annotation lands on its subsegment.
#[tokio::test]
async fn a_mirrored_handler_span_is_entered_in_the_second_registry() {
    mirrored_handler_span(FirstXRay::None).await;
}

/// The same with an X-Ray layer in the first registry too, as under `init()`'s layers.
#[tokio::test]
async fn a_mirrored_handler_span_is_entered_in_the_second_registry_beside_a_first_xray_layer() {
    mirrored_handler_span(FirstXRay::Own).await;
}

/// The same with one `XRayLayer` value in both registries: a copy is the same layer (it
/// shares its id), and is still another one in the other registry.
#[tokio::test]
async fn a_mirrored_handler_span_is_entered_in_a_second_registry_sharing_the_xray_layer() {
    mirrored_handler_span(FirstXRay::TheSecondsCopy).await;
}

/// What X-Ray layer the first registry has.
enum FirstXRay {
    None,
    Own,
    TheSecondsCopy,
}

async fn mirrored_handler_span(first_xray: FirstXRay) {
    let xray = XRayLayer::new();
    let second = Dispatch::new(tracing_subscriber::registry().with(xray));
    let mirror = Mirror {
        other: second.clone(),
    };
    let first = tracing_subscriber::registry()
        .with(match first_xray {
            FirstXRay::None => None,
            FirstXRay::Own => Some(XRayLayer::new()),
            FirstXRay::TheSecondsCopy => Some(xray),
        })
        .with(mirror);
    let _default = tracing::subscriber::set_default(first);
    let sink = CollectedSubsegments::new();
    let layer = PerfLayer::builder()
        .service("payment")
        .handler_name("checkout")
        .metrics_disabled(true)
        .trace_disabled(false)
        .without_marker()
        .xray_sink(sink.clone())
        .build()
        .unwrap();
    layer
        .layer(service_fn(|_: LambdaEvent<Value>| async {
            // The handler runs inside its span, so inside its mirror: the mirror's
            // subsegment is current here.
            xray::annotate("in_handler", true);
            Ok::<_, Error>(Value::Null)
        }))
        .oneshot(event())
        .await
        .unwrap();
    let documents = sink.take();
    let mirror = documents
        .iter()
        .find(|doc| doc["name"] == "mirror")
        .unwrap_or_else(|| panic!("no mirror subsegment in {documents:#?}"));
    assert_eq!(
        mirror["annotations"]["in_handler"], true,
        "the annotation is not on the mirror's subsegment: {documents:#?}"
    );
}
