//! The function's facts under the OpenTelemetry FaaS and cloud semantic conventions: on the
//! handler span (`faas.coldstart` always, the others where known) and on the resource.

use opentelemetry::KeyValue;
use opentelemetry_sdk::Resource;

use crate::formats::faas_trigger::FaasTrigger;
use crate::invocation::output::Began;

/// What is known of the function, from the invocation's context and the settings.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct FunctionFacts {
    name: Option<String>,
    version: Option<String>,
    /// The log stream: one per execution environment.
    instance: Option<String>,
    max_memory_bytes: Option<i64>,
    region: Option<String>,
    account_id: Option<String>,
}

impl FunctionFacts {
    /// From the context of an invocation; `region` is `AWS_REGION`, else the ARN's.
    pub(crate) fn of(began: &Began<'_>, region: Option<&str>) -> Self {
        let config = &began.context.env_config;
        let known = |text: &str| Some(text.to_owned()).filter(|text| !text.is_empty());
        // arn:aws:lambda:<region>:<account>:function:<name>[:<alias>]
        let arn: Vec<&str> = began.context.invoked_function_arn.split(':').collect();
        let arn_part = |index: usize| {
            (arn.len() >= 7 && arn[0] == "arn")
                .then(|| known(arn[index]))
                .flatten()
        };
        Self {
            name: known(&config.function_name).or_else(|| known(began.context_function_name)),
            version: known(&config.version),
            instance: known(&config.log_stream),
            max_memory_bytes: (config.memory > 0).then(|| i64::from(config.memory) << 20),
            region: region.map(str::to_owned).or_else(|| arn_part(3)),
            account_id: arn_part(4),
        }
    }

    /// `cloud.*` and the function's `faas.*` attributes.
    fn attributes(&self) -> Vec<KeyValue> {
        let mut attributes = vec![
            KeyValue::new("cloud.provider", "aws"),
            KeyValue::new("cloud.platform", "aws_lambda"),
        ];
        let texts = [
            ("cloud.region", &self.region),
            ("cloud.account.id", &self.account_id),
            ("faas.name", &self.name),
            ("faas.version", &self.version),
            ("faas.instance", &self.instance),
        ];
        for (key, value) in texts {
            if let Some(value) = value {
                attributes.push(KeyValue::new(key, value.clone()));
            }
        }
        if let Some(bytes) = self.max_memory_bytes {
            attributes.push(KeyValue::new("faas.max_memory", bytes));
        }
        attributes
    }

    /// The handler span's facts: `faas.coldstart`, `faas.trigger`, `faas.invocation_id`, then
    /// the function's.
    pub(crate) fn handler_attributes(
        &self,
        began: &Began<'_>,
        trigger: FaasTrigger,
    ) -> Vec<KeyValue> {
        let mut attributes = vec![
            KeyValue::new("faas.coldstart", began.facts.is_cold_start()),
            KeyValue::new("faas.trigger", trigger.as_str()),
        ];
        let request_id = began.facts.request_id();
        if !request_id.is_empty() {
            attributes.push(KeyValue::new("faas.invocation_id", request_id.to_owned()));
        }
        attributes.extend(self.attributes());
        attributes
    }

