//! `OTEL_EXPORTER_OTLP_(TRACES_)COMPRESSION`: `gzip` and `none`, which `otlp`'s own client
//! applies, and `zstd`, which only `opentelemetry-otlp`'s exporter can, with its `zstd-http`
//! feature. lambda-perf leaves that feature off, but another crate of the function's build may
//! turn it on (Cargo unifies features): the exporter then compresses by the variable itself,
//! and the client sends its body as it made it (see `outputs/otel/collector_client.rs`). So
//! `zstd` is a value that cannot be used, warned about and treated as unset, only in a build
//! whose exporter cannot compress it.

use super::{first_valid, vars};

/// Whether `otlp`'s client gzips its exports, as the variables say (`false` when unset). A
/// `zstd` the exporter compresses itself (`exporter_compresses_zstd`, asked only of such a
/// value) is taken: the client leaves the body to it. Any other value that is neither `gzip`
/// nor `none` is treated as unset, with a warning.
pub(super) fn otlp_gzip(
    present: &dyn Fn(&str) -> Option<String>,
    exporter_compresses_zstd: &dyn Fn() -> bool,
    warnings: &mut Vec<String>,
) -> bool {
    first_valid(
        present,
        [vars::OTLP_TRACES_COMPRESSION, vars::OTLP_COMPRESSION],
        |var, value| match value.trim() {
            value if value.eq_ignore_ascii_case("gzip") => Ok(true),
            value if value.eq_ignore_ascii_case("none") => Ok(false),
            value if value.eq_ignore_ascii_case("zstd") => {
                if exporter_compresses_zstd() {
                    Ok(false)
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
    )
    .unwrap_or(false)
}

/// Whether this build's OTLP exporter compresses `zstd` itself: asked once per process of the
/// exporter's builder, which refuses a zstd compression without `zstd-http` (the builder
/// checks the compression before it would use the client, which never sends anything).
#[cfg(feature = "opentelemetry")]
pub(super) fn exporter_compresses_zstd() -> bool {
    use std::sync::OnceLock;

    use opentelemetry_otlp::{Compression, SpanExporter, WithExportConfig, WithHttpConfig};

    /// A client for the builder to hold: the probe's exporter never exports.
    #[derive(Debug)]
    struct NeverSends;

    #[async_trait::async_trait]
    impl opentelemetry_http::HttpClient for NeverSends {
        async fn send_bytes(
            &self,
            _: http::Request<bytes::Bytes>,
        ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
            Err("the zstd probe's client sends nothing".into())
        }
    }

    static ANSWER: OnceLock<bool> = OnceLock::new();
    *ANSWER.get_or_init(|| {
        SpanExporter::builder()
            .with_http()
            .with_http_client(NeverSends)
            .with_endpoint(super::DEFAULT_OTLP_ENDPOINT)
            .with_compression(Compression::Zstd)
            .build()
            .is_ok()
    })
}

/// Without the `opentelemetry` feature no exporter compresses anything.
#[cfg(not(feature = "opentelemetry"))]
pub(super) fn exporter_compresses_zstd() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(pairs: &[(&str, &str)], zstd: bool) -> (bool, Vec<String>) {
        let present = |name: &str| {
            pairs
                .iter()
                .find(|(var, _)| *var == name)
                .map(|(_, value)| (*value).to_owned())
        };
        let mut warnings = Vec::new();
        let gzip = otlp_gzip(&present, &|| zstd, &mut warnings);
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
        assert!(!exporter_compresses_zstd());
    }
}
