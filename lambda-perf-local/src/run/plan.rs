//! What a run does: a list of steps, built from command-line options or scripted.

use std::time::Duration;

use bytes::Bytes;

/// One step of a run.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Step {
    /// Invoke the function once with this event; `sampled` says whether the trace header
    /// asks for X-Ray recording.
    Invoke {
        /// The event body.
        event: Bytes,
        /// `Sampled=1` or `Sampled=0`.
        sampled: bool,
    },
    /// Invoke with these events at once (the function needs `AWS_LAMBDA_MAX_CONCURRENCY`).
    Concurrent {
        /// The events, one invocation each.
        events: Vec<Bytes>,
        /// `Sampled=1` or `Sampled=0`, for all of them.
        sampled: bool,
    },
    /// Let the environment sit idle.
    Idle(Duration),
    /// Kill the function process and start it again in the same environment (its temp dir
    /// kept): the next invocation is a partial cold start.
    Restart,
    /// Kill the function process and start it in a new environment: a full cold start.
    FreshEnvironment,
}

/// The steps of a run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    /// In order.
    pub steps: Vec<Step>,
}

/// How `lambda-perf run` invokes: the options of the command line.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOptions {
    /// How many invocations in all.
    pub invocations: usize,
    /// How many at once (1: one after the other).
    pub concurrency: usize,
    /// The event sent each time.
    pub event: Bytes,
    /// Idle time between invocations (or batches).
    pub idle: Duration,
    /// Restart the process (same environment) after this many invocations.
    pub restart_after: Option<usize>,
    /// Start a fresh environment after this many invocations.
    pub fresh_environment_after: Option<usize>,
    /// The fraction of invocations sampled for X-Ray, 0 to 1.
    pub sampling: f64,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            invocations: 5,
            concurrency: 1,
            event: Bytes::from_static(b"{}"),
            idle: Duration::ZERO,
            restart_after: None,
            fresh_environment_after: None,
            sampling: 1.0,
        }
    }
}

impl Plan {
    /// The plan for `lambda-perf run`.
    pub fn from_options(options: &RunOptions) -> Self {
        let mut steps = Vec::new();
        let batch = options.concurrency.max(1);
        let (mut done, mut before) = (0, 0);
        while done < options.invocations {
            let size = batch.min(options.invocations - done);
            if done > 0 {
                // Whether the last batch reached a multiple of `every` invocations.
                let crosses =
                    |every: Option<usize>| every.is_some_and(|n| n > 0 && before / n < done / n);
                if crosses(options.fresh_environment_after) {
                    steps.push(Step::FreshEnvironment);
                } else if crosses(options.restart_after) {
                    steps.push(Step::Restart);
                } else if !options.idle.is_zero() {
                    steps.push(Step::Idle(options.idle));
                }
            }
            let sampled = is_sampled(done, options.sampling);
            if size == 1 {
                steps.push(Step::Invoke {
                    event: options.event.clone(),
                    sampled,
                });
            } else {
                steps.push(Step::Concurrent {
                    events: vec![options.event.clone(); size],
                    sampled,
                });
            }
            before = done;
            done += size;
        }
        Self { steps }
    }

    /// How many invocations the plan makes.
    pub fn invocations(&self) -> usize {
        self.steps
            .iter()
            .map(|step| match step {
                Step::Invoke { .. } => 1,
                Step::Concurrent { events, .. } => events.len(),
                _ => 0,
            })
            .sum()
    }
}

/// Spreads `rate` of the invocations evenly: invocation `n` is sampled when the running
/// count of sampled ones falls behind `rate * (n + 1)`.
fn is_sampled(n: usize, rate: f64) -> bool {
    let rate = rate.clamp(0.0, 1.0);
    let before = (rate * n as f64).floor();
    let after = (rate * (n + 1) as f64).floor();
    after > before
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(plan: &Plan) -> Vec<String> {
        plan.steps
            .iter()
            .map(|step| match step {
                Step::Invoke { sampled, .. } => {
                    format!("invoke{}", if *sampled { "" } else { "-" })
                }
                Step::Concurrent { events, .. } => format!("x{}", events.len()),
                Step::Idle(duration) => format!("idle{}", duration.as_millis()),
                Step::Restart => "restart".into(),
                Step::FreshEnvironment => "fresh".into(),
            })
            .collect()
    }

    #[test]
    fn invocations_restarts_and_fresh_environments() {
        let options = RunOptions {
            invocations: 7,
            restart_after: Some(3),
            fresh_environment_after: Some(6),
            idle: Duration::from_millis(10),
            ..RunOptions::default()
        };
        let plan = Plan::from_options(&options);
        assert_eq!(
            shape(&plan),
            [
                "invoke", "idle10", "invoke", "idle10", "invoke", "restart", "invoke", "idle10",
                "invoke", "idle10", "invoke", "fresh", "invoke"
            ]
        );
        assert_eq!(plan.invocations(), 7);
    }

    #[test]
    fn concurrency_batches_and_sampling() {
        let options = RunOptions {
            invocations: 5,
            concurrency: 2,
            sampling: 0.5,
            ..RunOptions::default()
        };
        let plan = Plan::from_options(&options);
        assert_eq!(shape(&plan), ["x2", "x2", "invoke-"]);
        assert_eq!(plan.invocations(), 5);
        let sampled: Vec<bool> = (0..4).map(|n| is_sampled(n, 0.5)).collect();
        assert_eq!(sampled, [false, true, false, true]);
        assert!((0..10).all(|n| is_sampled(n, 1.0)));
        assert!((0..10).all(|n| !is_sampled(n, 0.0)));
    }
}
