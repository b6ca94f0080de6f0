//! Checking the handler's signature and finding its Lambda event argument.

use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, PatType, Type};

/// Fails unless the function is a non-const `async fn`; returns the index of the event
/// argument among its inputs.
pub(crate) fn check(function: &ItemFn) -> syn::Result<usize> {
    let signature = &function.sig;
    if let Some(constness) = &signature.constness {
        return Err(syn::Error::new(
            constness.span(),
            "#[instrument_lambda] cannot instrument a `const fn`; remove `const` and write `async fn`",
        ));
    }
    if signature.asyncness.is_none() {
        return Err(syn::Error::new(
            signature.fn_token.span(),
            "#[instrument_lambda] needs an `async fn`: write `async fn` here",
        ));
    }
    signature
        .inputs
        .iter()
        .position(|input| match input {
            FnArg::Typed(PatType { ty, .. }) => is_lambda_event(ty),
            FnArg::Receiver(_) => false,
        })
        .ok_or_else(|| {
            syn::Error::new(
                signature.paren_token.span.join(),
                "#[instrument_lambda] needs an argument of type `LambdaEvent<T>` \
                 (or `lambda_http::Request`), e.g. `event: LambdaEvent<serde_json::Value>`",
            )
        })
}

/// `LambdaEvent<..>` or `Request` (`lambda_http::Request`), by the last path segment.
fn is_lambda_event(ty: &Type) -> bool {
    match ty {
        Type::Path(path) if path.qself.is_none() => path
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "LambdaEvent" || segment.ident == "Request"),
        Type::Paren(inner) => is_lambda_event(&inner.elem),
        Type::Group(inner) => is_lambda_event(&inner.elem),
        _ => false,
    }
}
