//! Which prices a function's invocations are billed at ([`LogsPricing`]).

use std::collections::HashSet;

use lambda_perf_core::InitializationType;

use crate::pricing::{Architecture, PRICES_REGION, PRICES_TAKEN_ON, PriceTable};

use super::model::Prices;
use super::record::PlatformReport;

/// What `lambda-perf logs` prices the invocations at: the architecture's prices, for an
/// initialization type: the one given ([`init_type`](Self::init_type), `lambda-perf logs
/// --init-type`), else the one the logs state (`initializationType` of the JSON log format's
/// `platform.initStart`; the first that is not `on-demand`, as a function with provisioned
/// concurrency has environments initialized on demand too), else on demand. As `lambda-perf
/// run` prices a run ([`crate::pricing`]):
///
/// - on demand and SnapStart: the on-demand prices;
/// - provisioned concurrency: the provisioned concurrency duration price, except for the
///   invocations of environments initialized on demand when the provisioned ones were all
///   busy (spillover), which Lambda bills on demand: an invocation whose `REPORT` has an
///   `Init Duration` (an environment initialized ahead has none) and, where log streams are
///   known, every invocation of its log stream (its environment), and of a log stream whose
///   `platform.initStart` says `on-demand`;
/// - Managed Instances: the request price only, their EC2 instances being billed by the
///   hour, apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogsPricing {
    /// The architecture whose prices apply.
    pub architecture: Architecture,
    /// How Lambda initialized the function's environments, when known better than the logs
    /// say.
    pub init_type: Option<InitializationType>,
}

impl From<Architecture> for LogsPricing {
    /// The architecture's prices, for the initialization type the logs state.
    fn from(architecture: Architecture) -> Self {
        Self {
            architecture,
            init_type: None,
        }
    }
}

/// What the logs read say that prices depend on.
#[derive(Debug, Default)]
pub(super) struct PricingFacts {
    /// The initialization type of each `platform.initStart` read, with its log stream.
    pub(super) init_starts: Vec<(Option<String>, InitializationType)>,
}

impl PricingFacts {
    /// The initialization type the logs state: the first that is not on demand, else on
    /// demand when one says so.
    fn init_type(&self) -> Option<InitializationType> {
        let types = || self.init_starts.iter().map(|(_, kind)| *kind);
        types()
            .find(|&kind| kind != InitializationType::OnDemand)
            .or_else(|| types().next())
    }
}

/// What the invocations cost, and the prices that made it.
pub(super) struct Priced {
    pub(super) cost_usd: f64,
    pub(super) prices: Prices,
}

/// Prices `reports` (each read in the log stream at the same index of `streams`).
pub(super) fn price(
    reports: &[PlatformReport],
    streams: &[Option<String>],
    facts: &PricingFacts,
    pricing: LogsPricing,
) -> Priced {
    let architecture = pricing.architecture;
    let (init_type, from) = match (pricing.init_type, facts.init_type()) {
        (Some(kind), _) => (kind, "--init-type"),
        (None, Some(kind)) => (kind, "platform.initStart"),
        (None, None) => (InitializationType::OnDemand, "default"),
    };
    let on_demand = architecture.prices();
    let (table, tier) = architecture.prices_for(init_type);
    let spilled_over = spilled_over(reports, streams, facts);
    let spillover = |index: usize| {
        init_type == InitializationType::ProvisionedConcurrency && spilled_over(index)
    };
    let mut on_demand_invocations = 0;
    // Not `sum()`: the sum of no floats is -0.0, shown as `-0.0000 GB-s`.
    let mut compute_usd = 0.0;
    for (index, report) in reports.iter().enumerate() {
        let gb_seconds = PriceTable::gb_seconds(report.billed_duration_ms, report.memory_size_mb);
        let prices = if spillover(index) {
            on_demand_invocations += 1;
            on_demand
        } else {
            table
        };
        compute_usd += prices.compute_cost(gb_seconds);
    }
    let spilled = if on_demand_invocations > 0 {
        format!(" ({on_demand_invocations} spillover invocation(s) at on-demand prices)")
    } else {
        String::new()
    };
    Priced {
        cost_usd: compute_usd + table.request_cost(reports.len() as f64),
        prices: Prices {
            architecture,
            initialization_type: init_type.as_str().to_owned(),
            initialization_type_from: from.to_owned(),
            usd_per_gb_second: table.usd_per_gb_second,
            usd_per_million_requests: table.usd_per_million_requests,
            on_demand_invocations,
            source: format!("{PRICES_REGION}, {tier}{spilled}, as of {PRICES_TAKEN_ON}"),
        },
    }
}

