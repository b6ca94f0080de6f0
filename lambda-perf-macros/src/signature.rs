//! Checking the handler's signature and finding its Lambda event argument: the one marked
//! `#[event]`, else the one whose type is spelled `LambdaEvent<..>`, else the one spelled `Request`.

use syn::spanned::Spanned;
use syn::{Attribute, Expr, FnArg, ItemFn, Meta, PatType, ReturnType, Stmt, Type};

/// The name of the attribute that marks the event argument: `#[event] request: MyEvent`.
const MARKER: &str = "event";

/// Fails unless the function is a non-const `async fn` with a return type; returns the index of the event
/// argument among its inputs.
pub(crate) fn check(function: &ItemFn) -> syn::Result<usize> {
    let signature = &function.sig;
    if let Some(constness) = &signature.constness {
        return Err(syn::Error::new(
            constness.span(),
            "#[instrument_lambda] cannot instrument a `const fn`; remove `const` and write `async fn`",
        ));
    }
    if signature.asyncness.is_none() && made_by_async_trait(function) {
        // `#[async_trait]` on the impl expands first, and leaves the method's attributes on
        // the plain `fn` it makes of it: "write `async fn`" would say what the user did write.
        return Err(syn::Error::new(
            signature.fn_token.span(),
            "#[instrument_lambda] sees this method after `#[async_trait]` made it a plain `fn` \
             returning a boxed future, which it cannot instrument: write the trait's method as \
             a native `async fn` (without `#[async_trait]`), or put `#[instrument_lambda]` on an \
             inherent `async fn` that the method calls",
        ));
    }
    if signature.asyncness.is_none() {
        return Err(syn::Error::new(
            signature.fn_token.span(),
            "#[instrument_lambda] needs an `async fn`: write `async fn` here",
        ));
    }
    if let ReturnType::Default = signature.output {
        // Without this, the error would be about what the expansion calls.
        return Err(syn::Error::new(
            signature.paren_token.span.close(),
            "#[instrument_lambda] needs a handler that returns `Result<T, E>`, as a Lambda \
             handler does: write `-> Result<T, E>` here",
        ));
    }
    if let Some(index) = marked(function)? {
        return Ok(index);
    }
    // A `LambdaEvent<..>` first: an argument of some other type called `Request` (a user's
    // own, a client's) before it is not the event.
    let spelled = |name: &str| {
        signature.inputs.iter().position(|input| match input {
            FnArg::Typed(PatType { ty, .. }) => is_spelled(ty, name),
            FnArg::Receiver(_) => false,
        })
    };
    spelled("LambdaEvent")
        .or_else(|| spelled("Request"))
        .ok_or_else(|| {
            syn::Error::new(
                signature.paren_token.span.join(),
                "#[instrument_lambda] needs an argument of type `LambdaEvent<T>` \
                 (or `lambda_http::Request`), e.g. `event: LambdaEvent<serde_json::Value>`; \
                 when its type is spelled otherwise (an alias), mark it: `#[event] event: MyEvent`",
            )
        })
}

/// Whether the function is an `async fn` as `#[async_trait]` rewrites it: a plain `fn` with
/// the lifetime `'async_trait` that it adds, whose body is the one call
/// `Box::pin(async move { .. })` (a boxed future written by hand has no such lifetime).
fn made_by_async_trait(function: &ItemFn) -> bool {
    let lifetime = function
        .sig
        .generics
        .lifetimes()
        .any(|param| param.lifetime.ident == "async_trait");
    if !lifetime {
        return false;
    }
    let [Stmt::Expr(Expr::Call(call), None)] = function.block.stmts.as_slice() else {
        return false;
    };
    let pins = matches!(&*call.func, Expr::Path(path)
        if path.path.segments.last().is_some_and(|segment| segment.ident == "pin"));
    pins && matches!(call.args.first(), Some(Expr::Async(_))) && call.args.len() == 1
}

/// The index of the argument marked `#[event]`, if one is; an error if several are, or if
/// the marker is misused.
fn marked(function: &ItemFn) -> syn::Result<Option<usize>> {
    let mut found = None;
    for (index, input) in function.sig.inputs.iter().enumerate() {
        let attrs = match input {
            FnArg::Typed(typed) => &typed.attrs,
            FnArg::Receiver(receiver) => &receiver.attrs,
        };
        for attr in attrs.iter().filter(|attr| is_marker(attr)) {
            if !matches!(attr.meta, Meta::Path(_)) {
                return Err(syn::Error::new(
                    attr.meta.span(),
                    "`#[event]` takes no arguments: write `#[event]` before the event argument",
                ));
            }
            if matches!(input, FnArg::Receiver(_)) {
                return Err(syn::Error::new(
                    attr.meta.span(),
                    "`#[event]` marks the Lambda event argument; `self` cannot be it",
                ));
            }
            if found.is_some() {
                return Err(syn::Error::new(
                    attr.meta.span(),
                    "only one argument can be marked `#[event]`",
                ));
            }
            found = Some(index);
        }
    }
    Ok(found)
}

/// Whether `attr` is the `#[event]` marker.
fn is_marker(attr: &Attribute) -> bool {
    attr.path().is_ident(MARKER)
}

/// Removes every `#[event]` marker from the arguments: it is this macro's, not an attribute
/// the compiler knows.
pub(crate) fn strip_markers(function: &mut ItemFn) {
    for input in &mut function.sig.inputs {
        match input {
            FnArg::Typed(typed) => typed.attrs.retain(|attr| !is_marker(attr)),
            FnArg::Receiver(receiver) => receiver.attrs.retain(|attr| !is_marker(attr)),
        }
    }
}

/// Whether `ty` is spelled `name` (`LambdaEvent<..>`, or `Request` for `lambda_http::Request`),
/// by its last path segment.
fn is_spelled(ty: &Type, name: &str) -> bool {
    match ty {
        Type::Path(path) if path.qself.is_none() => path
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident == name),
        Type::Paren(inner) => is_spelled(&inner.elem, name),
        Type::Group(inner) => is_spelled(&inner.elem, name),
        _ => false,
    }
}
