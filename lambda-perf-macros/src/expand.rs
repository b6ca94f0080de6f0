//! Code generation: the handler's body runs inside lambda-perf's invocation future.
//!
//! ```text
//! #[attrs] vis async fn name<G>(args, event: Event) -> Ret {
//!     static __LAMBDA_PERF_HANDLER: Handler = Handler::new(Options { .. });
//!     let __lambda_perf_begun = begin(&__LAMBDA_PERF_HANDLER, redact hook, &event);
//!     let __lambda_perf_kind = an HttpEvent for a lambda_http::Request, else an OtherEvent;
//!     let __lambda_perf_body = async move {
//!         if false { return <a value of Ret with impl Trait as _>; } // fixes the return type,
//!                                                                   // checked to be a Result
//!         log_event(&event) if asked and the payload is Serialize;
//!         let mut event = event; // only for a `mut` binding
//!         let __lambda_perf_output: Ret with impl Trait as _ = body;
//!         __lambda_perf_output
//!     };
//!     instrument(__lambda_perf_begun, __lambda_perf_kind, __lambda_perf_body,
//!         |response| capture (the status for HttpEvent, else if Serialize), |error| describe)
//!         .await
//! }
//! ```
//!
//! The event argument keeps its name, so attributes that name it (`#[tracing::instrument(
//! skip(event))]`, above or below this one) still find it. An argument bound by a pattern
//! (`LambdaEvent { payload, context }: ...`) is renamed `__lambda_perf_event` and the pattern
//! is bound inside the body.
//!
//! Everything the expansion calls is under `<crate>::__private`, where `<crate>` is
//! `::lambda_perf_core` or the `crate = "..."` option.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{FnArg, Ident, ItemFn, LitBool, LitStr, Pat, PatIdent, PatType, ReturnType, Type};

use crate::attr::Args;
use crate::signature;

/// Expands the attribute; on error, the error and the function left as it was, so that one
/// mistake does not cascade into errors at every call site.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let function: ItemFn = match syn::parse2(item.clone()) {
        Ok(function) => function,
        Err(error) => {
            let error = syn::Error::new(
                error.span(),
                "#[instrument_lambda] goes on an `async fn` handler",
            );
            let error = error.to_compile_error();
            return quote!(#error #item);
        }
    };
    match syn::parse2::<Args>(args).and_then(|args| generate(args, function.clone())) {
        Ok(tokens) => tokens,
        Err(error) => {
            let error = error.to_compile_error();
            let mut function = function;
            signature::strip_markers(&mut function);
            quote!(#error #function)
        }
    }
}

