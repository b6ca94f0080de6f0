//! Parsing `#[instrument_lambda(name = "...", capture_response = false, ...)]`.

use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, LitBool, LitStr, Path, Token};

/// The options, each given at most once.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) name: Option<LitStr>,
    pub(crate) service: Option<LitStr>,
    pub(crate) namespace: Option<LitStr>,
    pub(crate) capture_response: Option<LitBool>,
    pub(crate) capture_error: Option<LitBool>,
    pub(crate) cold_start_metric: Option<LitBool>,
    /// `faas_trigger = "pubsub"`: the handler spans' `faas.trigger`, as the variant of
    /// `FaasTrigger` it names.
    pub(crate) faas_trigger: Option<Ident>,
    /// `redact = path::to::function`: sees the response or error before it is captured.
    pub(crate) redact: Option<Path>,
    /// `crate = "path"`: where lambda-perf-core is, for a renamed or re-exported dependency.
    pub(crate) krate: Option<Path>,
}

const OPTIONS: &str = "name, service, namespace, capture_response, capture_error, \
                       cold_start_metric, faas_trigger, redact, crate";

/// The values of `faas_trigger`, and the `FaasTrigger` variant each names.
const FAAS_TRIGGERS: [(&str, &str); 5] = [
    ("datasource", "Datasource"),
    ("http", "Http"),
    ("pubsub", "PubSub"),
    ("timer", "Timer"),
    ("other", "Other"),
];

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Self::default();
        while !input.is_empty() {
            // `Ident::parse_any` also takes the keyword `crate`.
            let key = Ident::parse_any(input).map_err(|error| {
                syn::Error::new(
                    error.span(),
                    format!("expected an option: one of {OPTIONS}"),
                )
            })?;
            let _: Token![=] = input.parse().map_err(|error| {
                syn::Error::new(error.span(), format!("expected `=` after `{key}`"))
            })?;
            match key.to_string().as_str() {
                "name" => set(
                    &mut args.name,
                    &key,
                    valid(text(input, &key)?, name_refused)?,
                )?,
                "service" => set(
                    &mut args.service,
                    &key,
                    valid(text(input, &key)?, service_refused)?,
                )?,
                "namespace" => set(
                    &mut args.namespace,
                    &key,
                    valid(text(input, &key)?, namespace_refused)?,
                )?,
                "capture_response" => set(&mut args.capture_response, &key, flag(input, &key)?)?,
                "capture_error" => set(&mut args.capture_error, &key, flag(input, &key)?)?,
                "cold_start_metric" => {
                    set(&mut args.cold_start_metric, &key, flag(input, &key)?)?;
                }
                "faas_trigger" => set(&mut args.faas_trigger, &key, trigger(input, &key)?)?,
                "redact" => set(&mut args.redact, &key, function(input, &key)?)?,
                "crate" => set(&mut args.krate, &key, path(input, &key)?)?,
                _ => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!("unknown option `{key}`; the options are {OPTIONS}"),
                    ));
                }
            }
            if !input.is_empty() {
                let _: Token![,] = input.parse()?;
            }
        }
        Ok(args)
    }
}

fn set<T>(slot: &mut Option<T>, key: &Ident, value: T) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new(
            key.span(),
            format!("`{key}` is given more than once; keep one"),
        ));
    }
    *slot = Some(value);
    Ok(())
}

fn text(input: ParseStream<'_>, key: &Ident) -> syn::Result<LitStr> {
    input.parse().map_err(|error| {
        syn::Error::new(
            error.span(),
            format!("`{key}` takes a string literal: `{key} = \"...\"`"),
        )
    })
}

/// `text` if `refused` finds nothing wrong with its value; else the reason, at the literal.
///
/// A literal option that lambda-perf-core would refuse at the first invocation (one warning,
/// and its default used: metrics in another namespace, the subsegment under another name) is
/// refused here instead, where it is written. The rules are lambda-perf-core's; for a handler
/// name, whose letters are Unicode's, only what is surely refused is (blank, too long, an ASCII
/// character X-Ray refuses, a control character): the rest is left to the first invocation.
fn valid(text: LitStr, refused: fn(&str) -> Option<String>) -> syn::Result<LitStr> {
    match refused(&text.value()) {
        None => Ok(text),
        Some(reason) => Err(syn::Error::new(text.span(), reason)),
    }
}

