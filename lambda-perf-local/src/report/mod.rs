//! The report of a run: per-invocation table, subsegment waterfalls, metrics, summary and the
//! problems found in the function's output; rendered for the terminal, as JSON and as HTML.
