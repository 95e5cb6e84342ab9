//! A rules directory → a compiled [`RuleSet`]: the schema (`schema.yaml`), every
//! `*.rules` file below the directory (in path order), parsed, checked and compiled.

use crate::check::{self, code, CheckedFile, Diagnostic, Severity};
use crate::compile::{self, RuleSet};
use crate::messages::{msg, Lang};
use crate::schema::Schema;
use crate::syntax::{self, SourceMap};
use std::path::{Path, PathBuf};

/// Why a rule set could not be loaded: a file that cannot be read or is refused, a
/// schema that cannot be used, or rules with errors (every diagnostic).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A file of the rules directory is not one the engine reads: not a regular file (a
    /// FIFO, a socket, a device), or a symbolic link leading outside the directory.
    /// Its content is never read.
    #[error("{path}: {reason}")]
    Refused {
        /// The file.
        path: PathBuf,
        /// Why it is not read.
        reason: String,
    },
    /// A file is not UTF-8 text.
    #[error("{path}:{line}:{column}: not UTF-8 text (invalid byte 0x{byte:02x}); save the file as UTF-8")]
    Encoding {
        /// The file.
        path: PathBuf,
        /// 1-based line of the first invalid byte.
        line: usize,
        /// 1-based column (in characters) of the first invalid byte.
        column: usize,
        /// The invalid byte's value.
        byte: u8,
    },
    /// The schema is unusable.
    #[error("{path}: {source}")]
    Schema {
        /// The schema file.
        path: PathBuf,
        /// What is wrong with it, and where.
        source: crate::schema::SchemaError,
    },
    /// The rule files have errors: the rule set is refused.
    #[error("the rule set has {} error(s)", .diagnostics.iter().filter(|d| d.severity == Severity::Error).count())]
    Diagnostics {
        /// Every finding, errors and warnings, in file order.
        diagnostics: Vec<Diagnostic>,
        /// The rule files' texts, to render the diagnostics with
        /// [`Diagnostic::render`](crate::Diagnostic::render).
        sources: SourceMap,
    },
}

impl LoadError {
    /// The error in `lang` (its [`Display`](std::fmt::Display) is English). What comes
    /// from outside the engine — the operating system's error, the schema's and a
    /// refused file's reason — is shown as it is.
    ///
    /// ```
    /// use mianshen::{Lang, RuleSet};
    /// let e = RuleSet::load_dir("no/such/dir").unwrap_err();
    /// assert!(e.message_in(Lang::En).starts_with("cannot read no/such/dir: "));
    /// assert!(e.message_in(Lang::Zh).starts_with("无法读取 no/such/dir："));
    /// ```
    pub fn message_in(&self, lang: Lang) -> String {
        let m = match self {
            LoadError::Io { path, source } => msg!(
                "load--io",
                path = path.display().to_string(),
                error = source.to_string()
            ),
            LoadError::Refused { path, reason } => msg!(
                "load--refused",
                path = path.display().to_string(),
                reason = reason
            ),
            LoadError::Encoding {
                path,
                line,
                column,
                byte,
            } => msg!(
                "load--encoding",
                path = path.display().to_string(),
                line = *line,
                column = *column,
                byte = format!("{byte:02x}")
            ),
            LoadError::Schema { path, source } => msg!(
                "load--schema",
                path = path.display().to_string(),
                error = source.to_string()
            ),
            LoadError::Diagnostics { diagnostics, .. } => msg!(
                "load--diagnostics",
                errors = diagnostics
                    .iter()
                    .filter(|d| d.severity == Severity::Error)
                    .count()
            ),
        };
        m.render(lang)
    }
}

/// The result of checking a rules directory: the rule set when it is usable, and all
/// diagnostics with the sources to render them.
pub struct Checked {
    /// The compiled rule set, when there are no errors.
    pub rules: Option<RuleSet>,
    /// Every diagnostic.
    pub diagnostics: Vec<Diagnostic>,
    /// The rule files' sources.
    pub sources: SourceMap,
}

/// The files of a rules directory the engine may read.
///
/// * Only regular files are read; a FIFO, socket or device with a name the engine
///   reads (`*.rules`, `schema.yaml`, case files) is an error naming it, and is never
///   opened (its type is looked at first, and files are opened without blocking).
/// * Symbolic links are followed only when they lead to a file or directory inside the
///   rules directory (after resolving every link); a link leading outside it is an
///   error naming the link, and what it points to is never read. Each directory is
///   walked once (by its resolved path), so links back to a parent (`ln -s . x`)
///   cannot make the walk loop; a file reached by several paths is read once.
/// * A broken link or a link loop is an error naming the link.
pub struct RulesDir {
    /// The directory as given (paths shown are below it).
    dir: PathBuf,
    /// Its resolved path.
    root: PathBuf,
}

