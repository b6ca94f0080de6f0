//! The `ColdStart` line, as Powertools writes it, plus the process's init duration.

use super::dimension::Dimension;
use super::set::MetricSet;
use super::{Resolution, Unit, flush, validate};
use crate::clock::millis_f64;
use crate::facts::InvocationFacts;
use crate::layer::PerfConfig;
use crate::lazy::InitRecord;
use crate::warn::WarnOnce;

static BAD_FUNCTION_NAME: WarnOnce = WarnOnce::new();

/// Writes `ColdStart` (Count, 1) and `InitDuration` (Milliseconds) in their own line with the
/// dimensions `function_name` and `service`, before the handler runs, for `cold` and `restart`
/// invocations only. Clients initialized at init add their `ClientInitDuration` values to the
/// line (which is then written for any first invocation, cold or not).
pub(crate) fn write_line(
    config: &PerfConfig,
    facts: &InvocationFacts,
    context_function_name: &str,
    init_clients: &[InitRecord],
) {
    let cold_start = config.cold_start_metric && facts.is_cold_start();
    let init_durations: Vec<f64> = init_clients
        .iter()
        .filter(|record| record.error.is_none())
        .map(|record| millis_f64(record.duration))
        .collect();
    if config.metrics_disabled || (!cold_start && init_durations.is_empty()) {
        return;
    }
    let mut dimensions = Vec::with_capacity(2);
    let function_name = config
        .function_name
        .as_deref()
        .or_else(|| Some(context_function_name).filter(|name| !name.is_empty()));
    if let Some(name) = function_name {
        match validate::dimension("function_name", name) {
            Ok(()) => dimensions.push(Dimension::new("function_name", name.to_owned())),
            Err(error) => {
                BAD_FUNCTION_NAME.warn(format_args!(
                    "the ColdStart metric is written without function_name: {error}"
                ));
            }
        }
    }
    dimensions.push(Dimension::new("service", config.service.clone()));

    let mut set = MetricSet::default();
    let init_ms = millis_f64(facts.init_duration());
    let cold_start_metrics = [
        ("ColdStart", Unit::Count, 1.0),
        ("InitDuration", Unit::Milliseconds, init_ms),
    ];
    let client_metrics = init_durations
        .iter()
        .map(|duration| ("ClientInitDuration", Unit::Milliseconds, *duration));
    let metrics = cold_start_metrics
        .into_iter()
        .filter(|_| cold_start)
        .chain(client_metrics);
    for (name, unit, value) in metrics {
        // Fixed names and finite values: these cannot fail.
        let _ = set.add_metric(&dimensions, name.into(), unit, Resolution::Standard, value);
    }
    let record = config.invocation_facts.then(|| facts.record(None));
    flush::write_set(
        &config.writer,
        &config.namespace,
        &dimensions,
        &set,
        record.as_ref(),
    );
}
