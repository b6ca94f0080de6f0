//! Lambda's prices, in one place: [`Architecture`], [`PriceTable`] and how Lambda bills a
//! duration ([`billed_ms`]).
//!
//! The figures are AWS's published on-demand prices for **us-east-1**, first tier of the
//! monthly GB-second tiers (the first 6 billion GB-seconds on x86_64, the first 7.5 billion
//! on arm64), taken on [`PRICES_TAKEN_ON`] from <https://aws.amazon.com/lambda/pricing/>:
//!
//! | architecture | per GB-second | per million requests |
//! |---|---|---|
//! | `x86_64` | $0.0000166667 | $0.20 |
//! | `arm64` | $0.0000133334 | $0.20 |
//!
//! Under provisioned concurrency an invocation's duration has its own price
//! ([`Architecture::provisioned_concurrency_prices`]): $0.0000097222 per GB-second on `x86_64`,
//! $0.0000077778 on `arm64`, requests as above; the provisioned concurrency itself
//! ($0.0000041667 and $0.0000033334 per GB-second while configured) is not per invocation and
//! is left out. On Lambda Managed Instances ([`Architecture::managed_instances_prices`]) an
//! invocation costs its request only: the EC2 instances (and their management fee) are
//! billed by the hour, not per invocation, and are left out too.
//!
//! No free tier is applied. Billed duration is the duration rounded up to the millisecond
//! (at least 1 ms); since August 2025 the INIT phase of on-demand functions is billed too,
//! so a cold start's billed duration covers init plus the invocation.
//!
//! ```
//! use lambda_perf_local::pricing::{Architecture, billed_ms};
//!
//! let prices = Architecture::X86_64.prices();
//! // 1 million invocations of 100 ms at 1024 MB: 100,000 GB-seconds.
//! let billed = billed_ms(99.2);
//! assert_eq!(billed, 100);
//! let cost = prices.cost_per_million(billed as f64, 1024);
//! assert!((cost - (100_000.0 * 0.0000166667 + 0.20)).abs() < 1e-9);
//! ```

use std::fmt;
use std::str::FromStr;

use lambda_perf_core::InitializationType;
use serde::{Deserialize, Serialize};

/// When the prices below were read from AWS's pricing page.
pub const PRICES_TAKEN_ON: &str = "2026-12-02";
/// The region the prices are for.
pub const PRICES_REGION: &str = "us-east-1";

/// The instruction set a function runs on; it chooses the price table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Architecture {
    /// `x86_64`, the default.
    #[default]
    #[serde(rename = "x86_64")]
    X86_64,
    /// `arm64` (Graviton).
    #[serde(rename = "arm64")]
    Arm64,
}

impl Architecture {
    /// `x86_64` or `arm64`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::X86_64 => "x86_64",
            Self::Arm64 => "arm64",
        }
    }

    /// Its prices.
    pub fn prices(self) -> PriceTable {
        match self {
            Self::X86_64 => PriceTable {
                architecture: self,
                usd_per_gb_second: 0.000_016_666_7,
                usd_per_million_requests: 0.20,
            },
            Self::Arm64 => PriceTable {
                architecture: self,
                usd_per_gb_second: 0.000_013_333_4,
                usd_per_million_requests: 0.20,
            },
        }
    }
}

impl Architecture {
    /// The prices of an invocation that runs on provisioned concurrency: its duration at
    /// the provisioned concurrency duration price, and the request price.
    pub fn provisioned_concurrency_prices(self) -> PriceTable {
        let usd_per_gb_second = match self {
            Self::X86_64 => 0.000_009_722_2,
            Self::Arm64 => 0.000_007_777_8,
        };
        PriceTable {
            architecture: self,
            usd_per_gb_second,
            usd_per_million_requests: 0.20,
        }
    }
}

impl Architecture {
    /// The per-invocation prices of a function on Lambda Managed Instances: the request
    /// price only. Its compute is the EC2 instances it runs on (plus a management fee), billed
    /// by the hour whatever the invocations do, so no GB-second price applies.
    pub fn managed_instances_prices(self) -> PriceTable {
        PriceTable {
            architecture: self,
            usd_per_gb_second: 0.0,
            usd_per_million_requests: 0.20,
        }
    }
}

impl Architecture {
    /// The per-invocation prices of a function whose environments are initialized as
    /// `init_type`, and which prices they are: provisioned concurrency's duration price,
    /// Managed Instances' requests only, otherwise (on demand, SnapStart) the first tier of
    /// the on-demand prices.
    pub fn prices_for(self, init_type: InitializationType) -> (PriceTable, &'static str) {
        match init_type {
            InitializationType::ProvisionedConcurrency => (
                self.provisioned_concurrency_prices(),
                "provisioned concurrency duration",
            ),
            // No duration charge: the instances are billed by the hour, apart.
            InitializationType::ManagedInstances => (
                self.managed_instances_prices(),
                "Managed Instances: requests only, the EC2 instances billed apart",
            ),
            _ => (self.prices(), "first tier"),
        }
    }
}