/// What an entry of the directory is, once links are resolved.
enum Entry {
    Dir(PathBuf),
    File(PathBuf),
    Other(&'static str),
}

fn kind_of(ft: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if ft.is_socket() {
            return "a socket";
        }
        if ft.is_block_device() || ft.is_char_device() {
            return "a device";
        }
    }
    let _ = ft;
    "not a regular file"
}

impl RulesDir {
    /// Opens a rules directory.
    pub fn new(dir: &Path) -> Result<Self, LoadError> {
        let root = std::fs::canonicalize(dir).map_err(|source| LoadError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        if !root.is_dir() {
            return Err(LoadError::Refused {
                path: dir.to_path_buf(),
                reason: "not a directory".into(),
            });
        }
        Ok(RulesDir {
            dir: dir.to_path_buf(),
            root,
        })
    }

    /// What `path` is, links resolved and refused when they lead outside.
    fn entry(&self, path: &Path) -> Result<Entry, LoadError> {
        let io = |source| LoadError::Io {
            path: path.to_path_buf(),
            source,
        };
        let meta = std::fs::symlink_metadata(path).map_err(io)?;
        let (resolved, meta) = if meta.file_type().is_symlink() {
            let target = std::fs::canonicalize(path).map_err(|e| LoadError::Refused {
                path: path.to_path_buf(),
                reason: format!("a symbolic link that cannot be resolved ({e})"),
            })?;
            if !target.starts_with(&self.root) {
                return Err(LoadError::Refused {
                    path: path.to_path_buf(),
                    reason: "a symbolic link leading outside the rules directory: not read".into(),
                });
            }
            let meta = std::fs::metadata(&target).map_err(io)?;
            (target, meta)
        } else {
            (
                std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()),
                meta,
            )
        };
        let ft = meta.file_type();
        Ok(if ft.is_dir() {
            Entry::Dir(resolved)
        } else if ft.is_file() {
            Entry::File(resolved)
        } else {
            Entry::Other(kind_of(&ft))
        })
    }

    /// The files below the directory (or below `sub` of it) whose name ends in one of
    /// `exts`, sorted by path; a file reached by several paths is listed once. Entries
    /// with other names are skipped without being opened.
    pub fn files(&self, sub: Option<&str>, exts: &[&str]) -> Result<Vec<PathBuf>, LoadError> {
        let start = match sub {
            Some(s) => self.dir.join(s),
            None => self.dir.clone(),
        };
        let mut found: Vec<(PathBuf, PathBuf)> = vec![];
        let mut visited = std::collections::HashSet::new();
        let mut stack = vec![start];
        while let Some(d) = stack.pop() {
            match self.entry(&d)? {
                Entry::Dir(real) => {
                    if !visited.insert(real) {
                        continue;
                    }
                }
                _ => continue,
            }
            let entries = std::fs::read_dir(&d).map_err(|source| LoadError::Io {
                path: d.clone(),
                source,
            })?;
            for entry in entries {
                let entry = entry.map_err(|source| LoadError::Io {
                    path: d.clone(),
                    source,
                })?;
                let path = entry.path();
                let wanted = path
                    .extension()
                    .is_some_and(|e| exts.iter().any(|x| e == *x));
                let ft = entry.file_type().map_err(|source| LoadError::Io {
                    path: path.clone(),
                    source,
                })?;
                if ft.is_dir() {
                    stack.push(path);
                    continue;
                }
                if !wanted && !ft.is_symlink() {
                    continue;
                }
                match self.entry(&path) {
                    Ok(Entry::Dir(_)) => stack.push(path),
                    Ok(Entry::File(real)) if wanted => found.push((path, real)),
                    Ok(Entry::Other(kind)) if wanted => {
                        return Err(LoadError::Refused {
                            path,
                            reason: format!("{kind}, not a regular file: not read"),
                        })
                    }
                    Ok(_) => {}
                    Err(e) if wanted => return Err(e),
                    // A link the engine would not read anyway.
                    Err(_) => {}
                }
            }
        }
        found.sort();
        let mut seen = std::collections::HashSet::new();
        found.retain(|(_, real)| seen.insert(real.clone()));
        Ok(found.into_iter().map(|(p, _)| p).collect())
    }

    /// Reads a text file of the directory: a regular file inside it (links resolved),
    /// opened without blocking, UTF-8 (a leading byte-order mark is dropped).
    pub fn read(&self, path: &Path) -> Result<String, LoadError> {
        match self.entry(path)? {
            Entry::File(_) => {}
            Entry::Dir(_) => {
                return Err(LoadError::Refused {
                    path: path.to_path_buf(),
                    reason: "a directory, not a file".into(),
                })
            }
            Entry::Other(kind) => {
                return Err(LoadError::Refused {
                    path: path.to_path_buf(),
                    reason: format!("{kind}, not a regular file: not read"),
                })
            }
        }
        read_regular_text(path)
    }
}

