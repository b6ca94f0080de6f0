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
                "name" => set(&mut args.name, &key, text(input, &key)?)?,
                "service" => set(&mut args.service, &key, text(input, &key)?)?,
                "namespace" => set(&mut args.namespace, &key, text(input, &key)?)?,
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
