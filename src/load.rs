//! A rules directory → a compiled [`RuleSet`]: the schema (`schema.yaml`), every
//! `*.rules` file below the directory (in path order), parsed, checked and compiled.

use crate::check::{self, CheckedFile, Diagnostic, Severity};
use crate::compile::{self, RuleSet};
use crate::schema::Schema;
use crate::syntax::{self, SourceMap};
use std::path::{Path, PathBuf};

/// Why a rule set could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The schema is unusable.
    #[error("{path}: {source}")]
    Schema {
        /// The schema file.
        path: PathBuf,
        /// The cause.
        source: crate::schema::SchemaError,
    },
    /// Rule files have errors.
    #[error("the rule set has {} error(s)", .diagnostics.iter().filter(|d| d.severity == Severity::Error).count())]
    Diagnostics {
        /// Every finding.
        diagnostics: Vec<Diagnostic>,
        /// The sources, to render them.
        sources: SourceMap,
    },
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

/// Lists the `*.rules` files below `dir`, sorted by path.
fn rule_files(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
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
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rules") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Reads, parses and checks a rules directory.
pub fn check_dir(dir: &Path) -> Result<Checked, LoadError> {
    let schema_path = dir.join("schema.yaml");
    let schema_text = std::fs::read_to_string(&schema_path).map_err(|source| LoadError::Io {
        path: schema_path.clone(),
        source,
    })?;
    let schema = Schema::from_yaml(&schema_text).map_err(|source| LoadError::Schema {
        path: schema_path.clone(),
        source,
    })?;
    let mut texts = vec![];
    for path in rule_files(dir)? {
        let text = std::fs::read_to_string(&path).map_err(|source| LoadError::Io {
            path: path.clone(),
            source,
        })?;
        let shown = path.strip_prefix(dir).map_or(path.clone(), |p| dir.join(p));
        texts.push((shown, text));
    }
    Ok(check_sources(schema, &schema_text, texts))
}

/// Parses and checks rule sources against a schema (no file system).
pub fn check_sources(schema: Schema, schema_text: &str, texts: Vec<(PathBuf, String)>) -> Checked {
    let mut sources = SourceMap::default();
    let mut parsed = vec![];
    let mut diagnostics = vec![];
    for (path, text) in texts {
        let name = path.display().to_string();
        let idx = sources.add(path, text);
        let text = &sources.files()[idx].text;
        match syntax::parse_rule_file(text, idx) {
            Ok(file) => parsed.push((name, file)),
            Err(e) => diagnostics.push(Diagnostic {
                severity: Severity::Error,
                code: "syntax",
                message: e.message,
                span: Some(e.span),
                hint: e.hint,
            }),
        }
    }
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