/// Reads a regular file as UTF-8 text, refusing anything else without blocking on it,
/// and dropping a leading byte-order mark.
pub fn read_regular_text(path: &Path) -> Result<String, LoadError> {
    use std::io::Read;
    let io = |source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(all(
        target_os = "linux",
        any(
            target_arch = "x86_64",
            target_arch = "x86",
            target_arch = "aarch64",
            target_arch = "arm",
            target_arch = "riscv64"
        )
    ))]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK: a FIFO put in the file's place after it was looked at cannot
        // make the open wait for a writer.
        options.custom_flags(0o4000);
    }
    let mut file = options.open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(LoadError::Refused {
            path: path.to_path_buf(),
            reason: format!(
                "{}, not a regular file: not read",
                kind_of(&meta.file_type())
            ),
        });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.read_to_end(&mut bytes).map_err(io)?;
    decode(path, bytes)
}

/// UTF-8 text of a file's bytes, without a leading byte-order mark; invalid UTF-8 is an
/// error giving the line and column of the first invalid byte.
pub fn decode(path: &Path, mut bytes: Vec<u8>) -> Result<String, LoadError> {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let good = bytes
            .get(..at)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or_default();
        let line = good.matches('\n').count() + 1;
        let column = good.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        LoadError::Encoding {
            path: path.to_path_buf(),
            line,
            column,
            byte: bytes.get(at).copied().unwrap_or_default(),
        }
    })
}

/// Reads, parses and checks a rules directory.
pub fn check_dir(dir: &Path) -> Result<Checked, LoadError> {
    let texts = read_dir_texts(dir)?;
    Ok(check_sources(texts.schema, &texts.schema_text, texts.files))
}

/// The texts of a rules directory, read safely: the schema and every rule file.
pub struct DirTexts {
    /// `schema.yaml`'s text.
    pub schema_text: String,
    /// The schema it defines.
    pub schema: Schema,
    /// Each rule file: its path (as shown in diagnostics) and text, in path order.
    pub files: Vec<(PathBuf, String)>,
}

/// Reads a rules directory's schema and rule files (links, FIFOs and the like refused
/// as [`RulesDir`] does), without parsing the rules.
pub fn read_dir_texts(dir: &Path) -> Result<DirTexts, LoadError> {
    let rd = RulesDir::new(dir)?;
    let schema_path = dir.join("schema.yaml");
    let schema_text = rd.read(&schema_path)?;
    let schema = Schema::from_yaml(&schema_text).map_err(|source| LoadError::Schema {
        path: schema_path.clone(),
        source,
    })?;
    let mut files = vec![];
    for path in rd.files(None, &["rules"])? {
        let text = rd.read(&path)?;
        let shown = path.strip_prefix(dir).map_or(path.clone(), |p| dir.join(p));
        files.push((shown, text));
    }
    Ok(DirTexts {
        schema_text,
        schema,
        files,
    })
}

/// Reads, parses and checks a rules directory with an overlay directory over it: the
/// overlay's parameters, policies, bundles and functions replace the base's items of
/// the same kind and name (a new one is added), so that a reform is written as a few
/// items rather than a copy of the whole rule set.
///
/// The schema is the base's: an overlay that has a `schema.yaml` must have the same
/// text (records are read one way). Only the overlay's `*.rules` files are read (its
/// cases are not); both directories are read with the safety of [`check_dir`]. The
/// version hash covers the base's and the overlay's files.
pub fn check_overlay(base: &Path, overlay: &Path) -> Result<Checked, LoadError> {
    let rd = RulesDir::new(base)?;
    let od = RulesDir::new(overlay)?;
    let schema_path = base.join("schema.yaml");
    let schema_text = rd.read(&schema_path)?;
    let schema = Schema::from_yaml(&schema_text).map_err(|source| LoadError::Schema {
        path: schema_path.clone(),
        source,
    })?;
    let overlay_schema = overlay.join("schema.yaml");
    if std::fs::symlink_metadata(&overlay_schema).is_ok() {
        let text = od.read(&overlay_schema)?;
        if text.trim_end() != schema_text.trim_end() {
            return Err(LoadError::Refused {
                path: overlay_schema,
                reason: format!(
                    "an overlay changes rules, not records: its schema.yaml must be the same as {} (or left out)",
                    schema_path.display()
                ),
            });
        }
    }
    let read = |dir: &Path, rd: &RulesDir| -> Result<Vec<(PathBuf, String)>, LoadError> {
        let mut texts = vec![];
        for path in rd.files(None, &["rules"])? {
            let text = rd.read(&path)?;
            let shown = path.strip_prefix(dir).map_or(path.clone(), |p| dir.join(p));
            texts.push((shown, text));
        }
        Ok(texts)
    };
    let layers = vec![read(base, &rd)?, read(overlay, &od)?];
    Ok(check_layers(schema, &schema_text, layers))
}

