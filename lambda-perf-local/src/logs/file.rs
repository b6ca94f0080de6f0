//! The files `lambda-perf logs` reads: a file's bytes as text (gzip decompressed, UTF-16
//! decoded), and a directory as the files under it (an export to Amazon S3, downloaded).

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use flate2::bufread::GzDecoder;

/// One log file: its name and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    /// The name shown in locations (its path). Under a directory laid out as an export to
    /// Amazon S3 (`…/2025/01/02/[$LATEST]0123abcd/000000.gz`), it also names the log stream
    /// of the events that do not name their own.
    pub name: String,
    /// Its text.
    pub text: String,
}

/// The path that names standard input.
pub(crate) const STDIN: &str = "-";

/// The first bytes of a gzip file.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// How many layers of gzip a file is decompressed of, at most: Firehose's own over the
/// subscription's, and one more for a file gzipped by hand after it was downloaded.
const MAX_GZIP_LAYERS: usize = 3;

impl LogFile {
    /// Reads the file at `path`: gzip (an export to Amazon S3, or a subscription's delivery
    /// by Amazon Data Firehose), decompressed whatever its name; then UTF-8, or UTF-16 with
    /// its byte order mark (what Windows PowerShell's `>` writes). Invalid text is replaced,
    /// not an error; a gzip file that cannot be decompressed whole (cut short, damaged) is.
    /// Gzip in gzip is decompressed again: a Firehose stream whose source is a CloudWatch
    /// Logs subscription, and whose destination compresses too, compresses its records (gzip
    /// already) a second time.
    ///
    /// The path `-` is standard input (named `stdin`): `aws logs tail … | lambda-perf logs -`.
    pub fn read(path: &Path) -> io::Result<Self> {
        let (name, mut bytes) = if path == Path::new(STDIN) {
            let mut bytes = Vec::new();
            io::stdin().lock().read_to_end(&mut bytes)?;
            ("stdin".to_owned(), bytes)
        } else {
            (path.display().to_string(), std::fs::read(path)?)
        };
        for _ in 0..MAX_GZIP_LAYERS {
            if !bytes.starts_with(&GZIP_MAGIC) {
                break;
            }
            bytes = gunzip(&bytes)?;
        }
        Ok(Self {
            name,
            text: decode(&bytes),
        })
    }

    /// Reads `path`, or, when it is a directory, every file under it, in the order of their
    /// paths (names starting with `.` left out); an error names the path it is about.
    pub(crate) fn read_all(path: &Path) -> Result<Vec<Self>, (String, io::Error)> {
        let named = |path: &Path, error| (path.display().to_string(), error);
        if !path.is_dir() {
            return Self::read(path)
                .map(|file| vec![file])
                .map_err(|e| named(path, e));
        }
        let mut paths = Vec::new();
        files_under(path, &mut paths).map_err(|(at, error)| named(&at, error))?;
        if paths.is_empty() {
            let error = io::Error::new(io::ErrorKind::NotFound, "a directory with no files in it");
            return Err(named(path, error));
        }
        paths.sort();
        paths
            .iter()
            .map(|file| Self::read(file).map_err(|e| named(file, e)))
            .collect()
    }
}

/// Adds the files under `dir` to `out`, descending into its directories (not into links to
/// directories, which could loop); names starting with `.` are left out.
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), (PathBuf, io::Error)> {
    let entries = std::fs::read_dir(dir).map_err(|error| (dir.to_owned(), error))?;
    for entry in entries {
        let entry = entry.map_err(|error| (dir.to_owned(), error))?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let kind = entry.file_type().map_err(|error| (path.clone(), error))?;
        if kind.is_dir() {
            files_under(&path, out)?;
        } else if path.is_file() {
            out.push(path);
        }
    }
    Ok(())
}

/// How many times its size a gzip file may expand to: log text compresses about ten times,
/// and gzip at most about a thousand (runs of one byte), which only a file made to exhaust
/// memory reaches.
const MAX_EXPANSION: u64 = 200;

/// What any gzip file may expand to, however small: 64 MiB.
const MIN_EXPANSION_LIMIT: u64 = 64 << 20;

/// The bytes of a gzip file, every member of it (Firehose writes one per record), the
/// whitespace between two members skipped (Firehose's newline delimiter, appended to each
/// record when the stream is set to add one). A file that expands past
/// [`MAX_EXPANSION`] times its size (and past [`MIN_EXPANSION_LIMIT`]) is an error, found
/// before its text fills memory.
fn gunzip(bytes: &[u8]) -> io::Result<Vec<u8>> {
    let damaged = |error: io::Error| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "a gzip file that cannot be decompressed whole (cut short or damaged): {error}"
            ),
        )
    };
    let compressed = bytes.len() as u64;
    let limit = compressed
        .saturating_mul(MAX_EXPANSION)
        .max(MIN_EXPANSION_LIMIT);
    let mut rest = bytes;
    let mut out = Vec::new();
    loop {
        let room = limit - out.len() as u64;
        let mut member = GzDecoder::new(rest).take(room + 1);
        member.read_to_end(&mut out).map_err(damaged)?;
        if out.len() as u64 > limit {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "a gzip file of {compressed} bytes that expands to more than {limit} \
                     ({MAX_EXPANSION} times its size; log text compresses about ten times): \
                     not read"
                ),
            ));
        }
        rest = member.into_inner().into_inner().trim_ascii_start();
        if rest.is_empty() {
            return Ok(out);
        }
    }
}