    /// The resource of every span: `service.name`, the SDK, the function's facts, then
    /// `environment`'s attributes (`OTEL_RESOURCE_ATTRIBUTES`), which win over the facts of
    /// the same key, as the user's own configuration.
    pub(crate) fn resource(&self, service: &str, environment: &[(String, String)]) -> Resource {
        let mut attributes = vec![
            KeyValue::new("service.name", service.to_owned()),
            KeyValue::new("telemetry.sdk.name", "lambda-perf"),
            KeyValue::new("telemetry.sdk.language", "rust"),
            KeyValue::new("telemetry.sdk.version", env!("CARGO_PKG_VERSION")),
        ];
        attributes.extend(self.attributes());
        attributes.retain(|attribute| {
            !environment
                .iter()
                .any(|(key, _)| attribute.key.as_str() == key)
        });
        attributes.extend(
            environment
                .iter()
                .map(|(key, value)| KeyValue::new(key.clone(), value.clone())),
        );
        Resource::builder_empty()
            .with_attributes(attributes)
            .build()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::time::MonotonicNanos;
    use crate::invocation::StartKind;
    use crate::invocation::facts::InvocationFacts;
    use crate::invocation::settings::InvocationSettings;
    use crate::invocation::start_tracker::Start;

    #[test]
    fn the_context_gives_the_function_facts() {
        let mut context = lambda_runtime::Context::default();
        context.invoked_function_arn =
            "arn:aws:lambda:eu-west-1:123456789012:function:orders-fn:live".to_owned();
        context.env_config = std::sync::Arc::new(lambda_runtime::Config {
            function_name: "orders-fn".to_owned(),
            memory: 512,
            version: "$LATEST".to_owned(),
            log_stream: "2026/01/01/[$LATEST]abc".to_owned(),
            log_group: "/aws/lambda/orders-fn".to_owned(),
        });
        let facts = InvocationFacts::new(
            Start {
                kind: StartKind::Cold,
                index: 1,
                idle_gap_nanos: None,
                environment_age_nanos: 0,
                init_duration_nanos: 0,
                first_request_wait_nanos: None,
                began: MonotonicNanos::now(),
                began_since_origin_nanos: 0,
                began_epoch_nanos: crate::formats::time::epoch_nanos(std::time::SystemTime::now()),
            },
            "req-1".to_owned(),
            0,
        );
        let settings = InvocationSettings {
            service: "orders".into(),
            service_annotation: crate::invocation::settings::ServiceAnnotation::Valid(
                "orders".into(),
            ),
            fixed_dimensions: Vec::new(),
            initialization_type: crate::invocation::InitializationType::OnDemand,
            tracing: true,
            capture_response: true,
            capture_error: true,
            capture_limit: 100,
            redact: None,
            handler_subsegment_name: "## orders-fn".into(),
            capture_namespace: Some("orders".into()),
            response_key: "".into(),
            error_key: "".into(),
            timeout_margin: None,
            resource_usage: false,
        };
        let began = Began {
            facts: &facts,
            settings: &settings,
            context_function_name: "orders-fn",
            init_clients: &[],
            context: &context,
            trigger: FaasTrigger::Other,
        };
        let function = FunctionFacts::of(&began, None);
        let attributes = function.handler_attributes(&began, FaasTrigger::PubSub);
        let get = |key: &str| {
            attributes
                .iter()
                .find(|kv| kv.key.as_str() == key)
                .map(|kv| kv.value.clone())
        };
        assert_eq!(get("faas.coldstart"), Some(true.into()));
        // The trigger given, not the one the invocation began with: the output decides.
        assert_eq!(get("faas.trigger"), Some("pubsub".into()));
        assert_eq!(get("faas.invocation_id"), Some("req-1".into()));
        assert_eq!(get("faas.name"), Some("orders-fn".into()));
        assert_eq!(get("faas.version"), Some("$LATEST".into()));
        assert_eq!(get("faas.instance"), Some("2026/01/01/[$LATEST]abc".into()));
        assert_eq!(get("faas.max_memory"), Some((512_i64 << 20).into()));
        assert_eq!(get("cloud.provider"), Some("aws".into()));
        assert_eq!(get("cloud.region"), Some("eu-west-1".into()));
        assert_eq!(get("cloud.account.id"), Some("123456789012".into()));
        let resource = function.resource("orders", &[]);
        assert_eq!(
            resource.get(&opentelemetry::Key::from_static_str("service.name")),
            Some("orders".into())
        );
        assert_eq!(
            FunctionFacts::of(&began, Some("us-east-2"))
                .region
                .as_deref(),
            Some("us-east-2")
        );
    }
}