/// How the body gets the event: the argument's name in the signature, and the statement
/// that binds the user's pattern inside the body (none when the name is the pattern).
fn bind_event(argument: &mut PatType) -> (Ident, Option<TokenStream>) {
    match &*argument.pat {
        Pat::Ident(PatIdent {
            by_ref: None,
            subpat: None,
            mutability,
            ident,
            ..
        }) => {
            let ident = ident.clone();
            let rebind = mutability.map(|mutability| {
                // The argument itself is only moved; the body's binding is the mutable one.
                quote!(let #mutability #ident = #ident;)
            });
            if let Pat::Ident(pat) = &mut *argument.pat {
                pat.mutability = None;
            }
            (ident, rebind)
        }
        pattern => {
            let pattern = pattern.clone();
            let event = Ident::new("__lambda_perf_event", Span::mixed_site());
            *argument.pat = syn::parse_quote!(#event);
            let rebind = quote! {
                #[allow(clippy::no_effect_underscore_binding)]
                let #pattern = #event;
            };
            (event, Some(rebind))
        }
    }
}

fn generate(args: Args, mut function: ItemFn) -> syn::Result<TokenStream> {
    let event_index = signature::check(&function)?;
    signature::strip_markers(&mut function);
    let (event, rebind, event_type_span) = match function.sig.inputs.iter_mut().nth(event_index) {
        Some(FnArg::Typed(typed)) => {
            let (event, rebind) = bind_event(typed);
            (event, rebind, typed.ty.span())
        }
        _ => unreachable!("signature::check returns a typed argument"),
    };

    let text = |value: Option<LitStr>| match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    };
    let flag = |value: Option<LitBool>| match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    };
    // Without `name`, the handler is named as PerfLayer names it: after the function.
    let (name, service, namespace) = (text(args.name), text(args.service), text(args.namespace));
    let (capture_response, capture_error, cold_start_metric) = (
        flag(args.capture_response),
        flag(args.capture_error),
        flag(args.cold_start_metric),
    );

    if let Some(path) = &args.redact {
        redact_names_no_generic(path, &function.sig.generics)?;
    }
    // The function is named where the handler is: a wrong signature is reported at it.
    let redact = match &args.redact {
        Some(path) => {
            quote_spanned!(path.span()=> ::core::option::Option::Some(#path as fn(_, _) -> _))
        }
        None => quote!(::core::option::Option::None),
    };

    let private = match &args.krate {
        Some(krate) => quote!(#krate::__private),
        None => quote!(::lambda_perf_core::__private),
    };
    let (output_type, return_edge) = match &function.sig.output {
        ReturnType::Type(_, ty) => {
            let mut ty = (**ty).clone();
            let whole_impl_trait = matches!(ty, Type::ImplTrait(_));
            InferImplTrait.visit_type_mut(&mut ty);
            let output_type = quote_spanned!(ty.span()=> #ty);
            // The async block's return type is fixed before the body is checked, so that an
            // early `return` coerces to the declared type (`return Err(Box::new(e))` for a
            // `Box<dyn Error>`) as it does in the `async fn` itself; and a return type that is
            // no `Result` (`-> Value`) is reported at it, in words, before what the expansion
            // calls fails on it too. Never runs.
            let return_edge = (!whole_impl_trait).then(|| {
                quote_spanned! {ty.span()=>
                    #[allow(
                        unknown_lints,
                        unreachable_code,
                        clippy::diverging_sub_expression,
                        clippy::empty_loop,
                        clippy::let_unit_value,
                        clippy::let_with_type_underscore,
                        clippy::needless_return,
                        clippy::unreachable
                    )]
                    if false {
                        let __lambda_perf_declared: #output_type = loop {};
                        #private::returns_result(&__lambda_perf_declared);
                        return __lambda_perf_declared;
                    }
                }
            });
            (output_type, return_edge)
        }
        ReturnType::Default => (quote!(()), None),
    };
    let body = &function.block;
    let body_span = body.span();
    let faas_trigger = match &args.faas_trigger {
        Some(variant) => quote!(::core::option::Option::Some(#private::FaasTrigger::#variant)),
        None => quote!(::core::option::Option::None),
    };
    // An argument that is no Lambda event is reported at its type.
    // The hook is named here, in the function, not in the static: `Self` is in scope.
    let begin = quote_spanned! {event_type_span=>
        #private::begin(&__LAMBDA_PERF_HANDLER, #redact, &#event)
    };
    let new_body = quote_spanned! {body_span=>
        {
            static __LAMBDA_PERF_HANDLER: #private::Handler = #private::Handler::new(#private::Options {
                name: #name,
                service: #service,
                namespace: #namespace,
                capture_response: #capture_response,
                capture_error: #capture_error,
                cold_start_metric: #cold_start_metric,
                faas_trigger: #faas_trigger,
            });
            #[allow(clippy::used_underscore_binding)]
            let __lambda_perf_begun = #begin;
            // What the event is decides how the response is captured, as in `PerfLayer`: a
            // `lambda_http` handler's response as its status.
            #[allow(clippy::used_underscore_binding)]
            let __lambda_perf_kind = {
                #[allow(unused_imports)]
                use #private::{KindHttp as _, KindOther as _};
                (&&#private::Probe(&#event)).lambda_perf_kind()
            };
            // The body's value is bound with the declared return type, so a mismatch is
            // reported at the user's expression. A body ending in `return` makes the final
            // `return` unreachable, which is not the user's doing: only that statement allows it.
            let __lambda_perf_body = async move {
                #return_edge
                {
                    #[allow(unused_imports)]
                    use #private::{LogEventOpaque as _, LogEventSerialize as _};
                    #[allow(clippy::used_underscore_binding)]
                    let __lambda_perf_probe = #private::Probe(&#event);
                    (&&__lambda_perf_probe).lambda_perf_log_event();
                }
                #rebind
                #[allow(clippy::let_and_return, clippy::diverging_sub_expression)]
                let __lambda_perf_output: #output_type = #body;
                #[allow(unreachable_code, clippy::needless_return)]
                return __lambda_perf_output;
            };
            #private::instrument(
                __lambda_perf_begun,
                __lambda_perf_kind,
                __lambda_perf_body,
                |response, out| {
                    #[allow(unused_imports)]
                    use #private::{
                        CaptureHttp as _, CaptureHttpStatus as _, CaptureNothing as _,
                        CaptureSerialize as _,
                    };
                    (&&&&response).lambda_perf_capture(out)
                },
                |error| {
                    #[allow(unused_imports)]
                    use #private::{DescribeDebug as _, DescribeKnown as _, DescribeType as _};
                    (&&&#private::Probe(error)).lambda_perf_describe()
                },
            )
            .await
        }
    };
    function.block = syn::parse2(new_body)?;
    Ok(quote!(#function))
}

/// Fails if the `redact` path names one of the handler's generic parameters (`P::redact`,
/// `mask::<T>`): the handler's configuration, hook included, is made once, at its first call,
/// for all its instantiations, so a hook that differs between them cannot be honoured.
fn redact_names_no_generic(path: &syn::Path, generics: &syn::Generics) -> syn::Result<()> {
    fn find(tokens: TokenStream, names: &[Ident]) -> Option<Ident> {
        tokens.into_iter().find_map(|token| match token {
            proc_macro2::TokenTree::Ident(ident) => names.contains(&ident).then_some(ident),
            proc_macro2::TokenTree::Group(group) => find(group.stream(), names),
            _ => None,
        })
    }
    let names: Vec<Ident> = generics
        .type_params()
        .map(|param| param.ident.clone())
        .chain(generics.const_params().map(|param| param.ident.clone()))
        .collect();
    match find(quote!(#path), &names) {
        Some(ident) => Err(syn::Error::new(
            ident.span(),
            format!(
                "`redact` cannot name the handler's generic parameter `{ident}`: the handler's \
                 configuration is made once for all its instantiations; name a function that \
                 does not depend on it"
            ),
        )),
        None => Ok(()),
    }
}

/// Replaces `impl Trait` by `_`, which a type annotation may leave to inference.
struct InferImplTrait;

impl VisitMut for InferImplTrait {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::ImplTrait(_) = ty {
            *ty = Type::Infer(syn::TypeInfer {
                underscore_token: Default::default(),
            });
        } else {
            syn::visit_mut::visit_type_mut(self, ty);
        }
    }
}
