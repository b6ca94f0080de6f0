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
    /// Invoke with these events at once, in one process, as only Lambda Managed Instances do.
    /// The function is told `AWS_LAMBDA_MAX_CONCURRENCY`, at least their number; the run's
    /// initialization type stays the configured one, so that a scripted run (`lambda-perf
    /// demo`) can show such a step beside cold starts. A configuration whose
    /// `AWS_LAMBDA_MAX_CONCURRENCY` is above 1 (`lambda-perf run -c`) is a Managed Instances
    /// run ([`several_at_once`](crate::run::several_at_once())).
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
    /// Stop at the function's first failure (a timeout, a runtime that exits, an init
    /// error) instead of starting its runtime again and going on, as Lambda does: for a
    /// measure the failure settles (`tune`'s of a size), whatever would follow.
    pub stop_at_failure: bool,
}

/// How `lambda-perf run` invokes: the options of the command line.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOptions {
    /// How many invocations in all.
    pub invocations: usize,
    /// How many at once (1: one after the other), in [`Step::Concurrent`] steps. As `-c` does,
    /// give the runner's configuration the same `with_max_concurrency` to make the run a
    /// Managed Instances one ([`several_at_once`](crate::run::several_at_once())); the steps
    /// alone keep its initialization type.
    pub concurrency: usize,
    /// The event sent each time.
    pub event: Bytes,
    /// Idle time between invocations (or batches).
    pub idle: Duration,
    /// Restart the process (same environment) after this many invocations.
    pub restart_after: Option<usize>,
    /// Start a fresh environment after this many invocations.
    pub fresh_environment_after: Option<usize>,
    /// The fraction of invocations sampled for X-Ray, 0 to 1 (a batch sent at once is
    /// sampled whole).
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
        let (mut done, mut before, mut sampled_so_far) = (0, 0, 0);
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
            let sampled = is_sampled(done, size, sampled_so_far, options.sampling);
            if sampled {
                sampled_so_far += size;
            }
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
        Self {
            steps,
            stop_at_failure: false,
        }
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

/// Spreads `rate` of the invocations evenly over batches of `size` invocations sent at once
/// (all sampled or none): the batch after the first `done` invocations, of which
/// `sampled_so_far` were sampled, is sampled when the sampled ones have fallen behind
/// `rate * (done + size)` by at least half the batch. One at a time, invocation `n` is
/// sampled when they have fallen behind `rate * (n + 1)`.
fn is_sampled(done: usize, size: usize, sampled_so_far: usize, rate: f64) -> bool {
    let rate = rate.clamp(0.0, 1.0);
    let due = (rate * (done + size) as f64).floor() - sampled_so_far as f64;
    size > 0 && due >= size as f64 / 2.0
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

    /// How many invocations of `plan` ask for X-Ray sampling.
    fn sampled_invocations(plan: &Plan) -> usize {
        plan.steps
            .iter()
            .map(|step| match step {
                Step::Invoke { sampled: true, .. } => 1,
                Step::Concurrent {
                    events,
                    sampled: true,
                } => events.len(),
                _ => 0,
            })
            .sum()
    }

    #[test]
    fn sampling_takes_its_share_of_concurrent_invocations_too() {
        // A batch is sampled whole: 20 invocations in batches of 4 at 0.25 are 4 or 8.
        for (concurrency, rate, expected) in
            [(2, 0.5, 10), (10, 0.5, 10), (4, 0.25, 4), (5, 1.0, 20)]
        {
            let plan = Plan::from_options(&RunOptions {
                invocations: 20,
                concurrency,
                sampling: rate,
                ..RunOptions::default()
            });
            assert_eq!(
                sampled_invocations(&plan),
                expected,
                "-c {concurrency} --sampling {rate}: {plan:?}"
            );
        }
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
        let one_at_a_time = |rate| {
            let plan = Plan::from_options(&RunOptions {
                invocations: 4,
                sampling: rate,
                ..RunOptions::default()
            });
            shape(&plan)
        };
        assert_eq!(
            one_at_a_time(0.5),
            ["invoke-", "invoke", "invoke-", "invoke"]
        );
        assert_eq!(one_at_a_time(1.0), ["invoke"; 4]);
        assert_eq!(one_at_a_time(0.0), ["invoke-"; 4]);
    }
}
