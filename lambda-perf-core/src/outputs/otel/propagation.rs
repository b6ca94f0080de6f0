//! The trace of an invocation, from its Lambda trace header through `opentelemetry-aws`'s
//! X-Ray propagator: `Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8`
//! gives trace id `5759e988bd862e3fe1be46a994272793` and parent span `53995c3f42cd8ad8`.

use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TraceId, TraceState};
use opentelemetry_aws::trace::XrayPropagator;

use super::span::TraceIds;
use crate::formats::xray::header::recording_ids;

/// The header the propagator reads.
const HEADER: &str = "x-amzn-trace-id";

/// One header, as the propagator asks for it.
struct TraceHeader<'a>(&'a str);

impl Extractor for TraceHeader<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        key.eq_ignore_ascii_case(HEADER).then_some(self.0)
    }

    fn keys(&self) -> Vec<&str> {
        vec![HEADER]
    }
}

/// The trace of an invocation the core records (the header is complete and `Sampled=1`):
/// its id and state as the X-Ray propagator reads them, and the parent the handler
/// subsegment records. `None` for an invocation the core does not record.
pub(crate) fn recorded_trace(header: &str) -> Option<TraceIds> {
    let (root, parent) = recording_ids(header)?;
    let remote_parent = u64::from_str_radix(parent, 16).ok()?;
    let context = XrayPropagator::new().extract(&TraceHeader(header));
    let span = context.span();
    let extracted = span.span_context();
    let (trace_id, trace_state) = if extracted.is_valid() && extracted.is_sampled() {
        (extracted.trace_id(), extracted.trace_state().clone())
    } else {
        // Keys the propagator cannot keep as trace state (it then gives up on the whole
        // header): the ids are read from the header directly.
        (root_trace_id(root)?, TraceState::default())
    };
    Some(TraceIds {
        trace_id,
        trace_state,
        remote_parent,
    })
}

/// `1-5759e988-bd862e3fe1be46a994272793` → `5759e988bd862e3fe1be46a994272793`.
fn root_trace_id(root: &str) -> Option<TraceId> {
    let hex: String = root.get(2..)?.split('-').collect();
    TraceId::from_hex(&hex).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_gives_trace_and_parent() {
        let ids = recorded_trace(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1|68fd508a:5",
        )
        .unwrap();
        assert_eq!(ids.trace_id.to_string(), "5759e988bd862e3fe1be46a994272793");
        assert_eq!(ids.remote_parent, 0x5399_5c3f_42cd_8ad8);
        assert_eq!(
            ids.trace_state.get("lineage"),
            Some("a87bd80c:1|68fd508a:5")
        );
    }

    #[test]
    fn unsampled_and_partial_headers_give_none() {
        for header in [
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
            "Root=1-5759e988-bd862e3fe1be46a994272793",
            "",
        ] {
            assert_eq!(recorded_trace(header), None, "{header}");
        }
    }

    #[test]
    fn keys_the_propagator_refuses_do_not_lose_the_trace() {
        // An upper-case value with `=` is not valid W3C trace state.
        let ids = recorded_trace(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Odd=a=b",
        )
        .unwrap();
        assert_eq!(ids.trace_id.to_string(), "5759e988bd862e3fe1be46a994272793");
    }
}