/// Loads a rules directory with an overlay over it ([`check_overlay`]).
pub fn load_overlay(base: &Path, overlay: &Path) -> Result<RuleSet, LoadError> {
    let checked = check_overlay(base, overlay)?;
    match checked.rules {
        Some(r) => Ok(r),
        None => Err(LoadError::Diagnostics {
            diagnostics: checked.diagnostics,
            sources: checked.sources,
        }),
    }
}

/// The kind and name of a top-level item, as an overlay replaces it.
fn item_key(item: &syntax::ast::Item) -> (&'static str, &str) {
    use syntax::ast::Item;
    match item {
        Item::Policy(p) => ("policy", &p.id.name),
        Item::Parameter(p) => ("parameter", &p.name.name),
        Item::Function(f) => ("function", &f.name.name),
        Item::Bundle(b) => ("bundle", &b.id.name),
        Item::Scale(x) => ("scale", &x.name.name),
    }
}

/// Parses and checks rule sources against a schema (no file system).
pub fn check_sources(schema: Schema, schema_text: &str, texts: Vec<(PathBuf, String)>) -> Checked {
    check_layers(schema, schema_text, vec![texts])
}

/// Parses and checks layers of rule sources against a schema: an item of a later layer
/// replaces the items of the same kind and name of the earlier ones.
fn check_layers(schema: Schema, schema_text: &str, layers: Vec<Vec<(PathBuf, String)>>) -> Checked {
    let mut sources = SourceMap::default();
    let mut parsed: Vec<(String, syntax::ast::RuleFile)> = vec![];
    let mut diagnostics = vec![];
    for texts in layers {
        let first = parsed.len();
        parse_layer(texts, &mut sources, &mut parsed, &mut diagnostics);
        let (earlier, later) = parsed.split_at_mut(first);
        let replaced: std::collections::HashSet<(&str, String)> = later
            .iter()
            .flat_map(|(_, f)| f.items.iter())
            .map(|i| {
                let (kind, name) = item_key(i);
                (kind, name.to_string())
            })
            .collect();
        if replaced.is_empty() {
            continue;
        }
        for (_, file) in earlier.iter_mut() {
            file.items.retain(|i| {
                let (kind, name) = item_key(i);
                !replaced.contains(&(kind, name.to_string()))
            });
        }
    }
    check_parsed(schema, schema_text, sources, parsed, diagnostics)
}

/// Parses one layer's files into `parsed`, syntax errors into `diagnostics`.
fn parse_layer(
    texts: Vec<(PathBuf, String)>,
    sources: &mut SourceMap,
    parsed: &mut Vec<(String, syntax::ast::RuleFile)>,
    diagnostics: &mut Vec<Diagnostic>,
) {
    for (path, text) in texts {
        let name = path.display().to_string();
        let idx = sources.add(path, text);
        let Some(text) = sources.files().get(idx).map(|f| &f.text) else {
            continue;
        };
        match syntax::parse_rule_file(text, idx) {
            Ok(file) => parsed.push((name, file)),
            Err(e) => {
                let d = Diagnostic::error(code::SYNTAX, e.span, e.message);
                diagnostics.push(match e.hint {
                    Some(h) => d.with_hint(h),
                    None => d,
                });
            }
        }
    }
}

/// Checks parsed rule files and compiles them when there are no errors.
fn check_parsed(
    schema: Schema,
    schema_text: &str,
    sources: SourceMap,
    parsed: Vec<(String, syntax::ast::RuleFile)>,
    mut diagnostics: Vec<Diagnostic>,
) -> Checked {
    let files: Vec<CheckedFile> = parsed
        .iter()
        .map(|(name, file)| CheckedFile {
            name: name.clone(),
            file,
        })
        .collect();
    let (program, diags) = check::check(&files, &schema);
    diagnostics.extend(diags);
    let has_error = diagnostics.iter().any(|d| d.severity == Severity::Error);
    let rules = match program {
        Some(p) if !has_error => {
            let mut all: Vec<&str> = vec![schema_text];
            all.extend(sources.files().iter().map(|f| f.text.as_str()));
            Some(compile::compile(p, schema, &all))
        }
        _ => None,
    };
    Checked {
        rules,
        diagnostics,
        sources,
    }
}

/// Loads a rules directory into a rule set, or the reason it cannot be used.
pub fn load_dir(dir: &Path) -> Result<RuleSet, LoadError> {
    let checked = check_dir(dir)?;
    match checked.rules {
        Some(r) => Ok(r),
        None => Err(LoadError::Diagnostics {
            diagnostics: checked.diagnostics,
            sources: checked.sources,
        }),
    }
}
