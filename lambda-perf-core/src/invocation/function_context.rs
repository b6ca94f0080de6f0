//! What the Lambda context says about the function and the invocation besides the facts:
//! the function's name, memory size and ARN, and the trace header. Kept as the context gives
//! them (the configuration is shared by every invocation, not copied); empty values read as
//! unknown.

use std::sync::Arc;

use crate::formats::xray::header::root_id;

/// The context's function and trace details of one invocation.
#[derive(Clone, Debug)]
pub(crate) struct FunctionContext {
    config: Arc<lambda_runtime::Config>,
    function_arn: String,
    trace_header: Option<String>,
}

impl FunctionContext {
    pub(crate) fn new(context: &lambda_runtime::Context) -> Self {
        Self {
            config: Arc::clone(&context.env_config),
            function_arn: context.invoked_function_arn.clone(),
            trace_header: context.xray_trace_id.clone(),
        }
    }

    /// The details of `context` in place of these, reusing their strings' memory.
    pub(crate) fn renew(&mut self, context: &lambda_runtime::Context) {
        if !Arc::ptr_eq(&self.config, &context.env_config) {
            self.config = Arc::clone(&context.env_config);
        }
        replace_text(&mut self.function_arn, &context.invoked_function_arn);
        match (&mut self.trace_header, &context.xray_trace_id) {
            (Some(kept), Some(header)) => replace_text(kept, header),
            (kept, header) => kept.clone_from(header),
        }
    }

    /// `AWS_LAMBDA_FUNCTION_NAME`, as the runtime read it.
    pub(crate) fn function_name(&self) -> Option<&str> {
        Some(self.config.function_name.as_str()).filter(|name| !name.is_empty())
    }

    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE`, in MB, as the runtime read it.
    pub(crate) fn memory_size_mb(&self) -> Option<u32> {
        u32::try_from(self.config.memory).ok().filter(|&mb| mb > 0)
    }

    /// The ARN the function was invoked by (with its alias or version, if any).
    pub(crate) fn function_arn(&self) -> Option<&str> {
        Some(self.function_arn.as_str()).filter(|arn| !arn.is_empty())
    }

    /// The `Root` id of the invocation's trace header, sampled or not.
    pub(crate) fn trace_root(&self) -> Option<&str> {
        self.trace_header.as_deref().and_then(root_id)
    }
}

/// `text` in place of `kept`'s, in its memory when it fits: inlined, cheaper per invocation
/// than `String::clone_from`.
fn replace_text(kept: &mut String, text: &str) {
    kept.clear();
    kept.push_str(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_context_gives_and_nothing_from_an_empty_one() {
        let empty = FunctionContext::new(&lambda_runtime::Context::default());
        assert_eq!(empty.function_name(), None);
        assert_eq!(empty.memory_size_mb(), None);
        assert_eq!(empty.function_arn(), None);
        assert_eq!(empty.trace_root(), None);

        let mut context = lambda_runtime::Context::default();
        context.env_config = Arc::new(lambda_runtime::Config {
            function_name: "orders-fn".into(),
            memory: 512,
            ..lambda_runtime::Config::default()
        });
        context.invoked_function_arn =
            "arn:aws:lambda:us-east-1:123456789012:function:orders-fn".into();
        context.xray_trace_id = Some(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0".into(),
        );
        let known = FunctionContext::new(&context);
        assert_eq!(known.function_name(), Some("orders-fn"));
        assert_eq!(known.memory_size_mb(), Some(512));
        assert_eq!(
            known.function_arn(),
            Some("arn:aws:lambda:us-east-1:123456789012:function:orders-fn")
        );
        assert_eq!(
            known.trace_root(),
            Some("1-5759e988-bd862e3fe1be46a994272793")
        );
    }
}