/// The text of a file's bytes: UTF-16 when they start with its byte order mark, else UTF-8
/// (a UTF-8 byte order mark is left for [`read_file`](super::input::read_file) to skip).
fn decode(bytes: &[u8]) -> String {
    let utf16 = |unit: fn([u8; 2]) -> u16| {
        let units: Vec<u16> = bytes[2..]
            .chunks(2)
            .map(|pair| unit([pair[0], pair.get(1).copied().unwrap_or(0)]))
            .collect();
        String::from_utf16_lossy(&units)
    };
    match bytes {
        [0xFF, 0xFE, ..] => utf16(u16::from_le_bytes),
        [0xFE, 0xFF, ..] => utf16(u16::from_be_bytes),
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::GzEncoder;

    use super::*;

    fn gzip(text: &str) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn a_gzip_file_is_read_whatever_its_name_and_every_member_of_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("000000");
        let mut bytes = gzip("first line\n");
        bytes.extend(gzip("second line\n"));
        std::fs::write(&path, bytes).unwrap();
        let file = LogFile::read(&path).unwrap();
        assert_eq!(file.text, "first line\nsecond line\n");
    }

    #[test]
    fn a_gzip_file_cut_short_is_an_error_that_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("000000.gz");
        let whole = gzip(&"REPORT RequestId: r-1\n".repeat(100));
        std::fs::write(&path, &whole[..whole.len() / 2]).unwrap();
        let error = LogFile::read(&path).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(
            error.to_string().contains("cut short or damaged"),
            "{error}"
        );
    }

    /// A small file that expands to gigabytes (a "gzip bomb") is refused before its text
    /// fills memory; log text, which compresses about ten times, is read.
    #[test]
    fn a_gzip_file_that_expands_past_reason_is_an_error_that_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("000000.gz");
        // 80 MiB of one byte: about 80 KB compressed, a thousand times smaller.
        let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
        let block = vec![b'a'; 1 << 20];
        for _ in 0..80 {
            encoder.write_all(&block).unwrap();
        }
        let bomb = encoder.finish().unwrap();
        // The limit also holds over several members.
        let mut bytes = gzip("REPORT RequestId: r-1\n");
        bytes.extend(&bomb);
        std::fs::write(&path, &bytes).unwrap();
        let error = LogFile::read(&path).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(
            error.to_string().contains("expands to more than 67108864"),
            "{error}"
        );

        let text = "REPORT RequestId: r-1\tDuration: 1.00 ms\n".repeat(100_000);
        std::fs::write(&path, gzip(&text)).unwrap();
        assert_eq!(LogFile::read(&path).unwrap().text, text);
    }

    #[test]
    fn a_directory_is_every_file_under_it_in_path_order_hidden_ones_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let stream = dir.path().join("task/2025/01/02/[$LATEST]abc");
        std::fs::create_dir_all(&stream).unwrap();
        std::fs::write(stream.join("000001.gz"), gzip("b\n")).unwrap();
        std::fs::write(stream.join("000000.gz"), gzip("a\n")).unwrap();
        std::fs::write(dir.path().join(".DS_Store"), "hidden").unwrap();
        std::fs::write(dir.path().join("notes.txt"), "plain\n").unwrap();
        let files = LogFile::read_all(dir.path()).unwrap();
        let texts: Vec<&str> = files.iter().map(|file| file.text.as_str()).collect();
        assert_eq!(texts, ["plain\n", "a\n", "b\n"]);
        assert!(
            files[1].name.ends_with("[$LATEST]abc/000000.gz"),
            "{}",
            files[1].name
        );
        let empty = tempfile::tempdir().unwrap();
        let (at, error) = LogFile::read_all(empty.path()).unwrap_err();
        assert_eq!(at, empty.path().display().to_string());
        assert!(error.to_string().contains("no files"), "{error}");
    }

    #[test]
    fn a_firehose_delivery_with_a_newline_after_each_record_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("delivery");
        let mut bytes = gzip("{\"a\":1}");
        bytes.push(b'\n');
        bytes.extend(gzip("{\"b\":2}"));
        bytes.push(b'\n');
        std::fs::write(&path, bytes).unwrap();
        let file = LogFile::read(&path).unwrap();
        assert_eq!(file.text, "{\"a\":1}{\"b\":2}");
    }

    #[test]
    fn a_firehose_delivery_compressed_again_by_firehose_is_read() {
        // A stream with CloudWatch Logs as its source and GZIP compression set on its
        // destination compresses the records, gzip already, once more.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("delivery.gz");
        let mut records = gzip("{\"a\":1}");
        records.extend(gzip("{\"b\":2}"));
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(&records).unwrap();
        std::fs::write(&path, encoder.finish().unwrap()).unwrap();
        let file = LogFile::read(&path).unwrap();
        assert_eq!(file.text, "{\"a\":1}{\"b\":2}");
    }
}
