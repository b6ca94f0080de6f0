//! `OTEL_EXPORTER_OTLP_(TRACES_)COMPRESSION`: `gzip` and `none`, which `otlp`'s own client
//! applies, and `zstd`, which only `opentelemetry-otlp`'s exporter can, with its `zstd-http`
//! feature. lambda-perf leaves that feature off, but another crate of the function's build may
//! turn it on (Cargo unifies features): the exporter then compresses by the variable itself,
//! and the client sends its body as it made it (see `outputs/otel/collector_client.rs`). So
//! `zstd` is a value that cannot be used, warned about and treated as unset, only in a build
//! whose exporter cannot compress it.
//!
//! The exporter reads the variables by its own rules: a value it cannot apply (`gzip`
//! without `gzip-http`, a value with spaces around it) it passes over for the generic
//! variable's. With `zstd-http` on and `gzip-http` off, a traces `gzip` beside a generic
//! `zstd` is sent zstd-compressed; nothing here can make the exporter gzip, so where what the
//! collector gets differs from what the variables read here say, a warning names it.

use super::{first_valid, vars};

/// A compression `opentelemetry-otlp`'s exporter applies itself, given the feature for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Codec {
    /// With its `gzip-http` feature.
    Gzip,
    /// With its `zstd-http` feature.
    Zstd,
}

impl Codec {
    #[cfg(feature = "opentelemetry")]
    const fn name(self) -> &'static str {
        match self {
            Self::Gzip => "gzip",
            Self::Zstd => "zstd",
        }
    }
}

/// Whether `otlp`'s client gzips its exports, as the variables say (`false` when unset). A
/// `zstd` the exporter compresses itself (`exporter_compresses`, asked only of such a value)
/// is taken: the client leaves the body to it. Any other value that is neither `gzip` nor
/// `none` is treated as unset, with a warning.
///
/// The exporter reads the variables too, its own way, when this build lets it compress
/// (`gzip-http`, `zstd-http`): a value it cannot apply (`gzip` without `gzip-http`, or a value
/// with spaces around it) it passes over for the generic variable's, and what it compresses
/// then is what the collector gets. Where that differs from what the variables read here say,
/// a warning names what the exports really get.
pub(super) fn otlp_gzip(
    present: &dyn Fn(&str) -> Option<String>,
    exporter_compresses: &dyn Fn(Codec) -> bool,
    warnings: &mut Vec<String>,
) -> bool {
    let asked = first_valid(
        present,
        [vars::OTLP_TRACES_COMPRESSION, vars::OTLP_COMPRESSION],
        |var, value| match value.trim() {
            value if value.eq_ignore_ascii_case("gzip") => Ok((named(var), Some(Codec::Gzip))),
            value if value.eq_ignore_ascii_case("none") => Ok((named(var), None)),
            value if value.eq_ignore_ascii_case("zstd") => {
                if exporter_compresses(Codec::Zstd) {
                    Ok((named(var), Some(Codec::Zstd)))
                } else {
                    Err(format!(
                        "{var}={value:?} is neither gzip nor none (zstd needs \
                         opentelemetry-otlp's zstd-http feature in the function's build)"
                    ))
                }
            }
            _ => Err(format!("{var}={value:?} is neither gzip nor none")),
        },
        "exports are not compressed",
        warnings,
    );
    let gzip = matches!(asked, Some((_, Some(Codec::Gzip))));
    // Only an exporter compresses by its own reading: without the `opentelemetry` feature
    // there is none.
    #[cfg(feature = "opentelemetry")]
    warn_of_the_exporters_choice(present, exporter_compresses, asked, gzip, warnings);
    gzip
}

/// The warning of [`otlp_gzip`] where what the exporter compresses with by its own reading
/// differs from what the variables read here say (`asked`, with the variable it came from;
/// `gzip`: the client gzips).
#[cfg(feature = "opentelemetry")]
fn warn_of_the_exporters_choice(
    present: &dyn Fn(&str) -> Option<String>,
    exporter_compresses: &dyn Fn(Codec) -> bool,
    asked: Option<(&'static str, Option<Codec>)>,
    gzip: bool,
    warnings: &mut Vec<String>,
) {
    let by_exporter = exporters_choice(present, exporter_compresses);
    // What the collector gets: the exporter's compression, else the client's gzip.
    let sent = match by_exporter {
        Some((_, codec)) => Some(codec),
        None if gzip => Some(Codec::Gzip),
        None => None,
    };
    if let Some((var, _)) = asked.filter(|(_, codec)| *codec != sent) {
        let value = present(var).unwrap_or_default();
        let sent = sent.map_or("not compressed", |codec| match codec {
            Codec::Gzip => "compressed with gzip",
            Codec::Zstd => "compressed with zstd",
        });
        let exporter = match by_exporter {
            Some((exporters_var, codec)) => format!(
                "opentelemetry-otlp's exporter, which compresses exports itself in this build \
                 ({}-http), reads {exporters_var}={:?} instead",
                codec.name(),
                present(exporters_var).unwrap_or_default()
            ),
            None => "opentelemetry-otlp's exporter does not take it".to_owned(),
        };
        warnings.push(format!(
            "{var}={value:?} is not what exports get: {exporter} (it takes `none`, `gzip` or \
             `zstd` without spaces around them, gzip and zstd only with its gzip-http or \
             zstd-http feature, and otherwise goes on to {}); exports are {sent}",
            vars::OTLP_COMPRESSION
        ));
    }
}

/// The compression variable `var` names.
fn named(var: &str) -> &'static str {
    if var == vars::OTLP_TRACES_COMPRESSION {
        vars::OTLP_TRACES_COMPRESSION
    } else {
        vars::OTLP_COMPRESSION
    }
}