/// Whether the invocation at an index ran in an environment initialized on demand: its
/// `REPORT` has an `Init Duration`, or its log stream has one such `REPORT` or a
/// `platform.initStart` saying `on-demand`.
fn spilled_over<'a>(
    reports: &'a [PlatformReport],
    streams: &'a [Option<String>],
    facts: &'a PricingFacts,
) -> impl Fn(usize) -> bool + 'a {
    let mut on_demand_streams: HashSet<&str> = reports
        .iter()
        .zip(streams)
        .filter(|(report, _)| report.init_duration_ms.is_some())
        .filter_map(|(_, stream)| stream.as_deref())
        .collect();
    on_demand_streams.extend(
        facts
            .init_starts
            .iter()
            .filter(|(_, kind)| *kind == InitializationType::OnDemand)
            .filter_map(|(stream, _)| stream.as_deref()),
    );
    move |index| {
        reports[index].init_duration_ms.is_some()
            || streams
                .get(index)
                .and_then(Option::as_deref)
                .is_some_and(|stream| on_demand_streams.contains(stream))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::{LogFile, LogsReport};

    const PROVISIONED: &str = "2025/01/02/[$LATEST]0000000000000000000000000000000a";
    const SPILLOVER: &str = "2025/01/02/[$LATEST]0000000000000000000000000000000b";

    /// A REPORT of 1,000 ms billed at 1,024 MB (1 GB-s), as `aws logs tail` prints it.
    fn report(stream: &str, id: &str, init: bool) -> String {
        let init = if init {
            "\tInit Duration: 100.00 ms"
        } else {
            ""
        };
        format!(
            "2025-01-02T03:04:05.000000+00:00 {stream} REPORT RequestId: {id}\tDuration: \
             900.00 ms\tBilled Duration: 1000 ms\tMemory Size: 1024 MB\tMax Memory Used: 40 MB\
             {init}\n"
        )
    }

    /// Two invocations of a provisioned environment, and two of one initialized on demand
    /// when it was busy: its cold start and a warm one after it.
    fn provisioned_with_spillover() -> LogFile {
        LogFile {
            name: "pc.log".into(),
            text: [
                report(PROVISIONED, "r-1", false),
                report(SPILLOVER, "r-2", true),
                report(PROVISIONED, "r-3", false),
                report(SPILLOVER, "r-4", false),
            ]
            .concat(),
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn provisioned_concurrency_prices_its_spillover_environment_on_demand() {
        let pricing = LogsPricing {
            architecture: Architecture::X86_64,
            init_type: Some(InitializationType::ProvisionedConcurrency),
        };
        let report = LogsReport::build(&[provisioned_with_spillover()], pricing);
        let (provisioned, on_demand) = (
            Architecture::X86_64.provisioned_concurrency_prices(),
            Architecture::X86_64.prices(),
        );
        let expected = 2.0 * provisioned.usd_per_gb_second
            + 2.0 * on_demand.usd_per_gb_second
            + 4.0 * 0.20 / 1e6;
        assert!(close(report.cost_usd, expected), "{}", report.cost_usd);
        assert_eq!(report.prices.initialization_type, "provisioned-concurrency");
        assert_eq!(report.prices.initialization_type_from, "--init-type");
        assert_eq!(report.prices.on_demand_invocations, 2);
        assert!(
            report.prices.source.contains("2 spillover invocation(s)"),
            "{}",
            report.prices.source
        );
    }

    #[test]
    fn without_an_init_type_the_logs_are_priced_on_demand() {
        let report = LogsReport::build(&[provisioned_with_spillover()], Architecture::X86_64);
        let expected = 4.0 * Architecture::X86_64.prices().usd_per_gb_second + 4.0 * 0.20 / 1e6;
        assert!(close(report.cost_usd, expected), "{}", report.cost_usd);
        assert_eq!(report.prices.initialization_type, "on-demand");
        assert_eq!(report.prices.initialization_type_from, "default");
        assert_eq!(report.prices.on_demand_invocations, 0);
    }

    #[test]
    fn managed_instances_are_priced_by_their_requests_only() {
        let pricing = LogsPricing {
            architecture: Architecture::Arm64,
            init_type: Some(InitializationType::ManagedInstances),
        };
        let report = LogsReport::build(&[provisioned_with_spillover()], pricing);
        assert!(
            close(report.cost_usd, 4.0 * 0.20 / 1e6),
            "{}",
            report.cost_usd
        );
        assert_eq!(report.prices.usd_per_gb_second, 0.0);
    }

    /// In the JSON log format, `platform.initStart` says how each environment was initialized:
    /// the function's type is the one that is not on demand, and an environment initialized
    /// on demand is spillover, its REPORTs after the first too.
    #[test]
    fn the_init_type_the_json_logs_state_chooses_the_prices() {
        let event = |stream: &str, message: serde_json::Value| {
            serde_json::json!({"timestamp": 1_735_787_045_000_u64, "logStreamName": stream,
                "message": message.to_string()})
        };
        let init_start = |kind: &str| {
            serde_json::json!({"time": "2025-01-02T03:04:05.000Z", "type": "platform.initStart",
                "record": {"initializationType": kind, "phase": "init"}})
        };
        let report = |id: &str| {
            serde_json::json!({"time": "2025-01-02T03:04:05.000Z", "type": "platform.report",
                "record": {"requestId": id, "status": "success", "metrics": {"durationMs": 900.0,
                "billedDurationMs": 1000, "memorySizeMB": 1024, "maxMemoryUsedMB": 40}}})
        };
        let events = serde_json::json!({"events": [
            event(PROVISIONED, init_start("provisioned-concurrency")),
            event(SPILLOVER, init_start("on-demand")),
            event(PROVISIONED, report("r-1")),
            event(SPILLOVER, report("r-2")),
        ]});
        let file = LogFile {
            name: "pc.json".into(),
            text: events.to_string(),
        };
        let report = LogsReport::build(&[file], Architecture::X86_64);
        assert_eq!(report.prices.initialization_type, "provisioned-concurrency");
        assert_eq!(report.prices.initialization_type_from, "platform.initStart");
        assert_eq!(report.prices.on_demand_invocations, 1);
        let expected = Architecture::X86_64
            .provisioned_concurrency_prices()
            .usd_per_gb_second
            + Architecture::X86_64.prices().usd_per_gb_second
            + 2.0 * 0.20 / 1e6;
        assert!(close(report.cost_usd, expected), "{}", report.cost_usd);
    }
}