/// Why X-Ray would refuse `## <name>` as the handler subsegment's name.
fn name_refused(name: &str) -> Option<String> {
    let allowed_ascii =
        |c: char| c.is_ascii_alphanumeric() || c == ' ' || "_.:/%&#=+-@".contains(c);
    let reason = if name.trim().is_empty() {
        "a subsegment name needs at least one non-blank character"
    } else if name.chars().count() > 197 {
        "a subsegment name has at most 200 characters, \"## \" included"
    } else if name
        .chars()
        .any(|c| c.is_control() || (c.is_ascii() && !allowed_ascii(c)))
    {
        "a subsegment name may only contain letters, numbers, spaces and _ . : / % & # = + - @"
    } else {
        return None;
    };
    Some(format!(
        "`name` cannot name the handler subsegment: {reason}"
    ))
}

/// Why CloudWatch would refuse `service` as the value of the `service` dimension.
fn service_refused(service: &str) -> Option<String> {
    let reason = if service.trim().is_empty() {
        "a dimension value needs at least one non-blank character"
    } else if !service.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        "a dimension value must be printable ASCII"
    } else if service.len() > 1024 {
        "a dimension value has at most 1024 characters"
    } else {
        return None;
    };
    Some(format!(
        "`service` cannot be the `service` dimension: {reason}"
    ))
}

/// Why CloudWatch would refuse `namespace`.
fn namespace_refused(namespace: &str) -> Option<String> {
    let allowed =
        |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#' | ':' | ' ');
    let reason = if namespace.trim().is_empty() {
        "a namespace needs at least one non-blank character"
    } else if namespace.len() > 255 {
        "a namespace has at most 255 characters"
    } else if !namespace.chars().all(allowed) {
        "a namespace may only contain 0-9 A-Z a-z . - _ / # : and space"
    } else if namespace.starts_with(':') {
        "a namespace must not start with ':'"
    } else if namespace.starts_with("AWS/") {
        "namespaces starting with AWS/ are reserved for AWS services"
    } else {
        return None;
    };
    Some(format!(
        "`namespace` is not a CloudWatch namespace: {reason}"
    ))
}

fn flag(input: ParseStream<'_>, key: &Ident) -> syn::Result<LitBool> {
    input
        .parse()
        .map_err(|error| syn::Error::new(error.span(), format!("`{key}` takes `true` or `false`")))
}

/// A `faas.trigger` value, as the `FaasTrigger` variant it names.
fn trigger(input: ParseStream<'_>, key: &Ident) -> syn::Result<Ident> {
    let values = || {
        FAAS_TRIGGERS
            .map(|(value, _)| format!("\"{value}\""))
            .join(", ")
    };
    let text = input.parse::<LitStr>().map_err(|error| {
        syn::Error::new(error.span(), format!("`{key}` takes one of {}", values()))
    })?;
    let value = text.value();
    match FAAS_TRIGGERS.iter().find(|(name, _)| *name == value) {
        Some((_, variant)) => Ok(Ident::new(variant, text.span())),
        None => Err(syn::Error::new(
            text.span(),
            format!("`{key}` takes one of {}, not {value:?}", values()),
        )),
    }
}

fn path(input: ParseStream<'_>, key: &Ident) -> syn::Result<Path> {
    let text = text(input, key)?;
    text.parse_with(Path::parse_mod_style).map_err(|_| {
        syn::Error::new(
            text.span(),
            format!(
                "`{key}` takes the path of lambda-perf-core as a string, e.g. \
                 `{key} = \"perf\"` or `{key} = \"my_crate::perf\"`"
            ),
        )
    })
}

fn function(input: ParseStream<'_>, key: &Ident) -> syn::Result<Path> {
    input.parse().map_err(|error| {
        syn::Error::new(
            error.span(),
            format!(
                "`{key}` takes the path of a function \
                 `fn(lambda_perf_core::Captured, serde_json::Value) -> Option<serde_json::Value>`, \
                 e.g. `{key} = mask_card_numbers`"
            ),
        )
    })
}
