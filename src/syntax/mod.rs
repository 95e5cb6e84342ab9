//! Source text → AST. The grammar lives in `grammar/policy.pest`; this module binds it
//! with pest and builds the [`ast`] with spans. Syntax errors are data
//! ([`SyntaxError`]) that point at a place in a file.

pub mod ast;
mod parser;

pub use parser::parse_rule_file;

use std::path::PathBuf;

/// The source files of a rule set, so that spans can be turned back into lines.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    files: Vec<SourceFile>,
}

/// One rule file: its path and text.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Its path as given (relative to the rules directory where possible).
    pub path: PathBuf,
    /// Its text, as read.
    pub text: String,
}

impl SourceMap {
    /// Adds a file; returns its index for [`ast::Span::file`].
    pub fn add(&mut self, path: PathBuf, text: String) -> usize {
        let index = self.files.len();
        self.files.push(SourceFile { path, text });
        index
    }

    /// The file with this index.
    pub fn file(&self, index: usize) -> Option<&SourceFile> {
        self.files.get(index)
    }

    /// Every file, in the order they were added.
    pub fn files(&self) -> &[SourceFile] {
        &self.files
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, span: ast::Span) -> (usize, usize) {
        let Some(file) = self.files.get(span.file) else {
            return (0, 0);
        };
        // A span from elsewhere may not fall on a character boundary: count up to the
        // last boundary at or before it.
        let mut end = span.start.min(file.text.len());
        while !file.text.is_char_boundary(end) {
            end = end.saturating_sub(1);
        }
        let upto = file.text.get(..end).unwrap_or_default();
        let line = upto.matches('\n').count() + 1;
        let col = upto.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, col)
    }
}

/// A rule file that does not follow the grammar.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct SyntaxError {
    /// What is wrong.
    pub message: crate::messages::Message,
    /// The source text the error points at.
    pub span: ast::Span,
    /// What to do about it.
    pub hint: Option<crate::messages::Message>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_of_a_span_inside_a_character_counts_up_to_it() {
        let mut sources = SourceMap::default();
        let file = sources.add(PathBuf::from("a.policy"), "a\n年龄".into());
        let at = |start| ast::Span {
            file,
            start,
            end: start,
        };
        assert_eq!(sources.line_col(at(2)), (2, 1));
        assert_eq!(sources.line_col(at(3)), (2, 1));
        assert_eq!(sources.line_col(at(5)), (2, 2));
        assert_eq!(sources.line_col(at(999)), (2, 3));
        assert_eq!(
            sources.line_col(ast::Span {
                file: 7,
                start: 0,
                end: 0
            }),
            (0, 0)
        );
    }
}
