//! X-Ray: the subsegment document and its serializer, annotation values and their rules,
//! ids, names and the trace header.

pub(crate) mod annotation;
mod datagram;
pub(crate) mod document;
mod error;
pub(crate) mod header;
pub(crate) mod id;
pub(crate) mod kept_annotations;
pub(crate) mod metadata_name;
pub(crate) mod metadata_value;
pub(crate) mod name;
mod name_chars;

pub use self::annotation::AnnotationValue;
pub use self::document::{Http, Namespace, SubsegmentDocument};
pub use self::error::XRayError;
pub use self::header::{Sampled, TraceHeader};
