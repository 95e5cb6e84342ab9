//! The language of the command's messages: `--lang zh|en`, else the locale of the
//! environment (`LC_ALL`, `LC_MESSAGES`, `LANG`: the first one set and not empty;
//! Chinese for a `zh…` locale), else English. Every text comes from the library's
//! message catalogue (`i18n/*/mianshen.ftl`); codes and JSON output are the same in
//! every language.

use mianshen::internals::messages;
use mianshen::Lang;
use std::sync::OnceLock;

/// `--lang`: the language of messages.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum LangArg {
    /// English.
    En,
    /// Chinese (中文).
    Zh,
}

static LANG: OnceLock<Lang> = OnceLock::new();

/// Sets the language of this run: the flag when given, else the environment's.
pub fn init(flag: Option<LangArg>) {
    let lang = match flag {
        Some(LangArg::En) => Lang::En,
        Some(LangArg::Zh) => Lang::Zh,
        None => from_env(),
    };
    let _ = LANG.set(lang);
}

/// The language of this run's messages.
pub fn lang() -> Lang {
    LANG.get().copied().unwrap_or_default()
}

/// The language of the environment's locale: the first of `LC_ALL`, `LC_MESSAGES`
/// and `LANG` that is set and not empty; English when none is.
pub fn from_env() -> Lang {
    ["LC_ALL", "LC_MESSAGES", "LANG"]
        .iter()
        .filter_map(std::env::var_os)
        .map(|v| v.to_string_lossy().into_owned())
        .find(|v| !v.is_empty())
        .map_or(Lang::En, |v| Lang::from_locale(&v))
}

/// The message `id` of the catalogue in this run's language, with plain-text
/// arguments.
pub fn t(id: &'static str, args: &[(&'static str, &str)]) -> String {
    messages::text(lang(), id, args)
}