impl fmt::Display for Architecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An architecture name that is neither `x86_64` nor `arm64`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownArchitecture(pub String);

impl fmt::Display for UnknownArchitecture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} is not an architecture: x86_64 or arm64", self.0)
    }
}

impl std::error::Error for UnknownArchitecture {}

impl FromStr for Architecture {
    type Err = UnknownArchitecture;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "x86_64" | "x86-64" | "amd64" => Ok(Self::X86_64),
            "arm64" | "aarch64" => Ok(Self::Arm64),
            other => Err(UnknownArchitecture(other.to_owned())),
        }
    }
}

/// Lambda's on-demand prices for one architecture (see the [module docs](self)).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PriceTable {
    /// The architecture.
    pub architecture: Architecture,
    /// US dollars per GB-second of billed duration.
    pub usd_per_gb_second: f64,
    /// US dollars per million requests.
    pub usd_per_million_requests: f64,
}

impl PriceTable {
    /// GB-seconds of `billed_ms` at `memory_mb` (a GB is 1024 MB, as Lambda counts).
    pub fn gb_seconds(billed_ms: f64, memory_mb: u32) -> f64 {
        billed_ms / 1000.0 * f64::from(memory_mb) / 1024.0
    }

    /// The price of `gb_seconds` of compute.
    pub fn compute_cost(&self, gb_seconds: f64) -> f64 {
        gb_seconds * self.usd_per_gb_second
    }

    /// The price of `requests` requests.
    pub fn request_cost(&self, requests: f64) -> f64 {
        requests * self.usd_per_million_requests / 1_000_000.0
    }

    /// The price of one million invocations each billed `billed_ms` at `memory_mb`: compute
    /// plus requests.
    pub fn cost_per_million(&self, billed_ms: f64, memory_mb: u32) -> f64 {
        1_000_000.0 * self.compute_cost(Self::gb_seconds(billed_ms, memory_mb))
            + self.usd_per_million_requests
    }
}

/// A duration as Lambda bills it: rounded up to the millisecond, at least 1 ms.
pub fn billed_ms(duration_ms: f64) -> u64 {
    if !duration_ms.is_finite() || duration_ms <= 1.0 {
        return 1;
    }
    // Durations carry float noise (12.000000001 ms from a sum of parts): a nanosecond of
    // slack keeps an exact millisecond from being billed as the next one.
    (duration_ms - 1e-6).ceil() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn billing_rounds_up_to_the_millisecond() {
        assert_eq!(billed_ms(0.0), 1);
        assert_eq!(billed_ms(0.2), 1);
        assert_eq!(billed_ms(1.0), 1);
        assert_eq!(billed_ms(1.0001), 2);
        assert_eq!(billed_ms(15.74), 16);
        assert_eq!(billed_ms(16.0), 16);
        assert_eq!(billed_ms(f64::NAN), 1);
    }

    #[test]
    fn prices_per_architecture() {
        let x86 = Architecture::X86_64.prices();
        let arm = Architecture::Arm64.prices();
        assert_eq!(x86.usd_per_gb_second, 0.0000166667);
        assert_eq!(arm.usd_per_gb_second, 0.0000133334);
        assert_eq!(x86.usd_per_million_requests, 0.20);
        let provisioned = Architecture::X86_64.provisioned_concurrency_prices();
        assert_eq!(provisioned.usd_per_gb_second, 0.0000097222);
        assert_eq!(provisioned.usd_per_million_requests, 0.20);
        let provisioned = Architecture::Arm64.provisioned_concurrency_prices();
        assert_eq!(provisioned.usd_per_gb_second, 0.0000077778);
        // 128 MB for 1 s is 0.125 GB-s.
        assert_eq!(PriceTable::gb_seconds(1000.0, 128), 0.125);
        let per_million = arm.cost_per_million(200.0, 512);
        assert!((per_million - (100_000.0 * 0.0000133334 + 0.2)).abs() < 1e-9);
        assert_eq!("arm64".parse::<Architecture>(), Ok(Architecture::Arm64));
        assert_eq!("x86_64".parse::<Architecture>(), Ok(Architecture::X86_64));
        assert!("sparc".parse::<Architecture>().is_err());
        assert_eq!(
            serde_json::to_string(&Architecture::X86_64).unwrap(),
            "\"x86_64\""
        );
    }
}