/// What the exporter compresses with by the variables, as `opentelemetry-otlp` reads them
/// (`resolve_compression_from_env`): the signal's variable, then the generic one; `none` in
/// any case stops there; `gzip` or `zstd` (any case, no spaces around it) is taken if this
/// build's exporter compresses it, else, as any other value, passed over. With the variable
/// it came from.
#[cfg(feature = "opentelemetry")]
fn exporters_choice(
    present: &dyn Fn(&str) -> Option<String>,
    exporter_compresses: &dyn Fn(Codec) -> bool,
) -> Option<(&'static str, Codec)> {
    for var in [vars::OTLP_TRACES_COMPRESSION, vars::OTLP_COMPRESSION] {
        let Some(value) = present(var) else {
            continue;
        };
        if value.eq_ignore_ascii_case("none") {
            return None;
        }
        let codec = match value.to_ascii_lowercase().as_str() {
            "gzip" => Codec::Gzip,
            "zstd" => Codec::Zstd,
            _ => continue,
        };
        if exporter_compresses(codec) {
            return Some((var, codec));
        }
    }
    None
}

/// Whether this build's OTLP exporter compresses with `codec` itself: asked once per process
/// and codec of the exporter's builder, which refuses a compression without its feature
/// (`gzip-http`, `zstd-http`; the builder checks the compression before it would use the
/// client, which never sends anything).
///
/// The answer is the build's alone: whatever else the builder would read from the
/// environment and could refuse is given here, as the `otlp` exporter is given it
/// (`outputs/otel/otlp.rs`). The endpoint (a malformed `OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT`
/// fails the build) and the protocol (`OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL=grpc` fails an
/// HTTP exporter's build once a crate of the function's build turns on the exporter's
/// `grpc-tonic`); the compression given wins over its variables, and the headers and timeout
/// it still reads fail nothing.
#[cfg(feature = "opentelemetry")]
pub(super) fn exporter_compresses(codec: Codec) -> bool {
    use std::sync::OnceLock;

    use opentelemetry_otlp::{
        Compression, Protocol, SpanExporter, WithExportConfig, WithHttpConfig,
    };

    /// A client for the builder to hold: the probe's exporter never exports.
    #[derive(Debug)]
    struct NeverSends;

    #[async_trait::async_trait]
    impl opentelemetry_http::HttpClient for NeverSends {
        async fn send_bytes(
            &self,
            _: http::Request<bytes::Bytes>,
        ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
            Err("the compression probe's client sends nothing".into())
        }
    }

    static GZIP: OnceLock<bool> = OnceLock::new();
    static ZSTD: OnceLock<bool> = OnceLock::new();
    let (answer, compression) = match codec {
        Codec::Gzip => (&GZIP, Compression::Gzip),
        Codec::Zstd => (&ZSTD, Compression::Zstd),
    };
    *answer.get_or_init(|| {
        SpanExporter::builder()
            .with_http()
            .with_http_client(NeverSends)
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(super::DEFAULT_OTLP_ENDPOINT)
            .with_compression(compression)
            .build()
            .is_ok()
    })
}

/// Without the `opentelemetry` feature no exporter compresses anything.
#[cfg(not(feature = "opentelemetry"))]
pub(super) fn exporter_compresses(_: Codec) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)], zstd: bool) -> (bool, Vec<String>) {
        read_with(pairs, &[Codec::Zstd][..usize::from(zstd)])
    }

    /// What the variables `pairs` make of the client's gzip, and the warnings, with an
    /// exporter that compresses `codecs` itself.
    fn read_with(pairs: &[(&str, &str)], codecs: &[Codec]) -> (bool, Vec<String>) {
        let present = |name: &str| {
            pairs
                .iter()
                .find(|(var, _)| *var == name)
                .map(|(_, value)| (*value).to_owned())
        };
        let mut warnings = Vec::new();
        let gzip = otlp_gzip(&present, &|codec| codecs.contains(&codec), &mut warnings);
        (gzip, warnings)
    }

    /// An exporter built with `zstd-http` compresses a `zstd` of the variables itself: no
    /// warning says the exports go uncompressed, and the client does not gzip on top (nor
    /// reads the generic variable the exporter does not read either).
    #[test]
    fn zstd_is_taken_when_the_exporter_compresses_it() {
        for pairs in [
            vec![("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd")],
            vec![
                ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "ZSTD"),
                ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ],
        ] {
            assert_eq!(read(&pairs, true), (false, Vec::new()), "{pairs:?}");
        }
    }

    /// Without `zstd-http` a `zstd` is a value that cannot be used: treated as unset, with a
    /// warning that says what would compress it.
    #[test]
    fn zstd_is_warned_about_when_the_exporter_cannot_compress_it() {
        let (gzip, warnings) = read(&[("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd")], false);
        assert!(!gzip);
        assert_eq!(
            warnings,
            [
                "OTEL_EXPORTER_OTLP_COMPRESSION=\"zstd\" is neither gzip nor none (zstd needs \
                 opentelemetry-otlp's zstd-http feature in the function's build); exports are \
                 not compressed"
            ]
        );
        let (gzip, warnings) = read(
            &[
                ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "zstd"),
                ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ],
            false,
        );
        assert!(gzip);
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(
            warnings[0].ends_with("; OTEL_EXPORTER_OTLP_COMPRESSION is used"),
            "{warnings:#?}"
        );
        // Asked only of a zstd.
        let (gzip, warnings) = read(&[("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")], false);
        assert!(gzip && warnings.is_empty());
    }

    /// The probe asks the exporter's builder: no crate of this workspace turns `zstd-http`
    /// on (there is no `zstd` in its lock file), so the exporter here cannot compress zstd.
    #[test]
    fn the_probe_finds_no_zstd_in_this_build() {
        assert!(!exporter_compresses(Codec::Zstd));
    }

    /// Nor gzip: no crate of this workspace turns `gzip-http` on, and the client gzips.
    #[test]
    fn the_probe_finds_no_gzip_in_this_build() {
        assert!(!exporter_compresses(Codec::Gzip));
    }

    /// The exporter passes over a value it cannot apply for the generic variable's: with
    /// `zstd-http` and without `gzip-http`, a traces `gzip` beside a generic `zstd` sends
    /// zstd. That is said, naming what the exports get, rather than left to the exporter's
    /// own warning, which a function does not see.
    #[test]
    #[cfg(feature = "opentelemetry")]
    fn a_compression_the_exporter_passes_over_for_the_generic_one_is_warned_about() {
        let pairs = [
            ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"),
        ];
        let (_, warnings) = read_with(&pairs, &[Codec::Zstd]);
        assert_eq!(
            warnings,
            [
                "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION=\"gzip\" is not what exports get: \
                 opentelemetry-otlp's exporter, which compresses exports itself in this build \
                 (zstd-http), reads OTEL_EXPORTER_OTLP_COMPRESSION=\"zstd\" instead (it takes \
                 `none`, `gzip` or `zstd` without spaces around them, gzip and zstd only with \
                 its gzip-http or zstd-http feature, and otherwise goes on to \
                 OTEL_EXPORTER_OTLP_COMPRESSION); exports are compressed with zstd"
            ]
        );
        // Where the exporter applies what the variables say, or compresses nothing, nothing
        // is said.
        for codecs in [&[][..], &[Codec::Gzip], &[Codec::Gzip, Codec::Zstd]] {
            let (gzip, warnings) = read_with(&pairs, codecs);
            assert!(gzip, "{codecs:?}");
            assert_eq!(warnings, Vec::<String>::new(), "{codecs:?}");
        }
        // Spaces the client reads past and the exporter does not.
        let (gzip, warnings) = read_with(
            &[
                ("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", " none "),
                ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ],
            &[Codec::Gzip],
        );
        assert!(!gzip);
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(
            warnings[0].starts_with("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION=\" none \"")
                && warnings[0].ends_with("exports are compressed with gzip"),
            "{warnings:#?}"
        );
        let (_, warnings) = read_with(
            &[("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd ")],
            &[Codec::Zstd],
        );
        assert_eq!(warnings.len(), 1, "{warnings:#?}");
        assert!(
            warnings[0].contains("opentelemetry-otlp's exporter does not take it")
                && warnings[0].ends_with("exports are not compressed"),
            "{warnings:#?}"
        );
    }
}
